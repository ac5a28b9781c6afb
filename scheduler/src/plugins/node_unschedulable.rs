//! `NodeUnschedulable`: a cordoned node (`spec.unschedulable`) takes no new pods, unless
//! the pod tolerates the `node.kubernetes.io/unschedulable:NoSchedule` taint that stands
//! for the cordon (Kubernetes' `plugins/nodeunschedulable`). Start at [`fits`].

use podium_proto::k8s::core::v1::{Pod, Taint};

use super::matching;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, Status};

pub const NAME: &str = "NodeUnschedulable";

/// The reason shown when the node is cordoned.
pub const ERR_REASON: &str = "node(s) were unschedulable";

/// The taint key a cordon stands for (`v1.TaintNodeUnschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Filters out cordoned nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeUnschedulable;

/// Whether the pod may run on the node: the node is not cordoned, or the pod tolerates the
/// cordon as a `NoSchedule` taint (as DaemonSet pods do).
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    let unschedulable = node.node.spec.as_ref().is_some_and(|s| s.unschedulable);
    if !unschedulable {
        return true;
    }
    let taint = Taint {
        key: TAINT_NODE_UNSCHEDULABLE.to_owned(),
        effect: "NoSchedule".to_owned(),
        ..Default::default()
    };
    let tolerations = pod.spec.as_ref().map_or(&[][..], |s| &s.tolerations);
    matching::tolerated(tolerations, &taint)
}

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use podium_proto::k8s::core::v1::{Node, NodeSpec, PodSpec, Toleration};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::framework::Code;

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                tolerations,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn toleration(key: &str, operator: &str, effect: &str) -> Toleration {
        Toleration {
            key: key.into(),
            operator: operator.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn node(unschedulable: bool) -> NodeInfo {
        NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                unschedulable,
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    #[test]
    fn cordoned_nodes_take_only_pods_that_tolerate_the_cordon() {
        let cases = [
            ("schedulable node", pod(vec![]), false, Code::Success),
            ("cordoned node", pod(vec![]), true, Code::UnschedulableAndUnresolvable),
            (
                "tolerates the cordon",
                pod(vec![toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "NoSchedule")]),
                true,
                Code::Success,
            ),
            (
                "tolerates everything",
                pod(vec![toleration("", "Exists", "")]),
                true,
                Code::Success,
            ),
            (
                "tolerates another effect",
                pod(vec![toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "NoExecute")]),
                true,
                Code::UnschedulableAndUnresolvable,
            ),
            (
                "tolerates another key",
                pod(vec![toleration("node.kubernetes.io/not-ready", "Exists", "")]),
                true,
                Code::UnschedulableAndUnresolvable,
            ),
        ];
        for (name, pod, unschedulable, code) in cases {
            let status = NodeUnschedulable.filter(&CycleState::default(), &pod, &node(unschedulable));
            assert_eq!(status.code, code, "{name}");
            let reasons: Vec<&str> = if code == Code::Success {
                vec![]
            } else {
                vec![ERR_REASON]
            };
            assert_eq!(status.reasons, reasons, "{name}");
        }
    }
}
