//! `NodeResourcesFit`: a pod fits a node only when the node's allocatable resources cover
//! its requests on top of what the node's pods already request, and nodes with more room
//! left score higher (Kubernetes' `plugins/noderesources` `Fit` with its default
//! `LeastAllocated` scoring). Start at [`insufficient_resources`] for the filter and
//! [`least_allocated_score`] for the score.

use std::sync::Arc;

use podium_proto::k8s::core::v1::Pod;

use crate::framework::resources::{CPU, EPHEMERAL_STORAGE, MEMORY, PODS, pod_non_zero_requests, pod_requests};
use crate::framework::{
    Code, CycleState, FilterPlugin, MAX_NODE_SCORE, NodeInfo, PreFilterPlugin, Resources, ScorePlugin, Status,
};

pub const NAME: &str = "NodeResourcesFit";

/// Kubernetes' default weight of this plugin's score.
pub const WEIGHT: i64 = 1;

const PRE_FILTER_STATE_KEY: &str = "PreFilterNodeResourcesFit";

/// Filters out nodes without room for the pod's requests and prefers the emptiest nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeResourcesFit;

/// A resource the node lacks for the pod, with the numbers behind the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsufficientResource {
    pub resource_name: String,
    /// What users see, e.g. "Insufficient cpu".
    pub reason: String,
    pub requested: i64,
    pub used: i64,
    pub capacity: i64,
}

impl InsufficientResource {
    fn new(resource_name: &str, reason: String, requested: i64, used: i64, capacity: i64) -> Self {
        InsufficientResource {
            resource_name: resource_name.to_owned(),
            reason,
            requested,
            used,
            capacity,
        }
    }
}

/// The resources the node cannot spare for a pod with these requests (Kubernetes'
/// `fitsRequest`), in the order pods, cpu, memory, ephemeral-storage, then extended
/// resources by name. A resource the pod does not request is not checked, except the pod
/// count.
pub fn insufficient_resources(request: &Resources, node: &NodeInfo) -> Vec<InsufficientResource> {
    let mut insufficient = Vec::new();
    let allocatable = &node.allocatable;
    let requested = &node.requested;

    let pods = node.pods.len() as i64;
    if pods + 1 > allocatable.allowed_pods {
        insufficient.push(InsufficientResource::new(
            PODS,
            "Too many pods".into(),
            1,
            pods,
            allocatable.allowed_pods,
        ));
    }

    let native = [
        (CPU, request.milli_cpu, requested.milli_cpu, allocatable.milli_cpu),
        (MEMORY, request.memory, requested.memory, allocatable.memory),
        (
            EPHEMERAL_STORAGE,
            request.ephemeral_storage,
            requested.ephemeral_storage,
            allocatable.ephemeral_storage,
        ),
    ];
    for (name, wanted, used, capacity) in native {
        if wanted > 0 && wanted > capacity - used {
            insufficient.push(InsufficientResource::new(
                name,
                format!("Insufficient {name}"),
                wanted,
                used,
                capacity,
            ));
        }
    }

    for (name, &wanted) in &request.scalar {
        if wanted == 0 {
            continue;
        }
        let used = requested.get(name);
        let capacity = allocatable.get(name);
        if wanted > capacity - used {
            insufficient.push(InsufficientResource::new(
                name,
                format!("Insufficient {name}"),
                wanted,
                used,
                capacity,
            ));
        }
    }
    insufficient
}

/// `(capacity - requested) * MAX_NODE_SCORE / capacity`, and 0 when the node is full or over.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// Kubernetes' `LeastAllocated` score over cpu and memory (weight 1 each): the share of
/// each left free once the pod is placed, counting unset requests as the defaults, averaged
/// over the resources the node has.
pub fn least_allocated_score(pod: &Pod, node: &NodeInfo) -> i64 {
    let (pod_cpu, pod_memory) = pod_non_zero_requests(pod);
    let (node_cpu, node_memory) = node.non_zero_requested;
    let resources = [
        (node_cpu + pod_cpu, node.allocatable.milli_cpu, 1),
        (node_memory + pod_memory, node.allocatable.memory, 1),
    ];
    let mut score = 0;
    let mut weight_sum = 0;
    for (requested, allocatable, weight) in resources {
        // A resource the node does not report is left out of the average.
        if allocatable == 0 {
            continue;
        }
        score += least_requested_score(requested, allocatable) * weight;
        weight_sum += weight;
    }
    if weight_sum == 0 { 0 } else { score / weight_sum }
}

