//! One scheduling attempt for one pod, with no IO: pre-filter, filter (in parallel, sampling
//! nodes in big clusters), pre-score, score, and pick the best node (randomly among ties).
//! Kubernetes' `schedule_one.go`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use podium_proto::k8s::core::v1::Pod;
use rand::Rng;
use rayon::prelude::*;

use crate::framework::{Code, CycleState, NAMESPACES_KEY, NamespaceLabels, NodeInfo, PodInfo, Profile, Status};

/// How many nodes to look at before settling, as Kubernetes' default adaptive
/// `percentageOfNodesToScore` does: all of them below 100, then a shrinking share (50% less
/// 1% per 125 nodes, at least 5%), never fewer than 100.
pub fn nodes_to_find(all: usize, percentage: u32) -> usize {
    const MIN_FEASIBLE: usize = 100;
    if all < MIN_FEASIBLE {
        return all;
    }
    let percentage = if percentage == 0 {
        (50 - (all / 125) as i64).max(5) as usize
    } else {
        (percentage as usize).min(100)
    };
    (all * percentage / 100).max(MIN_FEASIBLE).min(all)
}

/// Pods nominated to nodes by preemption, which lower-or-equal-priority pods must leave room
/// for.
pub type Nominated = HashMap<String, Vec<Arc<PodInfo>>>;

/// Why a pod fits nowhere: the verdict of each node that rejected it.
#[derive(Debug, Clone)]
pub struct FitError {
    pub num_nodes: usize,
    pub statuses: BTreeMap<String, Status>,
}

impl FitError {
    /// Kubernetes' message: "0/4 nodes are available: 1 node(s) had untolerated taint
    /// {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector."
    pub fn message(&self) -> String {
        if self.num_nodes == 0 {
            return "no nodes available to schedule pods".to_owned();
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for status in self.statuses.values() {
            for reason in &status.reasons {
                *counts.entry(reason.as_str()).or_default() += 1;
            }
        }
        let mut parts: Vec<String> = counts.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        parts.sort();
        format!("0/{} nodes are available: {}.", self.num_nodes, parts.join(", "))
    }

    /// Whether preemption could help on any node.
    pub fn preemption_may_help(&self) -> bool {
        self.statuses.values().any(|s| s.code == Code::Unschedulable)
    }
}

/// Where a pod goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: String,
    pub evaluated: usize,
    pub feasible: usize,
}

/// The scheduling algorithm over one profile.
pub struct Algorithm {
    pub profile: Profile,
    /// 0 = Kubernetes' adaptive default.
    pub percentage_of_nodes_to_score: u32,
    /// Where the next search starts, so sampling spreads over the cluster.
    next_start: AtomicUsize,
    /// The namespaces' labels, kept current by the scheduler, for namespace selectors.
    namespaces: parking_lot::RwLock<Arc<NamespaceLabels>>,
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

impl Algorithm {
    pub fn new(profile: Profile, percentage_of_nodes_to_score: u32) -> Self {
        Algorithm {
            profile,
            percentage_of_nodes_to_score,
            next_start: AtomicUsize::new(0),
            namespaces: parking_lot::RwLock::default(),
        }
    }

    /// Replaces the namespaces' labels the plugins see.
    pub fn set_namespaces(&self, namespaces: NamespaceLabels) {
        *self.namespaces.write() = Arc::new(namespaces);
    }

    /// A fresh cycle state with what every cycle shares.
    fn cycle_state(&self) -> CycleState {
        let mut state = CycleState::default();
        state.write(NAMESPACES_KEY, self.namespaces.read().clone());
        state
    }

    /// Runs the pre-filters; a rejection applies to every node.
    pub fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Result<(), Status> {
        for plugin in &self.profile.pre_filter {
            let mut status = plugin.pre_filter(state, pod, nodes);
            if !status.is_success() && status.code != Code::Skip {
                status.plugin = plugin.name();
                return Err(status);
            }
        }
        Ok(())
    }

    /// Runs every filter on one node (with room kept for nominated pods).
    pub fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo, nominated: &Nominated) -> Status {
        let with_nominated;
        let node = match nominated.get(node.name()) {
            Some(pods)
                if pods
                    .iter()
                    .any(|p| p.uid() != uid(pod) && p.priority() >= priority(pod)) =>
            {
                let mut info = node.clone();
                for p in pods
                    .iter()
                    .filter(|p| p.uid() != uid(pod) && p.priority() >= priority(pod))
                {
                    info.add_pod(p.clone());
                }
                with_nominated = info;
                &with_nominated
            }
            _ => node,
        };
        for plugin in &self.profile.filter {
            let mut status = plugin.filter(state, pod, node);
            if !status.is_success() && status.code != Code::Skip {
                status.plugin = plugin.name();
                return status;
            }
        }
        Status::success()
    }

