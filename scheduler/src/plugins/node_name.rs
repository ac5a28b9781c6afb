//! `NodeName`: a pod that names a node (`spec.nodeName`) fits only that node (Kubernetes'
//! `plugins/nodename`). Start at [`fits`].

use podium_proto::k8s::core::v1::Pod;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, Status};

pub const NAME: &str = "NodeName";

/// The reason shown when the pod names another node.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Filters out every node but the one the pod names.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeName;

/// Whether the pod may run on the node: it names no node, or names this one.
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    let wanted = pod.spec.as_ref().map_or("", |s| s.node_name.as_str());
    wanted.is_empty() || wanted == node.name()
}

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        if fits(pod, node) {
            Status::success()
        } else {
            // Another node will never turn into the named one, so preemption cannot help.
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use podium_proto::k8s::core::v1::{Node, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::framework::Code;

    fn pod(node_name: &str) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_name: node_name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(name: &str) -> NodeInfo {
        NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    #[test]
    fn only_the_named_node_fits() {
        let cases = [
            ("no node name", pod(""), Code::Success),
            ("the same node", pod("foo"), Code::Success),
            ("another node", pod("bar"), Code::UnschedulableAndUnresolvable),
            ("no spec", Pod::default(), Code::Success),
        ];
        for (name, pod, code) in cases {
            let status = NodeName.filter(&CycleState::default(), &pod, &node("foo"));
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
