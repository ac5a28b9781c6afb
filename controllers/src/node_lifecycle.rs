//! Node lifecycle: a node whose Lease (and status heartbeat) is older than the grace period
//! gets its conditions set to Unknown ("Kubelet stopped posting node status.") and its pods
//! marked not ready; nodes get the `node.kubernetes.io/unreachable` taints while Unknown and
//! the `node.kubernetes.io/not-ready` taints while NotReady (NoSchedule and NoExecute), and
//! lose them when Ready again.

use podium_client::Client;
use podium_proto::k8s::core::v1::{Node, Pod, Taint};
use podium_proto::k8s::meta::v1::Time;

use crate::{Result, Snapshot, name_of};

/// Where nodes keep their heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
const NODE_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

fn ready_status(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.r#type == "Ready"))
        .map(|c| c.status.clone())
        .unwrap_or_else(|| "Unknown".into())
}

/// The node's last sign of life: its Lease's renewal or its Ready heartbeat, Unix seconds.
fn last_heartbeat(node: &Node, snapshot: &Snapshot) -> Option<f64> {
    let lease = snapshot
        .leases
        .get(name_of(&node.metadata))
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9);
    let status = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.r#type == "Ready"))
        .and_then(|c| c.last_heartbeat_time)
        .map(|t| t.seconds as f64);
    lease.into_iter().chain(status).reduce(f64::max)
}

/// The taints the node should carry for its Ready status.
fn wanted_taints(ready: &str) -> Vec<(&'static str, &'static str)> {
    match ready {
        "True" => vec![],
        "False" => vec![(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")],
        _ => vec![(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")],
    }
}

/// One pass over every node.
pub async fn reconcile(client: &Client, snapshot: &Snapshot, grace_seconds: f64) -> Result<()> {
    crate::metrics::zones(snapshot.nodes.iter().map(|n| (n, ready_status(n) == "True")));
    let nodes = client.resource::<Node>("");
    for node in &snapshot.nodes {
        let mut node = node.clone();
        let stale = last_heartbeat(&node, snapshot).is_none_or(|t| snapshot.now - t > grace_seconds);
        if stale && ready_status(&node) != "Unknown" {
            tracing::info!(
                node = name_of(&node.metadata),
                "node stopped posting status; marking it Unknown"
            );
            let now = Time::from_unix(snapshot.now as i64);
            let status = node.status.get_or_insert_with(Default::default);
            for kind in NODE_CONDITIONS {
                match status.conditions.iter_mut().find(|c| c.r#type == kind) {
                    Some(c) => {
                        c.status = "Unknown".into();
                        c.reason = "NodeStatusUnknown".into();
                        c.message = "Kubelet stopped posting node status.".into();
                        c.last_transition_time = Some(now);
                    }
                    None => status.conditions.push(podium_proto::k8s::core::v1::NodeCondition {
                        r#type: kind.into(),
                        status: "Unknown".into(),
                        reason: "NodeStatusNeverUpdated".into(),
                        message: "Kubelet never posted node status.".into(),
                        last_transition_time: Some(now),
                        ..Default::default()
                    }),
                }
            }
            node = nodes.update_status(node).await?;
            mark_pods_not_ready(client, snapshot, name_of(&node.metadata)).await?;
        }
        let ready = ready_status(&node);
        let wanted = wanted_taints(&ready);
        let spec = node.spec.get_or_insert_with(Default::default);
        let before = spec.taints.clone();
        // Drop lifecycle taints that no longer apply, add the missing ones.
        spec.taints.retain(|t| {
            !(t.key == UNREACHABLE || t.key == NOT_READY) || wanted.contains(&(t.key.as_str(), t.effect.as_str()))
        });
        for (key, effect) in &wanted {
            if !spec.taints.iter().any(|t| t.key == *key && t.effect == *effect) {
                spec.taints.push(Taint {
                    key: (*key).into(),
                    effect: (*effect).into(),
                    time_added: (*effect == "NoExecute").then(|| Time::from_unix(snapshot.now as i64)),
                    ..Default::default()
                });
            }
        }
        if spec.taints != before {
            tracing::info!(node = name_of(&node.metadata), ready = %ready, "updating the node's lifecycle taints");
            nodes.update(node).await?;
        }
    }
    Ok(())
}

/// Sets Ready=False on the pods of a node that stopped reporting.
async fn mark_pods_not_ready(client: &Client, snapshot: &Snapshot, node: &str) -> Result<()> {
    let now = Time::from_unix(snapshot.now as i64);
    for pod in snapshot
        .pods
        .iter()
        .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name == node))
    {
        let mut pod: Pod = pod.clone();
        let namespace = pod.metadata.as_ref().map(|m| m.namespace.clone()).unwrap_or_default();
        let Some(status) = pod.status.as_mut() else { continue };
        let mut changed = false;
        for c in status
            .conditions
            .iter_mut()
            .filter(|c| c.r#type == "Ready" && c.status != "False")
        {
            c.status = "False".into();
            c.reason = "NodeNotReady".into();
            c.message = String::new();
            c.last_transition_time = Some(now);
            changed = true;
        }
        if changed {
            if let Some(m) = pod.metadata.as_mut() {
                m.resource_version.clear();
            }
            client.resource::<Pod>(&namespace).update_status(pod).await?;
        }
    }
    Ok(())
}
