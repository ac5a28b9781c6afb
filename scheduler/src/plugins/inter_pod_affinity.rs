//! InterPodAffinity: places a pod relative to the pods already running, by their labels and
//! the topology (node, zone, ...) they run in, as Kubernetes'
//! `plugins/interpodaffinity` (`filtering.go`, `scoring.go`) does.
//!
//! Start at [`PreFilterState::compute`]: the pre-filter counts, once per cycle and per
//! topology pair (`zone=a`), the existing pods that match the incoming pod's required terms
//! and the existing pods whose required anti-affinity matches the incoming pod; the filter
//! then only looks the node's labels up in those counts. Scoring works the same way with the
//! preferred terms of both sides, summed per topology pair in [`PreScoreState`].
//!
//! # Namespaces of a term
//! A term selects pods in its `namespaces`, plus the namespaces its `namespaceSelector`
//! selects (`{}` selects every namespace; otherwise the namespaces whose labels match, from
//! the cycle's `NamespaceLabels`); with neither, the namespace of the pod that holds the term.
//!
//! `matchLabelKeys` and `mismatchLabelKeys` are not read: the apiserver has merged them into
//! the term's `labelSelector` when the pod was created.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use podium_api::selector::label::LabelSelector as Selector;
use podium_proto::k8s::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::matching;
use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NamespaceLabels, NodeInfo, PreFilterPlugin, PreScorePlugin, ScorePlugin,
    Status, namespace_labels,
};

pub const NAME: &str = "InterPodAffinity";

/// The node's topology domain has no pod matching the incoming pod's required affinity, or
/// the node lacks the term's topology label.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// The node's topology domain has a pod the incoming pod's required anti-affinity rejects.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod anti-affinity rules";
/// A pod in the node's topology domain has a required anti-affinity that rejects the
/// incoming pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// The score an existing pod's required affinity term gives to a pod it matches (Kubernetes'
/// `hardPodAffinityWeight` default), so pods that need each other are also drawn together.
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

/// The InterPodAffinity plugin.
pub struct InterPodAffinity;

fn namespace(pod: &Pod) -> &str {
    pod.metadata.as_ref().map_or("", |m| m.namespace.as_str())
}

fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.as_ref().map_or(&EMPTY, |m| &m.labels)
}

/// One pod (anti-)affinity term, parsed once (Kubernetes' `framework.AffinityTerm`).
struct AffinityTerm {
    /// `None` when the term has no `labelSelector` (or an invalid one): it matches no pod.
    selector: Option<Selector>,
    namespaces: Vec<String>,
    /// The term has `namespaceSelector: {}`, which selects every namespace.
    all_namespaces: bool,
    topology_key: String,
}

