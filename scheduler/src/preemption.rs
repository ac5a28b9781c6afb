//! Preemption (Kubernetes' DefaultPreemption PostFilter), with no IO: for a pod that fits
//! nowhere, find the node where evicting the fewest, least important lower-priority pods
//! makes it fit under every filter.

use std::sync::Arc;

use podium_proto::k8s::core::v1::Pod;

use crate::algorithm::{Algorithm, FitError, Nominated};
use crate::framework::{Code, NodeInfo, PodInfo};

/// Stop looking once this many candidate nodes are found (Kubernetes examines a sample too).
const MAX_CANDIDATES: usize = 100;

/// A node and the pods to evict there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Whether the pod may preempt at all.
pub fn may_preempt(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) != Some("Never")
}

fn start_time(info: &PodInfo) -> i64 {
    let status = info.pod.status.as_ref();
    status.and_then(|s| s.start_time).map_or(i64::MAX, |t| t.seconds)
}

/// The cluster with one node replaced.
fn with_node(nodes: &[Arc<NodeInfo>], node: &NodeInfo) -> Vec<Arc<NodeInfo>> {
    nodes
        .iter()
        .map(|n| {
            if n.name() == node.name() {
                Arc::new(node.clone())
            } else {
                n.clone()
            }
        })
        .collect()
}

/// The victims on one node, or `None` when evicting every lower-priority pod would not help.
fn select_victims(
    algorithm: &Algorithm,
    pod: &Pod,
    nodes: &[Arc<NodeInfo>],
    node: &NodeInfo,
    nominated: &Nominated,
) -> Option<Vec<Arc<PodInfo>>> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority() < priority(pod))
        .filter(|p| p.pod.metadata.as_ref().is_none_or(|m| m.deletion_timestamp.is_none()))
        .cloned()
        .collect();
    if potential.is_empty() {
        return None;
    }
    let mut trial = node.clone();
    for p in &potential {
        trial.remove_pod(p.uid());
    }
    if !algorithm.fits(pod, &with_node(nodes, &trial), &trial, nominated) {
        return None;
    }
    // Reprieve as many as possible, most important first.
    potential.sort_by_key(|p| (std::cmp::Reverse(p.priority()), start_time(p)));
    let mut victims = Vec::new();
    for p in potential {
        trial.add_pod(p.clone());
        if !algorithm.fits(pod, &with_node(nodes, &trial), &trial, nominated) {
            trial.remove_pod(p.uid());
            victims.push(p);
        }
    }
    Some(victims)
}

/// The best candidate, chosen as Kubernetes does: the lowest highest-priority victim, then the
/// smallest sum of victim priorities, then the fewest victims, then the latest-started
/// highest-priority victims, then the first found.
pub fn find_candidate(
    algorithm: &Algorithm,
    pod: &Pod,
    nodes: &[Arc<NodeInfo>],
    fit_error: &FitError,
    nominated: &Nominated,
) -> Option<Candidate> {
    if !may_preempt(pod) {
        return None;
    }
    let mut candidates = Vec::new();
    for node in nodes {
        let helpful = fit_error
            .statuses
            .get(node.name())
            .is_some_and(|s| s.code == Code::Unschedulable);
        if !helpful {
            continue;
        }
        if let Some(victims) = select_victims(algorithm, pod, nodes, node, nominated) {
            candidates.push(Candidate {
                node: node.name().to_owned(),
                victims,
            });
            if candidates.len() >= MAX_CANDIDATES {
                break;
            }
        }
    }
    candidates.into_iter().min_by_key(|c| {
        let highest = c.victims.iter().map(|v| v.priority()).max().unwrap_or(i32::MIN);
        // Shift priorities to non-negative so negative ones do not lower the sum.
        let sum: i64 = c
            .victims
            .iter()
            .map(|v| i64::from(v.priority()) - i64::from(i32::MIN) + 1)
            .sum();
        let latest_start = c
            .victims
            .iter()
            .filter(|v| v.priority() == highest)
            .map(|v| start_time(v))
            .min()
            .unwrap_or(i64::MAX);
        (highest, sum, c.victims.len(), std::cmp::Reverse(latest_start))
    })
}