impl PreFilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, _nodes: &[Arc<NodeInfo>]) -> Status {
        state.write(PRE_FILTER_STATE_KEY, pod_requests(pod));
        Status::success()
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, state: &CycleState, _pod: &Pod, node: &NodeInfo) -> Status {
        let Some(request) = state.read::<Resources>(PRE_FILTER_STATE_KEY) else {
            return Status::error(format!(
                "error reading {PRE_FILTER_STATE_KEY:?} from cycleState: not found"
            ));
        };
        let insufficient = insufficient_resources(request, node);
        if insufficient.is_empty() {
            return Status::success();
        }
        // Evicting pods may make room, so every shortage is resolvable by preemption.
        Status::with_reasons(
            Code::Unschedulable,
            insufficient.into_iter().map(|r| r.reason).collect(),
        )
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        WEIGHT
    }

    fn score(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        least_allocated_score(pod, node)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::plugins::testing::{node_running, pod_with_requests as pod};

    fn node(allocatable: &[(&str, &str)], pods: &[Pod]) -> Arc<NodeInfo> {
        Arc::new(node_running(allocatable, pods))
    }

    /// A pod with one container per request list.
    fn filter(pod: &Pod, node: &NodeInfo) -> Status {
        let mut state = CycleState::default();
        assert!(NodeResourcesFit.pre_filter(&mut state, pod, &[]).is_success());
        NodeResourcesFit.filter(&state, pod, node)
    }

    #[test]
    fn pods_fit_only_where_their_requests_fit() {
        let alloc: &[(&str, &str)] = &[
            ("cpu", "10"),
            ("memory", "20"),
            ("pods", "32"),
            ("ephemeral-storage", "20"),
            ("example.com/gpu", "2"),
        ];
        let used = || vec![pod(&[&[("cpu", "5"), ("memory", "5")]])];
        let cases: Vec<(&str, Pod, Arc<NodeInfo>, Vec<&str>)> = vec![
            ("no requests", pod(&[]), node(alloc, &used()), vec![]),
            (
                "fits exactly",
                pod(&[&[("cpu", "5"), ("memory", "15")]]),
                node(alloc, &used()),
                vec![],
            ),
            (
                "too much cpu",
                pod(&[&[("cpu", "6"), ("memory", "1")]]),
                node(alloc, &used()),
                vec!["Insufficient cpu"],
            ),
            (
                "requests add up across containers",
                pod(&[&[("cpu", "3"), ("memory", "1")], &[("cpu", "3"), ("memory", "1")]]),
                node(alloc, &used()),
                vec!["Insufficient cpu"],
            ),
            (
                "one reason per missing resource",
                pod(&[&[("cpu", "6"), ("memory", "16"), ("ephemeral-storage", "21")]]),
                node(alloc, &used()),
                vec![
                    "Insufficient cpu",
                    "Insufficient memory",
                    "Insufficient ephemeral-storage",
                ],
            ),
            (
                "extended resource",
                pod(&[&[("example.com/gpu", "3")]]),
                node(alloc, &used()),
                vec!["Insufficient example.com/gpu"],
            ),
            (
                "extended resource the node lacks",
                pod(&[&[("example.com/fpga", "1")]]),
                node(alloc, &used()),
                vec!["Insufficient example.com/fpga"],
            ),
            (
                "extended resource within allocatable",
                pod(&[&[("example.com/gpu", "2")]]),
                node(alloc, &used()),
                vec![],
            ),
            (
                "extended resource used by other pods",
                pod(&[&[("example.com/gpu", "1")]]),
                node(alloc, &[pod(&[&[("example.com/gpu", "2")]])]),
                vec!["Insufficient example.com/gpu"],
            ),
            (
                "a zero request is not checked",
                pod(&[&[("example.com/fpga", "0")]]),
                node(alloc, &used()),
                vec![],
            ),
            (
                "too many pods, even without requests",
                pod(&[]),
                node(&[("cpu", "10"), ("pods", "1")], &used()),
                vec!["Too many pods"],
            ),
            (
                "no pods allowed and no cpu",
                pod(&[&[("cpu", "1")]]),
                node(&[("memory", "20")], &[]),
                vec!["Too many pods", "Insufficient cpu"],
            ),
            (
                "unrequested resources are not checked",
                pod(&[&[("memory", "1")]]),
                node(&[("memory", "20"), ("pods", "2")], &[]),
                vec![],
            ),
        ];
        for (name, pod, node, reasons) in cases {
            let status = filter(&pod, &node);
            if reasons.is_empty() {
                assert_eq!(status, Status::success(), "{name}");
            } else {
                assert_eq!(status.code, Code::Unschedulable, "{name}");
                assert_eq!(status.reasons, reasons, "{name}");
            }
        }
    }

    #[test]
    fn insufficient_resources_carry_the_numbers() {
        let node = node(&[("cpu", "2"), ("pods", "10")], &[pod(&[&[("cpu", "1500m")]])]);
        let request = pod_requests(&pod(&[&[("cpu", "1")]]));
        assert_eq!(
            insufficient_resources(&request, &node),
            vec![InsufficientResource {
                resource_name: "cpu".into(),
                reason: "Insufficient cpu".into(),
                requested: 1000,
                used: 1500,
                capacity: 2000,
            }]
        );
    }

    #[test]
    fn filter_without_pre_filter_is_an_error() {
        let status = NodeResourcesFit.filter(&CycleState::default(), &pod(&[]), &node(&[("pods", "1")], &[]));
        assert_eq!(status.code, Code::Error);
    }

    #[test]
    fn emptier_nodes_score_higher() {
        let cases: Vec<(&str, Pod, Arc<NodeInfo>, i64)> = vec![
            // Kubernetes' "nothing scheduled, resources requested, differently sized nodes":
            // cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50.
            (
                "requested pod on an empty node",
                pod(&[
                    &[("cpu", "1000m"), ("memory", "2000")],
                    &[("cpu", "2000m"), ("memory", "3000")],
                ]),
                node(&[("cpu", "4000m"), ("memory", "10000")], &[]),
                37,
            ),
            // cpu (6000-3000)*100/6000 = 50, memory (10000-5000)*100/10000 = 50.
            (
                "requested pod on a bigger node",
                pod(&[
                    &[("cpu", "1000m"), ("memory", "2000")],
                    &[("cpu", "2000m"), ("memory", "3000")],
                ]),
                node(&[("cpu", "6000m"), ("memory", "10000")], &[]),
                50,
            ),
            // The node's pod counts too: cpu (10000-6000)*100/10000 = 40,
            // memory (20000-10000)*100/20000 = 50.
            (
                "requests of pods on the node count",
                pod(&[&[("cpu", "3000m"), ("memory", "5000")]]),
                node(
                    &[("cpu", "10000m"), ("memory", "20000")],
                    &[pod(&[&[("cpu", "3000m"), ("memory", "5000")]])],
                ),
                45,
            ),
            // A pod without requests counts as 100m and 200Mi: cpu (1000-100)*100/1000 = 90,
            // memory (1Gi-200Mi)*100/1Gi = 80.
            (
                "best-effort pod counts default requests",
                pod(&[&[]]),
                node(&[("cpu", "1"), ("memory", "1Gi")], &[]),
                85,
            ),
            (
                "over-committed resources score zero",
                pod(&[&[("cpu", "2"), ("memory", "512Mi")]]),
                node(&[("cpu", "1"), ("memory", "1Gi")], &[]),
                25,
            ),
            (
                "a node without cpu or memory scores zero",
                pod(&[&[("cpu", "1")]]),
                node(&[("pods", "10")], &[]),
                0,
            ),
            (
                "a resource the node lacks is left out",
                pod(&[&[("cpu", "500m")]]),
                node(&[("cpu", "1")], &[]),
                50,
            ),
        ];
        for (name, pod, node, want) in cases {
            assert_eq!(
                NodeResourcesFit.score(&CycleState::default(), &pod, &node),
                want,
                "{name}"
            );
        }
        assert_eq!(NodeResourcesFit.weight(), 1);
    }
}
