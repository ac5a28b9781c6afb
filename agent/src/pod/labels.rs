//! The labels and names the agent gives its containers, so that it (or its next run) can tell
//! whose they are: pod, container, attempt and node.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::Pod;

pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// `podsandbox` or `container`.
pub const CONTAINER_TYPE: &str = "io.kubernetes.docker.type";
/// `init` for init containers, `app` for the others.
pub const CONTAINER_ROLE: &str = "io.podium.container.role";
/// The restart count this instance of the container stands for.
pub const ATTEMPT: &str = "io.podium.attempt";
/// The node whose agent owns the container.
pub const NODE: &str = "io.podium.node";

pub const SANDBOX: &str = "podsandbox";
pub const CONTAINER: &str = "container";

/// The name every sandbox label set shares with its containers.
pub fn pod_labels(pod: &Pod, node: &str) -> BTreeMap<String, String> {
    let meta = pod.metadata.clone().unwrap_or_default();
    [
        (POD_UID, meta.uid),
        (POD_NAME, meta.name),
        (POD_NAMESPACE, meta.namespace),
        (NODE, node.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The labels of a sandbox or container of `pod`.
pub fn labels(pod: &Pod, node: &str, container: Option<(&str, bool)>, attempt: u32) -> BTreeMap<String, String> {
    let mut labels = pod_labels(pod, node);
    labels.insert(ATTEMPT.into(), attempt.to_string());
    match container {
        None => {
            labels.insert(CONTAINER_TYPE.into(), SANDBOX.into());
        }
        Some((name, init)) => {
            labels.insert(CONTAINER_TYPE.into(), CONTAINER.into());
            labels.insert(CONTAINER_NAME.into(), name.into());
            labels.insert(CONTAINER_ROLE.into(), if init { "init" } else { "app" }.into());
        }
    }
    labels
}

/// Docker's name for a sandbox (`container` none) or a container, as Kubernetes' dockershim
/// named them: `k8s_<container|POD>_<pod>_<namespace>_<uid>_<attempt>`.
pub fn docker_name(pod: &Pod, container: Option<&str>, attempt: u32) -> String {
    let meta = pod.metadata.clone().unwrap_or_default();
    format!(
        "k8s_{}_{}_{}_{}_{attempt}",
        container.unwrap_or("POD"),
        meta.name,
        meta.namespace,
        meta.uid
    )
}

/// The attempt a listed container stands for.
pub fn attempt(labels: &BTreeMap<String, String>) -> u32 {
    labels.get(ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(0)
}
