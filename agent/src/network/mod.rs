//! host-gw pod networking across hosts (`agent --host-gw`).
//!
//! Each node's pods live in its own slice of the cluster CIDR, the node's `spec.podCIDR`
//! (given by the controller-manager). The agent makes its Docker pod network with that subnet,
//! and every agent routes the other nodes' podCIDRs via their InternalIPs, so a packet for a
//! pod on another node goes straight to that node, which forwards it onto its pod bridge. The
//! nodes must share a layer-2 network (the gateways are their addresses), as with flannel's
//! host-gw backend. Alongside the routes, the host lets traffic to and from its pods through
//! the FORWARD chain (Docker's policy drops it) and does not masquerade traffic between pod
//! CIDRs, so pods see each other's real addresses.
//!
//! `plan` turns the Nodes into what the host should have; a `HostNetwork` makes it so
//! (`LinuxHost` with `ip`, `iptables` and `sysctl`); `HostGw` keeps it so as Nodes change.

mod linux;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use podium_client::{Client, ListParams, Reflector};
use podium_proto::k8s::core::v1::Node;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

pub use linux::LinuxHost;

/// How often the host is checked against the plan even when no Node changed (someone may
/// have flushed a chain or removed a route).
const RESYNC: Duration = Duration::from_secs(30);

/// Something the host's network tools refused.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("running {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// A route to another node's pods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The other node's podCIDR.
    pub destination: String,
    /// The other node's InternalIP.
    pub gateway: IpAddr,
}

/// What the host's network should hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// This node's podCIDR.
    pub local: String,
    /// Routes to every other node's podCIDR.
    pub routes: BTreeSet<Route>,
}

/// Makes the host's routes and packet filter match a plan.
pub trait HostNetwork: Send + Sync {
    /// Brings the host in line with `plan`: adds and replaces what is missing or different,
    /// removes routes this agent made that the plan no longer has, leaves the rest alone.
    fn apply(&self, plan: &Plan) -> impl Future<Output = Result<(), NetworkError>> + Send;
}

fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.clone().unwrap_or_default();
    if spec.pod_cidrs.is_empty() {
        (!spec.pod_cidr.is_empty())
            .then_some(spec.pod_cidr)
            .into_iter()
            .collect()
    } else {
        spec.pod_cidrs
    }
}

