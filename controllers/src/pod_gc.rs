//! Pod garbage collection: pods bound to a node that no longer exists are force-deleted, and
//! terminated pods (Succeeded or Failed) beyond a threshold are deleted, oldest first.

use std::collections::HashSet;

use podium_client::Client;
use podium_proto::k8s::core::v1::Pod;
use podium_proto::k8s::meta::v1::DeleteOptions;

use crate::{Result, Snapshot, name_of};

/// Deletes `pod` (with `grace`), for `reason` as the metrics say it.
async fn delete(client: &Client, pod: &Pod, grace: Option<i64>, reason: &str) -> Result<()> {
    let meta = pod.metadata.clone().unwrap_or_default();
    let options = DeleteOptions {
        grace_period_seconds: grace,
        ..Default::default()
    };
    let result = client
        .resource::<Pod>(&meta.namespace)
        .delete(&meta.name, options)
        .await;
    let failed = matches!(&result, Err(e) if !e.is_not_found());
    crate::metrics::force_deleted(&meta.namespace, reason, failed);
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One pass.
pub async fn reconcile(client: &Client, snapshot: &Snapshot, terminated_threshold: usize) -> Result<()> {
    let nodes: HashSet<&str> = snapshot.nodes.iter().map(|n| name_of(&n.metadata)).collect();
    for pod in &snapshot.pods {
        let node = pod.spec.as_ref().map(|s| s.node_name.as_str()).unwrap_or_default();
        if !node.is_empty() && !nodes.contains(node) {
            tracing::info!(
                pod = name_of(&pod.metadata),
                node,
                "force-deleting a pod bound to a node that no longer exists"
            );
            delete(client, pod, Some(0), "orphaned").await?;
        }
    }
    let mut terminated: Vec<&Pod> = snapshot
        .pods
        .iter()
        // Those already being deleted are on their way and are not asked again each pass.
        .filter(|p| p.metadata.as_ref().is_none_or(|m| m.deletion_timestamp.is_none()))
        .filter(|p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.phase == "Succeeded" || s.phase == "Failed")
        })
        .collect();
    if terminated.len() > terminated_threshold {
        terminated.sort_by_key(|p| {
            p.metadata
                .as_ref()
                .and_then(|m| m.creation_timestamp)
                .map_or(0, |t| t.seconds)
        });
        for pod in &terminated[..terminated.len() - terminated_threshold] {
            delete(client, pod, None, "terminated").await?;
        }
    }
    Ok(())
}
