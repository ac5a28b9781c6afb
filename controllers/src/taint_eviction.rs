//! Taint-based eviction: a pod on a node with NoExecute taints it does not tolerate is deleted
//! at once; one that tolerates them for tolerationSeconds is deleted that long after the taint
//! was added, unless the taint goes first (each pass looks at the taints as they are now).

use podium_api::pod::tolerations::tolerates;
use podium_client::Client;
use podium_proto::k8s::core::v1::{Node, Pod};
use podium_proto::k8s::meta::v1::DeleteOptions;

use crate::{Result, Snapshot, name_of};

/// When `pod` must go from `node` (Unix seconds), or `None` while it may stay for good.
pub fn eviction_time(node: &Node, pod: &Pod) -> Option<f64> {
    let taints = node.spec.as_ref().map(|s| s.taints.as_slice()).unwrap_or_default();
    let tolerations = pod.spec.as_ref().map(|s| s.tolerations.as_slice()).unwrap_or_default();
    let mut deadline: Option<f64> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<_> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        let added = taint.time_added.map_or(0.0, |t| t.seconds as f64);
        let at = if matching.is_empty() {
            Some(f64::NEG_INFINITY)
        } else {
            // The shortest tolerationSeconds of the matching tolerations; none means forever.
            matching
                .iter()
                .filter_map(|t| t.toleration_seconds)
                .min()
                .map(|s| added + s.max(0) as f64)
        };
        if let Some(at) = at {
            deadline = Some(deadline.map_or(at, |d| d.min(at)));
        }
    }
    deadline
}

/// One pass: deletes every pod whose eviction time has come.
pub async fn reconcile(client: &Client, snapshot: &Snapshot) -> Result<()> {
    for node in &snapshot.nodes {
        let tainted = node
            .spec
            .as_ref()
            .is_some_and(|s| s.taints.iter().any(|t| t.effect == "NoExecute"));
        if !tainted {
            continue;
        }
        let node_name = name_of(&node.metadata);
        for pod in &snapshot.pods {
            let meta = pod.metadata.clone().unwrap_or_default();
            let on_node = pod.spec.as_ref().is_some_and(|s| s.node_name == node_name);
            if !on_node || meta.deletion_timestamp.is_some() {
                continue;
            }
            let Some(at) = eviction_time(node, pod) else { continue };
            if at <= snapshot.now {
                tracing::info!(pod = %meta.name, namespace = %meta.namespace, node = node_name, "evicting a pod that does not tolerate the node's NoExecute taints");
                match client
                    .resource::<Pod>(&meta.namespace)
                    .delete(&meta.name, DeleteOptions::default())
                    .await
                {
                    Ok(_) => crate::metrics::evicted(&crate::metrics::zone(node)),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}
