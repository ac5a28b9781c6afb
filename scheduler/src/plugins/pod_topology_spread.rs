//! PodTopologySpread: spreads the pods a selector matches evenly over topology domains
//! (zones, nodes, ...), as Kubernetes' `plugins/podtopologyspread` (`filtering.go`,
//! `scoring.go`) does.
//!
//! `DoNotSchedule` constraints filter: the pre-filter counts the matching pods per domain
//! over the eligible nodes ([`PreFilterState::compute`]), and a node fails when placing the
//! pod there would make its domain exceed the global minimum by more than `maxSkew`.
//! `ScheduleAnyway` constraints score: fewer matching pods in the node's domain is better
//! ([`PreScoreState::compute`], then the reversed normalisation).
//!
//! Only the pod's own constraints apply: the cluster-level default constraints Kubernetes
//! derives from the pod's Services and ReplicaSets are not implemented.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use podium_api::selector::label::{LabelSelector as Selector, Operator, Requirement};
use podium_proto::k8s::core::v1::{Node, Pod, TopologySpreadConstraint};

use super::matching;
use crate::framework::{
    CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, PodInfo, PreFilterPlugin, PreScorePlugin, ScorePlugin, Status,
};

pub const NAME: &str = "PodTopologySpread";

/// Placing the pod on the node would break a constraint's `maxSkew`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key, so it is in no domain.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The well-known label that makes every node its own domain; counted per node in `score`.
const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";

const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";

/// The PodTopologySpread plugin.
pub struct PodTopologySpread;

fn namespace(pod: &Pod) -> &str {
    pod.metadata.as_ref().map_or("", |m| m.namespace.as_str())
}

fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.as_ref().map_or(&EMPTY, |m| &m.labels)
}

/// One constraint of the pod, with defaults applied (Kubernetes' `topologySpreadConstraint`).
struct Constraint {
    max_skew: i64,
    topology_key: String,
    /// `None` when the constraint has no `labelSelector` (or an invalid one): it matches no
    /// pod.
    selector: Option<Selector>,
    /// 1 when unset.
    min_domains: i64,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's nodeSelector
    /// and required node affinity count.
    honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose NoSchedule and NoExecute
    /// taints the pod tolerates count.
    honor_node_taints: bool,
}

impl Constraint {
    fn new(pod: &Pod, c: &TopologySpreadConstraint) -> Self {
        Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector: with_match_label_keys(matching::selector(c.label_selector.as_ref()), &c.match_label_keys, pod),
            min_domains: c.min_domains.map_or(1, i64::from),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }

    /// Whether the node counts towards this constraint under its node inclusion policies
    /// (Kubernetes' `matchNodeInclusionPolicies`).
    fn includes(&self, pod: &Pod, node: &Node) -> bool {
        if self.honor_node_affinity && !matching::pod_matches_node_selector_and_affinity(pod, node) {
            return false;
        }
        if self.honor_node_taints {
            let taints = node.spec.as_ref().map_or(&[][..], |s| &s.taints);
            let tolerations = pod.spec.as_ref().map_or(&[][..], |s| &s.tolerations);
            if matching::untolerated_taint(taints, tolerations, &["NoSchedule", "NoExecute"]).is_some() {
                return false;
            }
        }
        true
    }

    /// The non-terminating pods of the incoming pod's namespace that the selector matches.
    /// Like Kubernetes' `countPodsMatchSelector`, an empty selector (`{}`) counts nothing.
    fn count_matching(&self, pods: &[Arc<PodInfo>], ns: &str) -> i64 {
        let Some(selector) = self.selector.as_ref().filter(|s| !s.is_empty()) else {
            return 0;
        };
        let matching = pods.iter().filter(|p| {
            let meta = p.pod.metadata.as_ref();
            meta.is_some_and(|m| m.deletion_timestamp.is_none() && m.namespace == ns)
                && selector.matches(pod_labels(&p.pod))
        });
        matching.count() as i64
    }