fn internal_ip(node: &Node) -> Option<IpAddr> {
    node.status
        .as_ref()?
        .addresses
        .iter()
        .filter(|a| a.r#type == "InternalIP")
        .find_map(|a| a.address.parse().ok())
}

/// This node's IPv4 podCIDR, if it has been given one.
pub fn local_pod_cidr(node: &Node) -> Option<String> {
    pod_cidrs(node).into_iter().find(|c| !c.contains(':'))
}

/// The plan for node `name` among `nodes`: a route to each other node's podCIDR via its
/// InternalIP (of the same family); nodes without either, and nodes sharing this node's
/// address, get none. `None` while this node has no podCIDR.
pub fn plan(name: &str, nodes: &[Node]) -> Option<Plan> {
    let own = nodes
        .iter()
        .find(|n| n.metadata.as_ref().is_some_and(|m| m.name == name))?;
    let local = local_pod_cidr(own)?;
    let own_ip = internal_ip(own);
    let mut routes = BTreeSet::new();
    for node in nodes {
        if node.metadata.as_ref().is_some_and(|m| m.name == name) {
            continue;
        }
        let Some(gateway) = internal_ip(node).filter(|ip| Some(*ip) != own_ip) else {
            continue;
        };
        for destination in pod_cidrs(node) {
            if destination.contains(':') == gateway.is_ipv6() {
                routes.insert(Route { destination, gateway });
            }
        }
    }
    Some(Plan { local, routes })
}

/// Waits for node `name` to exist and have a podCIDR, which the controller-manager assigns
/// from its `--cluster-cidr`; `None` on shutdown.
pub async fn wait_for_pod_cidr(client: &Client, name: &str, shutdown: &CancellationToken) -> Option<String> {
    let nodes = client.resource::<Node>("");
    let mut asked = 0u32;
    loop {
        match nodes.get_opt(name).await {
            Ok(Some(node)) => {
                if let Some(cidr) = local_pod_cidr(&node) {
                    return Some(cidr);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading the node failed"),
        }
        if asked.is_multiple_of(10) {
            tracing::info!(node = %name, "waiting for the node's podCIDR (from a controller-manager with --cluster-cidr)");
        }
        asked += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

/// Keeps the host's routes to the other nodes' pods current.
pub struct HostGw<H> {
    client: Client,
    node_name: String,
    host: H,
}

impl<H: HostNetwork> HostGw<H> {
    pub fn new(client: Client, node_name: impl Into<String>, host: H) -> Self {
        HostGw {
            client,
            node_name: node_name.into(),
            host,
        }
    }

    /// Applies the plan whenever a Node changes it, and every half minute regardless, until
    /// `shutdown`. Routes stay when the agent stops: its pods keep running.
    pub async fn run(self, shutdown: CancellationToken) {
        let nodes = Reflector::spawn(
            self.client.resource::<Node>(""),
            ListParams::default(),
            shutdown.clone(),
        );
        let mut events = nodes.subscribe();
        tokio::select! {
            () = nodes.wait_synced() => {}
            () = shutdown.cancelled() => return,
        }
        let mut applied: Option<Plan> = None;
        let mut resync = tokio::time::interval(RESYNC);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                event = events.recv() => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => false,
                    Err(RecvError::Closed) => return,
                },
                _ = resync.tick() => true,
                () = shutdown.cancelled() => return,
            };
            // One pass for a burst of changes.
            while events.try_recv().is_ok() {}
            let Some(plan) = plan(&self.node_name, &nodes.snapshot()) else {
                continue;
            };
            if !forced && applied.as_ref() == Some(&plan) {
                continue;
            }
            match self.host.apply(&plan).await {
                Ok(()) => {
                    if applied.as_ref() != Some(&plan) {
                        let routes: Vec<String> = plan
                            .routes
                            .iter()
                            .map(|r| format!("{} via {}", r.destination, r.gateway))
                            .collect();
                        tracing::info!(pod_cidr = %plan.local, routes = ?routes, "host-gw routes in place");
                    }
                    applied = Some(plan);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "programming host-gw routes failed; retrying");
                    applied = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{NodeAddress, NodeSpec, NodeStatus};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;

    fn node(name: &str, cidrs: &[&str], ip: Option<&str>) -> Node {
        Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                pod_cidr: cidrs.first().map(|c| (*c).to_owned()).unwrap_or_default(),
                pod_cidrs: cidrs.iter().map(|c| (*c).to_owned()).collect(),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                addresses: ip
                    .map(|ip| NodeAddress {
                        r#type: "InternalIP".into(),
                        address: ip.into(),
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn routes_go_to_every_other_node_with_a_cidr_and_an_address() {
        let nodes = [
            node("a", &["10.244.1.0/24"], Some("192.168.56.11")),
            node("b", &["10.244.2.0/24", "fd00:2::/64"], Some("192.168.56.12")),
            node("c", &[], Some("192.168.56.13")),
            node("d", &["10.244.4.0/24"], None),
            node("e", &["10.244.5.0/24"], Some("192.168.56.11")),
        ];
        let plan = plan("a", &nodes).unwrap();
        assert_eq!(plan.local, "10.244.1.0/24");
        assert_eq!(
            plan.routes.into_iter().collect::<Vec<_>>(),
            vec![Route {
                destination: "10.244.2.0/24".into(),
                gateway: "192.168.56.12".parse().unwrap(),
            }]
        );
    }

    #[test]
    fn no_plan_until_the_node_has_a_cidr() {
        let nodes = [
            node("a", &[], Some("192.168.56.11")),
            node("b", &["10.244.2.0/24"], Some("192.168.56.12")),
        ];
        assert_eq!(plan("a", &nodes), None);
        assert_eq!(plan("missing", &nodes), None);
        let mut single = node("a", &[], None);
        single.spec.as_mut().unwrap().pod_cidr = "10.244.7.0/24".into();
        assert_eq!(local_pod_cidr(&single).as_deref(), Some("10.244.7.0/24"));
    }
}
