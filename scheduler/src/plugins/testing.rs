//! Builders the plugins' unit tests share.

use std::collections::BTreeMap;
use std::sync::Arc;

use podium_proto::k8s::core::v1::{Container, Node, NodeStatus, Pod, PodSpec, ResourceRequirements, Taint, Toleration};
use podium_proto::k8s::meta::v1::{ObjectMeta, Quantity};

use crate::framework::{Code, CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin};

/// A resource list from (name, quantity) pairs.
/// A label map from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A pod with a namespace, a name (its UID is `namespace/name`) and labels.
pub fn pod_in(namespace: &str, name: &str, pod_labels: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            uid: format!("{namespace}/{name}"),
            labels: labels(pod_labels),
            ..Default::default()
        }),
        spec: Some(PodSpec::default()),
        ..Default::default()
    }
}

pub fn resource_list(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs.iter().map(|(k, v)| (k.to_string(), Quantity::new(*v))).collect()
}

/// A pod with one container per request list.
pub fn pod_with_requests(containers: &[&[(&str, &str)]]) -> Pod {
    let containers = containers
        .iter()
        .map(|requests| Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: resource_list(requests),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    Pod {
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Node `n1` with this allocatable, running these pods.
pub fn node_running(allocatable: &[(&str, &str)], pods: &[Pod]) -> NodeInfo {
    let mut info = NodeInfo::new(Arc::new(Node {
        metadata: Some(ObjectMeta {
            name: "n1".into(),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            allocatable: resource_list(allocatable),
            ..Default::default()
        }),
        ..Default::default()
    }));
    for p in pods {
        info.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
    }
    info
}

pub fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

pub fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
    Toleration {
        key: key.into(),
        operator: operator.into(),
        value: value.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

/// A node's info with these pods on it.
pub fn node_info(node: Node, pods: Vec<Pod>) -> Arc<NodeInfo> {
    let mut info = NodeInfo::new(Arc::new(node));
    for pod in pods {
        info.add_pod(Arc::new(PodInfo::new(Arc::new(pod))));
    }
    Arc::new(info)
}

/// A plugin's pre-filter code, then its filter's (code, reasons) on every node.
pub fn filter_all<P: PreFilterPlugin + FilterPlugin>(
    plugin: &P,
    pod: &Pod,
    nodes: &[Arc<NodeInfo>],
) -> (Code, Vec<(Code, String)>) {
    let mut state = CycleState::default();
    let pre = plugin.pre_filter(&mut state, pod, nodes);
    let results = nodes
        .iter()
        .map(|n| {
            let status = plugin.filter(&state, pod, n);
            (status.code, status.reasons.join("; "))
        })
        .collect();
    (pre.code, results)
}