    /// Whether the selector matches `pod` (the incoming pod adds itself to the count).
    fn matches(&self, pod: &Pod) -> bool {
        self.selector.as_ref().is_some_and(|s| s.matches(pod_labels(pod)))
    }
}

/// Adds `key=value` for each of `keys` the pod has a label for (`matchLabelKeys`), as
/// Kubernetes' `mergeLabelSetWithSelector` does; an absent selector stays absent.
fn with_match_label_keys(selector: Option<Selector>, keys: &[String], pod: &Pod) -> Option<Selector> {
    let selector = selector?;
    let labels = pod_labels(pod);
    let extra: Vec<Requirement> = keys
        .iter()
        .filter_map(|k| Requirement::new(k.clone(), Operator::Equals, vec![labels.get(k)?.clone()]).ok())
        .collect();
    if extra.is_empty() {
        return Some(selector);
    }
    Some(Selector::from_requirements(
        extra
            .into_iter()
            .chain(selector.requirements().iter().cloned())
            .collect(),
    ))
}

/// The pod's constraints with `whenUnsatisfiable == action`.
fn constraints(pod: &Pod, action: &str) -> Vec<Constraint> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    spec.topology_spread_constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| Constraint::new(pod, c))
        .collect()
}

/// Whether the node has the topology key of every constraint.
fn has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    let labels = node.labels();
    constraints.iter().all(|c| labels.contains_key(&c.topology_key))
}

/// The `DoNotSchedule` constraints and their counts (Kubernetes' `preFilterState`).
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint, the matching pods per topology value, over the nodes that have every
    /// constraint's key and pass the constraint's inclusion policies. Its keys are the
    /// eligible domains.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint, the global minimum the skew is measured from, worked out once rather
    /// than per node (Kubernetes keeps it in `criticalPaths`).
    min_match: Vec<i64>,
}

impl PreFilterState {
    fn compute(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Self {
        let constraints = constraints(pod, "DoNotSchedule");
        let mut counts: Vec<HashMap<String, i64>> = constraints.iter().map(|_| HashMap::new()).collect();
        let ns = namespace(pod);
        for node in nodes.iter().filter(|n| has_all_keys(n, &constraints)) {
            for (c, counts) in constraints.iter().zip(&mut counts) {
                let Some(value) = node.labels().get(&c.topology_key) else {
                    continue;
                };
                if c.includes(pod, &node.node) {
                    *counts.entry(value.clone()).or_default() += c.count_matching(&node.pods, ns);
                }
            }
        }
        let min_match = constraints
            .iter()
            .zip(&counts)
            .map(|(c, counts)| min_match(c, counts))
            .collect();
        PreFilterState {
            constraints,
            counts,
            min_match,
        }
    }
}

/// The global minimum of a constraint: the smallest count over its eligible domains, or 0
/// when there are fewer domains than `minDomains` (Kubernetes' `minMatchNum`).
fn min_match(constraint: &Constraint, counts: &HashMap<String, i64>) -> i64 {
    if (counts.len() as i64) < constraint.min_domains {
        return 0;
    }
    // Without any domain (only possible with `minDomains` below 1), Kubernetes' critical
    // paths keep their MaxInt32 start, and every node passes.
    counts.values().copied().min().unwrap_or(i64::from(i32::MAX))
}

impl PreFilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Status {
        let computed = PreFilterState::compute(pod, nodes);
        let nothing_to_check = computed.constraints.is_empty();
        // Written even when skipping, so a filter that runs anyway passes every node.
        state.write(PRE_FILTER_KEY, computed);
        if nothing_to_check {
            Status::skip()
        } else {
            Status::success()
        }
    }
}

