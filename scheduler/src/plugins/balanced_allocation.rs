//! `NodeResourcesBalancedAllocation`: prefers nodes whose cpu and memory would be used in
//! similar proportions once the pod is placed, so neither runs out while the other idles
//! (Kubernetes' `plugins/noderesources` `BalancedAllocation`). Start at [`balanced_score`].

use podium_proto::k8s::core::v1::Pod;

use crate::framework::resources::pod_non_zero_requests;
use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, ScorePlugin};

pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// Kubernetes' default weight of this plugin's score.
pub const WEIGHT: i64 = 1;

/// Scores nodes by how evenly their resources would be used.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeResourcesBalancedAllocation;

/// `(1 - standard deviation of the used fractions) * MAX_NODE_SCORE`, each fraction
/// `requested / allocatable` capped at 1; resources the node does not report are left out.
/// `resources` holds (requested, allocatable) pairs.
pub fn balanced_resource_score(resources: &[(i64, i64)]) -> i64 {
    let fractions: Vec<f64> = resources
        .iter()
        .filter(|(_, allocatable)| *allocatable != 0)
        .map(|&(requested, allocatable)| (requested as f64 / allocatable as f64).min(1.0))
        .collect();
    let std = match fractions.len() {
        // With two resources the deviation is half their difference.
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = fractions.iter().sum::<f64>() / n as f64;
            (fractions.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// The balance score of the node's cpu and memory with the pod placed on it, counting unset
/// requests as the defaults.
pub fn balanced_score(pod: &Pod, node: &NodeInfo) -> i64 {
    let (pod_cpu, pod_memory) = pod_non_zero_requests(pod);
    let (node_cpu, node_memory) = node.non_zero_requested;
    balanced_resource_score(&[
        (node_cpu + pod_cpu, node.allocatable.milli_cpu),
        (node_memory + pod_memory, node.allocatable.memory),
    ])
}

impl ScorePlugin for NodeResourcesBalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        WEIGHT
    }

    fn score(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        balanced_score(pod, node)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::plugins::testing::{node_running as node, pod_with_requests as pod};

    /// A pod with one container per request list.
    #[test]
    fn evenly_used_nodes_score_higher() {
        let cases: Vec<(&str, Pod, NodeInfo, i64)> = vec![
            // cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5: std 0.125.
            (
                "differently used resources",
                pod(&[
                    &[("cpu", "1000m"), ("memory", "2000")],
                    &[("cpu", "2000m"), ("memory", "3000")],
                ]),
                node(&[("cpu", "4000m"), ("memory", "10000")], &[]),
                87,
            ),
            // cpu 3000/6000 = 0.5, memory 5000/10000 = 0.5: std 0.
            (
                "evenly used resources",
                pod(&[
                    &[("cpu", "1000m"), ("memory", "2000")],
                    &[("cpu", "2000m"), ("memory", "3000")],
                ]),
                node(&[("cpu", "6000m"), ("memory", "10000")], &[]),
                100,
            ),
            // The node's pods count: cpu 6000/10000 = 0.6, memory 5000/20000 = 0.25: std 0.175.
            (
                "pods on the node count",
                pod(&[&[("cpu", "3000m"), ("memory", "0")]]),
                node(
                    &[("cpu", "10000m"), ("memory", "20000")],
                    &[pod(&[&[("cpu", "3000m"), ("memory", "5000")]])],
                ),
                82,
            ),
            // Defaults for a best-effort pod: cpu 100/1000 = 0.1, memory 200Mi/1000Mi = 0.2.
            (
                "best-effort pod counts default requests",
                pod(&[&[]]),
                node(&[("cpu", "1"), ("memory", "1000Mi")], &[]),
                95,
            ),
            // cpu 2/1 caps at 1, memory 0.5: std 0.25.
            (
                "fractions are capped at one",
                pod(&[&[("cpu", "2"), ("memory", "512Mi")]]),
                node(&[("cpu", "1"), ("memory", "1Gi")], &[]),
                75,
            ),
            // Only cpu is reported, so there is nothing to balance.
            (
                "a single resource is balanced",
                pod(&[&[("cpu", "900m")]]),
                node(&[("cpu", "1")], &[]),
                100,
            ),
        ];
        for (name, pod, node, want) in cases {
            assert_eq!(
                NodeResourcesBalancedAllocation.score(&CycleState::default(), &pod, &node),
                want,
                "{name}"
            );
        }
        assert_eq!(NodeResourcesBalancedAllocation.weight(), 1);
    }

    #[test]
    fn more_than_two_resources_use_the_standard_deviation() {
        let cases = [
            (vec![(1, 2), (1, 2), (1, 2)], 100),
            // Fractions 0, 0.5, 1: mean 0.5, std sqrt(1/6) = 0.408.
            (vec![(0, 2), (1, 2), (2, 2)], 59),
            (vec![(1, 2), (1, 0)], 100),
            (vec![], 100),
        ];
        for (resources, want) in cases {
            assert_eq!(balanced_resource_score(&resources), want, "{resources:?}");
        }
    }
}
