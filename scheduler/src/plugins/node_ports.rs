//! `NodePorts`: a pod that asks for host ports fits only nodes where those ports are free
//! (Kubernetes' `plugins/nodeports` with the conflict rules of `HostPortInfo`). Start at
//! [`fits`].

use podium_proto::k8s::core::v1::Pod;

use crate::framework::node_info::HostPort;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, Status};

pub const NAME: &str = "NodePorts";

/// The reason shown when a wanted host port is taken.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// The host IP that binds every address, and the one an empty `hostIP` means.
const BIND_ALL_HOST_IP: &str = "0.0.0.0";

/// Filters out nodes where a wanted host port is already in use.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodePorts;

/// The host ports the pod's app containers ask for, as (hostIP, protocol, port) with an empty
/// IP read as 0.0.0.0 and an empty protocol as TCP. Kubernetes 1.32 looks only at app
/// containers here (not init containers, sidecars included).
pub fn wanted_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    let ports = spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0);
    ports
        .map(|p| {
            let ip = if p.host_ip.is_empty() {
                BIND_ALL_HOST_IP
            } else {
                p.host_ip.as_str()
            };
            let protocol = if p.protocol.is_empty() {
                "TCP"
            } else {
                p.protocol.as_str()
            };
            (ip.to_owned(), protocol.to_owned(), p.host_port)
        })
        .collect()
}

/// Whether a wanted port clashes with one in use (`HostPortInfo.CheckConflict`): same
/// protocol and port, and the same IP or either of them 0.0.0.0.
pub fn conflicts(wanted: &HostPort, used: &[HostPort]) -> bool {
    let (ip, protocol, port) = wanted;
    if *port <= 0 {
        return false;
    }
    used.iter().any(|(used_ip, used_protocol, used_port)| {
        used_port == port
            && used_protocol == protocol
            && (ip == BIND_ALL_HOST_IP || used_ip == BIND_ALL_HOST_IP || used_ip == ip)
    })
}

/// Whether every host port the pod wants is free on the node. Ports the pod asks for twice
/// are not checked against each other (API validation rejects them).
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    wanted_ports(pod).iter().all(|p| !conflicts(p, &node.used_ports))
}

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        // Evicting the pod that holds the port frees it, so this is resolvable.
        if fits(pod, node) {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use podium_proto::k8s::core::v1::{Container, ContainerPort, Node, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::framework::{Code, PodInfo};

    /// A pod with one container per port, each port given as "protocol/hostIP/hostPort".
    fn pod(ports: &[&str]) -> Pod {
        let containers = ports
            .iter()
            .map(|p| {
                let parts: Vec<&str> = p.split('/').collect();
                Container {
                    name: "c".into(),
                    ports: vec![ContainerPort {
                        protocol: parts[0].into(),
                        host_ip: parts[1].into(),
                        host_port: parts[2].parse().unwrap(),
                        container_port: 80,
                        ..Default::default()
                    }],
                    ..Default::default()
                }
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

    fn node_with(pods: &[Pod]) -> NodeInfo {
        let mut node = NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }));
        for p in pods {
            node.add_pod(Arc::new(PodInfo::new(Arc::new(p.clone()))));
        }
        node
    }

    #[test]
    fn host_ports_conflict_as_kubernetes_decides() {
        let cases = [
            ("nothing wanted", pod(&[]), vec![pod(&["TCP/127.0.0.1/8080"])], true),
            ("nothing used", pod(&["TCP/127.0.0.1/8080"]), vec![], true),
            (
                "other port",
                pod(&["UDP/127.0.0.1/8080"]),
                vec![pod(&["UDP/127.0.0.1/9090"])],
                true,
            ),
            (
                "same port, IP and protocol",
                pod(&["UDP/127.0.0.1/8080"]),
                vec![pod(&["UDP/127.0.0.1/8080"])],
                false,
            ),
            (
                "other protocol",
                pod(&["TCP/127.0.0.1/8080"]),
                vec![pod(&["UDP/127.0.0.1/8080"])],
                true,
            ),
            (
                "one of two ports taken",
                pod(&["UDP/127.0.0.1/8080", "TCP/127.0.0.1/8081"]),
                vec![pod(&["UDP/127.0.0.1/8080"])],
                false,
            ),
            (
                "other IP",
                pod(&["TCP/127.0.0.1/8001"]),
                vec![pod(&["TCP/127.0.0.2/8001"])],
                true,
            ),
            (
                "wanted on all IPs",
                pod(&["TCP/0.0.0.0/8001"]),
                vec![pod(&["TCP/127.0.0.1/8001"])],
                false,
            ),
            (
                "used on all IPs",
                pod(&["TCP/127.0.0.1/8001"]),
                vec![pod(&["TCP/0.0.0.0/8001"])],
                false,
            ),
            (
                "empty IP means all IPs",
                pod(&["TCP//8001"]),
                vec![pod(&["TCP/10.0.0.1/8001"])],
                false,
            ),
            (
                "empty protocol means TCP",
                pod(&["/10.0.0.1/8001"]),
                vec![pod(&["TCP/10.0.0.1/8001"])],
                false,
            ),
            (
                "all IPs, other protocol",
                pod(&["UDP/0.0.0.0/8001"]),
                vec![pod(&["TCP/0.0.0.0/8001"])],
                true,
            ),
            (
                "a container port without host port",
                pod(&["TCP/0.0.0.0/0"]),
                vec![pod(&["TCP/0.0.0.0/0"])],
                true,
            ),
        ];
        for (name, pod, existing, fits) in cases {
            let status = NodePorts.filter(&CycleState::default(), &pod, &node_with(&existing));
            if fits {
                assert_eq!(status, Status::success(), "{name}");
            } else {
                assert_eq!(status.code, Code::Unschedulable, "{name}");
                assert_eq!(status.reasons, vec![ERR_REASON.to_owned()], "{name}");
            }
        }
    }
}