impl FilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    /// For each constraint: `count(node's domain) + (1 if the pod matches) - global minimum`
    /// must not exceed `maxSkew`.
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_KEY) else {
            return Status::error(format!("reading {PRE_FILTER_KEY:?} from cycleState: not found"));
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().get(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.matches(pod));
            let count = s.counts[i].get(value).copied().unwrap_or(0);
            if count + self_match - s.min_match[i] > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

/// The `ScheduleAnyway` constraints and their counts (Kubernetes' `preScoreState`).
struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Per constraint, the matching pods per topology value, for the domains of the feasible
    /// nodes. Hostname constraints are counted per node in `score` instead.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint, `ln(domains + 2)`, so that counts in many small domains (hosts) are
    /// not drowned by counts in few large ones (zones).
    weights: Vec<f64>,
    /// Feasible nodes lacking a constraint's key: scored 0.
    ignored: HashSet<String>,
    /// Whether each feasible node (in order, as `normalize` sees the scores) is ignored.
    ignored_positions: Vec<bool>,
}

impl PreScoreState {
    fn compute(pod: &Pod, feasible: &[Arc<NodeInfo>], all: &[Arc<NodeInfo>]) -> Self {
        let constraints = constraints(pod, "ScheduleAnyway");
        let mut counts: Vec<HashMap<String, i64>> = constraints.iter().map(|_| HashMap::new()).collect();
        let ignored_positions: Vec<bool> = feasible.iter().map(|n| !has_all_keys(n, &constraints)).collect();
        let mut ignored = HashSet::new();
        for (node, &skip) in feasible.iter().zip(&ignored_positions) {
            if skip {
                ignored.insert(node.name().to_owned());
                continue;
            }
            for (c, counts) in constraints.iter().zip(&mut counts) {
                match node.labels().get(&c.topology_key) {
                    Some(value) if c.topology_key != LABEL_HOSTNAME => {
                        counts.entry(value.clone()).or_insert(0);
                    }
                    _ => {}
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, counts)| {
                let domains = if c.topology_key == LABEL_HOSTNAME {
                    feasible.len() - ignored.len()
                } else {
                    counts.len()
                };
                (domains as f64 + 2.0).ln()
            })
            .collect();
        let ns = namespace(pod);
        for node in all.iter().filter(|n| has_all_keys(n, &constraints)) {
            for (c, counts) in constraints.iter().zip(&mut counts) {
                // Only domains of feasible nodes are scored; hostname ones are not in `counts`.
                let count = node.labels().get(&c.topology_key).and_then(|v| counts.get_mut(v));
                if let Some(count) = count.filter(|_| c.includes(pod, &node.node)) {
                    *count += c.count_matching(&node.pods, ns);
                }
            }
        }
        PreScoreState {
            constraints,
            counts,
            weights,
            ignored,
            ignored_positions,
        }
    }
}

impl PreScorePlugin for PodTopologySpread {
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
        if all.is_empty() {
            return Status::skip();
        }
        let computed = PreScoreState::compute(pod, feasible, all);
        if computed.constraints.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, computed);
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        2
    }

    /// The weighted count of matching pods in the node's domains (lower is better), plus
    /// `maxSkew - 1` per constraint to blur small differences, rounded.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return 0;
        };
        if s.ignored.contains(node.name()) {
            return 0;
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = node.labels().get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                c.count_matching(&node.pods, namespace(pod))
            } else {
                s.counts[i].get(value).copied().unwrap_or(0)
            };
            score += count as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    /// Kubernetes' reversed scaling: `100 * (max + min - score) / max` over the nodes not
    /// ignored, 100 for all when `max` is 0, and 0 for ignored nodes.
    fn normalize(&self, state: &CycleState, _pod: &Pod, scores: &mut [i64]) {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) else {
            return;
        };
        let ignored = |i: usize| s.ignored_positions.get(i).copied().unwrap_or(false);
        let counted = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| !ignored(*i))
            .map(|(_, &score)| score);
        let (min, max) = counted.fold((i64::MAX, 0), |(min, max), score| (min.min(score), max.max(score)));
        for (i, score) in scores.iter_mut().enumerate() {
            *score = if ignored(i) {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *score) / max
            };
        }
    }
}

#[cfg(test)]
mod tests;