impl AffinityTerm {
    /// Parses `term`, held by `owner` (whose namespace is the default).
    fn new(owner: &Pod, term: &PodAffinityTerm, namespace_labels: &NamespaceLabels) -> Self {
        let mut namespaces = if term.namespaces.is_empty() && term.namespace_selector.is_none() {
            vec![namespace(owner).to_owned()]
        } else {
            term.namespaces.clone()
        };
        let all_namespaces = term
            .namespace_selector
            .as_ref()
            .is_some_and(|s| s.match_labels.is_empty() && s.match_expressions.is_empty());
        if !all_namespaces && let Some(selector) = matching::selector(term.namespace_selector.as_ref()) {
            let selected = namespace_labels.iter().filter(|(_, labels)| selector.matches(*labels));
            namespaces.extend(selected.map(|(name, _)| name.clone()));
        }
        AffinityTerm {
            selector: matching::selector(term.label_selector.as_ref()),
            namespaces,
            all_namespaces,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` is one of the pods this term selects (Kubernetes' `AffinityTerm.Matches`).
    fn matches(&self, pod: &Pod) -> bool {
        let in_namespace = self.all_namespaces || self.namespaces.iter().any(|n| n == namespace(pod));
        in_namespace && self.selector.as_ref().is_some_and(|s| s.matches(pod_labels(pod)))
    }
}

/// A preferred term with its weight (`1..=100`).
struct WeightedTerm {
    term: AffinityTerm,
    weight: i64,
}

/// The pod affinity and anti-affinity terms of one pod (the affinity part of Kubernetes'
/// `framework.PodInfo`).
#[derive(Default)]
struct PodTerms {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    preferred_affinity: Vec<WeightedTerm>,
    preferred_anti_affinity: Vec<WeightedTerm>,
}

impl PodTerms {
    fn new(pod: &Pod, namespaces: &NamespaceLabels) -> Self {
        let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
            return PodTerms::default();
        };
        let required =
            |terms: &[PodAffinityTerm]| terms.iter().map(|t| AffinityTerm::new(pod, t, namespaces)).collect();
        let preferred = |terms: &[WeightedPodAffinityTerm]| {
            terms
                .iter()
                .filter_map(|w| {
                    let term = w.pod_affinity_term.as_ref()?;
                    Some(WeightedTerm {
                        term: AffinityTerm::new(pod, term, namespaces),
                        weight: i64::from(w.weight),
                    })
                })
                .collect()
        };
        let mut terms = PodTerms::default();
        if let Some(a) = &affinity.pod_affinity {
            terms.required_affinity = required(&a.required_during_scheduling_ignored_during_execution);
            terms.preferred_affinity = preferred(&a.preferred_during_scheduling_ignored_during_execution);
        }
        if let Some(a) = &affinity.pod_anti_affinity {
            terms.required_anti_affinity = required(&a.required_during_scheduling_ignored_during_execution);
            terms.preferred_anti_affinity = preferred(&a.preferred_during_scheduling_ignored_during_execution);
        }
        terms
    }

    fn is_empty(&self) -> bool {
        self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty()
    }
}

/// Whether `pod` matches every term; false without terms (Kubernetes'
/// `podMatchesAllAffinityTerms`).
fn matches_all_terms(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod))
}

/// A number per topology pair (topology key, then value).
#[derive(Default)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    /// Adds `n` to the pair (`key`, the node's value for it); nothing when the node lacks the
    /// label.
    fn add(&mut self, node: &NodeInfo, key: &str, n: i64) {
        if let Some(value) = node.labels().get(key) {
            *self
                .0
                .entry(key.to_owned())
                .or_default()
                .entry(value.clone())
                .or_default() += n;
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|values| values.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the filter needs, computed once per cycle over every node (Kubernetes'
/// `preFilterState`).
struct PreFilterState {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    /// Per topology pair, the existing pods that match all the incoming pod's required
    /// affinity terms (counted once per term).
    affinity_counts: TopologyCounts,
    /// Per topology pair, the existing pods matching each required anti-affinity term of the
    /// incoming pod.
    anti_affinity_counts: TopologyCounts,
    /// Per topology pair, the required anti-affinity terms of existing pods that match the
    /// incoming pod.
    existing_anti_affinity_counts: TopologyCounts,
    /// The incoming pod matches all its own required affinity terms, so it may be the first
    /// of a group that wants to run together.
    matches_own_affinity: bool,
}

impl PreFilterState {
    fn compute(pod: &Pod, nodes: &[Arc<NodeInfo>], namespaces: &NamespaceLabels) -> Self {
        let terms = PodTerms::new(pod, namespaces);
        let mut state = PreFilterState {
            matches_own_affinity: matches_all_terms(&terms.required_affinity, pod),
            required_affinity: terms.required_affinity,
            required_anti_affinity: terms.required_anti_affinity,
            affinity_counts: TopologyCounts::default(),
            anti_affinity_counts: TopologyCounts::default(),
            existing_anti_affinity_counts: TopologyCounts::default(),
        };
        for node in nodes {
            for existing in &node.pods {
                let existing = existing.pod.as_ref();
                if matches_all_terms(&state.required_affinity, existing) {
                    for term in &state.required_affinity {
                        state.affinity_counts.add(node, &term.topology_key, 1);
                    }
                }
                for term in state.required_anti_affinity.iter().filter(|t| t.matches(existing)) {
                    state.anti_affinity_counts.add(node, &term.topology_key, 1);
                }
                for term in PodTerms::new(existing, namespaces)
                    .required_anti_affinity
                    .iter()
                    .filter(|t| t.matches(pod))
                {
                    state.existing_anti_affinity_counts.add(node, &term.topology_key, 1);
                }
            }
        }
        state
    }

    /// Kubernetes' `satisfyPodAffinity`: the node has every term's topology label, and each
    /// term's domain holds a matching pod, unless no pod in the cluster matches and the pod
    /// matches its own terms (the first pod of a group).
    fn satisfies_affinity(&self, node: &NodeInfo) -> bool {
        let mut pods_exist = true;
        for term in &self.required_affinity {
            let Some(value) = node.labels().get(&term.topology_key) else {
                return false;
            };
            if self.affinity_counts.get(&term.topology_key, value) <= 0 {
                pods_exist = false;
            }
        }
        pods_exist || (self.affinity_counts.is_empty() && self.matches_own_affinity)
    }

    /// Kubernetes' `satisfyPodAntiAffinity`: no term's domain on this node holds a pod the
    /// term matches.
    fn satisfies_anti_affinity(&self, node: &NodeInfo) -> bool {
        self.required_anti_affinity.iter().all(|term| {
            node.labels()
                .get(&term.topology_key)
                .is_none_or(|v| self.anti_affinity_counts.get(&term.topology_key, v) <= 0)
        })
    }

    /// Kubernetes' `satisfyExistingPodsAntiAffinity`: no existing pod rejects the incoming
    /// pod in any topology domain this node belongs to.
    fn satisfies_existing_anti_affinity(&self, node: &NodeInfo) -> bool {
        self.existing_anti_affinity_counts.is_empty()
            || node
                .labels()
                .iter()
                .all(|(k, v)| self.existing_anti_affinity_counts.get(k, v) <= 0)
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Status {
        let computed = PreFilterState::compute(pod, nodes, &namespace_labels(state));
        let nothing_to_check = computed.existing_anti_affinity_counts.is_empty()
            && computed.required_affinity.is_empty()
            && computed.required_anti_affinity.is_empty();
        // Written even when skipping, so a filter that runs anyway passes every node.
        state.write(PRE_FILTER_KEY, computed);
        if nothing_to_check {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!("reading {PRE_FILTER_KEY:?} from cycleState: not found"));
        };
        // Removing pods cannot make an affinity term match, so preemption cannot help here.
        if !s.satisfies_affinity(node) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_existing_anti_affinity(node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}

/// The score of every topology pair, summed over the terms of both sides (Kubernetes'
/// `preScoreState.topologyScore`).
struct PreScoreState {
    topology_score: TopologyCounts,
}

impl PreScoreState {
    /// Kubernetes' `processExistingPod`, for every pod on every node: the incoming pod's
    /// preferred terms that match the existing pod, and the existing pod's required affinity
    /// and preferred terms that match the incoming pod, each scored in the existing pod's
    /// topology domain.
    fn compute(pod: &Pod, nodes: &[Arc<NodeInfo>], namespaces: &NamespaceLabels) -> Self {
        let terms = PodTerms::new(pod, namespaces);
        let mut score = TopologyCounts::default();
        let mut add_weighted = |node: &NodeInfo, terms: &[WeightedTerm], target: &Pod, sign: i64| {
            for t in terms.iter().filter(|t| t.term.matches(target)) {
                score.add(node, &t.term.topology_key, sign * t.weight);
            }
        };
        for node in nodes.iter().filter(|n| !n.labels().is_empty()) {
            for existing in &node.pods {
                let existing = existing.pod.as_ref();
                add_weighted(node, &terms.preferred_affinity, existing, 1);
                add_weighted(node, &terms.preferred_anti_affinity, existing, -1);
                let existing_terms = PodTerms::new(existing, namespaces);
                if existing_terms.is_empty() {
                    continue;
                }
                let hard: Vec<WeightedTerm> = existing_terms
                    .required_affinity
                    .into_iter()
                    .map(|term| WeightedTerm {
                        term,
                        weight: HARD_POD_AFFINITY_WEIGHT,
                    })
                    .collect();
                add_weighted(node, &hard, pod, 1);
                add_weighted(node, &existing_terms.preferred_affinity, pod, 1);
                add_weighted(node, &existing_terms.preferred_anti_affinity, pod, -1);
            }
        }
        PreScoreState { topology_score: score }
    }
}

impl PreScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        feasible: &[Arc<NodeInfo>],
        all: &[Arc<NodeInfo>],
    ) -> Status {
        if feasible.is_empty() {
            return Status::skip();
        }
        let computed = PreScoreState::compute(pod, all, &namespace_labels(state));
        if computed.topology_score.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, computed);
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        2
    }

    /// The sum of the scores of the node's topology pairs; 0 when pre-score found nothing.
    fn score(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return 0;
        };
        node.labels().iter().map(|(k, v)| s.topology_score.get(k, v)).sum()
    }

    /// Kubernetes' min-max scaling: `100 * (score - min) / (max - min)`, 0 for all when they
    /// are equal. Scores can be negative (anti-affinity), hence not `default_normalize`.
    fn normalize(&self, state: &CycleState, _pod: &Pod, scores: &mut [i64]) {
        if state
            .read::<PreScoreState>(PRE_SCORE_KEY)
            .is_none_or(|s| s.topology_score.is_empty())
        {
            return;
        }
        let (Some(&min), Some(&max)) = (scores.iter().min(), scores.iter().max()) else {
            return;
        };
        let spread = max - min;
        for score in scores.iter_mut() {
            // Kubernetes computes in float64 and truncates; do the same so results agree.
            *score = if spread > 0 {
                (MAX_NODE_SCORE as f64 * ((*score - min) as f64 / spread as f64)) as i64
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests;