    /// Whether the pod fits on `node` given the cluster `nodes` (for preemption's dry runs).
    pub fn fits(&self, pod: &Pod, nodes: &[Arc<NodeInfo>], node: &NodeInfo, nominated: &Nominated) -> bool {
        let mut state = self.cycle_state();
        self.pre_filter(&mut state, pod, nodes).is_ok() && self.filter(&state, pod, node, nominated).is_success()
    }

    /// Picks a node for the pod, or says why none fits.
    pub fn schedule(&self, pod: &Pod, nodes: &[Arc<NodeInfo>], nominated: &Nominated) -> Result<Placement, FitError> {
        let num_nodes = nodes.len();
        let mut state = self.cycle_state();
        if let Err(status) = self.pre_filter(&mut state, pod, nodes) {
            let statuses = nodes.iter().map(|n| (n.name().to_owned(), status.clone())).collect();
            return Err(FitError { num_nodes, statuses });
        }
        let (feasible, statuses, evaluated) = self.find_feasible(&state, pod, nodes, nominated);
        if feasible.is_empty() {
            return Err(FitError { num_nodes, statuses });
        }
        if feasible.len() == 1 {
            return Ok(Placement {
                node: feasible[0].name().to_owned(),
                evaluated,
                feasible: 1,
            });
        }
        let scores = self.score(&mut state, pod, &feasible, nodes);
        let node = select_host(&feasible, &scores);
        Ok(Placement {
            node,
            evaluated,
            feasible: feasible.len(),
        })
    }

    fn find_feasible(
        &self,
        state: &CycleState,
        pod: &Pod,
        nodes: &[Arc<NodeInfo>],
        nominated: &Nominated,
    ) -> (Vec<Arc<NodeInfo>>, BTreeMap<String, Status>, usize) {
        let wanted = nodes_to_find(nodes.len(), self.percentage_of_nodes_to_score);
        let start = self.next_start.load(Ordering::Relaxed) % nodes.len().max(1);
        let mut feasible = Vec::new();
        let mut statuses = BTreeMap::new();
        let mut evaluated = 0;
        // Batches keep both cores busy while letting the search stop once enough nodes fit.
        const BATCH: usize = 256;
        while evaluated < nodes.len() && feasible.len() < wanted {
            let batch: Vec<&Arc<NodeInfo>> = (evaluated..(evaluated + BATCH).min(nodes.len()))
                .map(|i| &nodes[(start + i) % nodes.len()])
                .collect();
            let results: Vec<Status> = batch
                .par_iter()
                .map(|n| self.filter(state, pod, n, nominated))
                .collect();
            for (node, status) in batch.into_iter().zip(results) {
                evaluated += 1;
                if status.is_success() {
                    if feasible.len() < wanted {
                        feasible.push(node.clone());
                    }
                } else {
                    statuses.insert(node.name().to_owned(), status);
                }
            }
        }
        self.next_start.store(start + evaluated, Ordering::Relaxed);
        (feasible, statuses, evaluated)
    }

    /// The weighted, normalised total score of each feasible node.
    fn score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &[Arc<NodeInfo>]) -> Vec<i64> {
        for plugin in &self.profile.pre_score {
            let status = plugin.pre_score(state, pod, feasible, all);
            if status.code == Code::Error {
                tracing::warn!(plugin = plugin.name(), reasons = ?status.reasons, "pre-score failed");
            }
        }
        let state = &*state;
        let mut totals = vec![0; feasible.len()];
        for plugin in &self.profile.score {
            let mut scores: Vec<i64> = feasible.par_iter().map(|n| plugin.score(state, pod, n)).collect();
            plugin.normalize(state, pod, &mut scores);
            for (total, score) in totals.iter_mut().zip(scores) {
                *total += score * plugin.weight();
            }
        }
        totals
    }
}

/// The node with the highest score; ties are broken at random (reservoir sampling).
fn select_host(feasible: &[Arc<NodeInfo>], scores: &[i64]) -> String {
    let mut rng = rand::rng();
    let mut best = 0;
    let mut ties = 0;
    for (i, score) in scores.iter().enumerate() {
        if *score > scores[best] {
            best = i;
            ties = 1;
        } else if *score == scores[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    feasible[best].name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_clusters_are_sampled_as_kubernetes_does() {
        assert_eq!(nodes_to_find(50, 0), 50);
        assert_eq!(nodes_to_find(100, 0), 100);
        assert_eq!(nodes_to_find(1000, 0), 420);
        assert_eq!(nodes_to_find(5000, 0), 500);
        assert_eq!(nodes_to_find(5000, 100), 5000);
    }

    #[test]
    fn fit_errors_read_as_kubernetes_writes_them() {
        let mut statuses = BTreeMap::new();
        statuses.insert(
            "a".into(),
            Status::unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
        );
        for n in ["b", "c", "d"] {
            statuses.insert(
                n.into(),
                Status::unresolvable("node(s) didn't match Pod's node affinity/selector"),
            );
        }
        let err = FitError { num_nodes: 4, statuses };
        assert_eq!(
            err.message(),
            "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector."
        );
        assert!(!err.preemption_may_help());
    }
}
