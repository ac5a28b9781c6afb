//! `NodeInfo`: a node with the pods on it and what they use, as plugins see it.

use std::sync::Arc;

use podium_proto::k8s::core::v1::{Node, Pod};

use super::resources::{Resources, pod_non_zero_requests, pod_requests};

/// A pod with its requests worked out once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub requests: Resources,
    /// (milli-CPU, memory) with defaults for unset requests, for spreading scores.
    pub non_zero: (i64, i64),
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> Self {
        let requests = pod_requests(&pod);
        let non_zero = pod_non_zero_requests(&pod);
        PodInfo {
            pod,
            requests,
            non_zero,
        }
    }

    pub fn uid(&self) -> &str {
        self.pod.metadata.as_ref().map_or("", |m| m.uid.as_str())
    }

    pub fn priority(&self) -> i32 {
        self.pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
    }
}

/// One host port in use: (hostIP, protocol, port).
pub type HostPort = (String, String, i32);

/// A node and the pods bound (or assumed) to it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<PodInfo>>,
    /// The sum of the pods' requests.
    pub requested: Resources,
    /// The sum of the pods' non-zero (milli-CPU, memory) requests.
    pub non_zero_requested: (i64, i64),
    pub allocatable: Resources,
    pub used_ports: Vec<HostPort>,
}

fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    let mut ports = Vec::new();
    // Kubernetes 1.32 counts the app containers' host ports only.
    for container in &spec.containers {
        for port in &container.ports {
            if port.host_port > 0 {
                let ip = if port.host_ip.is_empty() {
                    "0.0.0.0".to_owned()
                } else {
                    port.host_ip.clone()
                };
                let protocol = if port.protocol.is_empty() {
                    "TCP".to_owned()
                } else {
                    port.protocol.clone()
                };
                ports.push((ip, protocol, port.host_port));
            }
        }
    }
    ports
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> Self {
        let allocatable = node
            .status
            .as_ref()
            .map(|s| Resources::from_list(&s.allocatable))
            .unwrap_or_default();
        NodeInfo {
            node,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: (0, 0),
            allocatable,
            used_ports: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        self.node.metadata.as_ref().map_or("", |m| m.name.as_str())
    }

    pub fn labels(&self) -> &std::collections::BTreeMap<String, String> {
        static EMPTY: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        self.node.metadata.as_ref().map_or(&EMPTY, |m| &m.labels)
    }

    pub fn add_pod(&mut self, info: Arc<PodInfo>) {
        self.requested.add(&info.requests);
        self.requested.allowed_pods += 1;
        self.non_zero_requested.0 += info.non_zero.0;
        self.non_zero_requested.1 += info.non_zero.1;
        self.used_ports.extend(host_ports(&info.pod));
        self.pods.push(info);
    }

    /// Removes a pod by UID; false when it was not here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(index) = self.pods.iter().position(|p| p.uid() == uid) else {
            return false;
        };
        let info = self.pods.remove(index);
        self.requested.sub(&info.requests);
        self.requested.allowed_pods -= 1;
        self.non_zero_requested.0 -= info.non_zero.0;
        self.non_zero_requested.1 -= info.non_zero.1;
        for port in host_ports(&info.pod) {
            if let Some(i) = self.used_ports.iter().position(|p| *p == port) {
                self.used_ports.remove(i);
            }
        }
        true
    }
}
