//! Namespaces: the built-in ones, and the loop that empties and removes terminating ones.
//!
//! Deleting a namespace marks it Terminating (its `kubernetes` finalizer holds it). The loop
//! deletes everything in it, waits until nothing is left (bound pods wait for their agents),
//! then removes the finalizer, which removes the namespace.

use std::time::Duration;

use podium_api::{ApiError, Resource};
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Pod};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use tokio_util::sync::CancellationToken;

use super::update::{into_object, settle};
use super::{Api, Kind, Result};

/// The namespaces every cluster has from its first start.
pub const BUILTIN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The built-in priority classes and their values.
pub const BUILTIN_PRIORITY_CLASSES: [(&str, i32, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// How often terminating namespaces are looked at.
const FINALIZE_INTERVAL: Duration = Duration::from_secs(1);

/// Creates the built-in namespaces and priority classes that are missing.
pub(super) async fn bootstrap(api: &Api) -> Result<()> {
    for name in BUILTIN_NAMESPACES {
        let ns = Namespace {
            metadata: Some(named(name)),
            ..Default::default()
        };
        ignore_exists(api.create("", ns).await)?;
    }
    for (name, value, description) in BUILTIN_PRIORITY_CLASSES {
        let class = PriorityClass {
            metadata: Some(named(name)),
            value,
            description: description.into(),
            ..Default::default()
        };
        ignore_exists(api.create("", class).await)?;
    }
    Ok(())
}

fn named(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: name.into(),
        ..Default::default()
    }
}

fn ignore_exists<T>(result: Result<T>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs until `shutdown`, finishing the deletion of terminating namespaces.
pub async fn run_namespace_finalizer(api: Api, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FINALIZE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let namespaces = match api.list_all::<Namespace>("") {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "listing namespaces failed");
                continue;
            }
        };
        for ns in namespaces
            .iter()
            .filter(|ns| ns.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_some()))
        {
            if let Err(e) = finalize(&api, ns.name()).await {
                tracing::warn!(namespace = ns.name(), error = %e, "finishing namespace deletion failed");
            }
        }
    }
}

/// One step of emptying a terminating namespace; removes it once empty.
async fn finalize(api: &Api, namespace: &str) -> Result<()> {
    let remaining = delete_all::<Pod>(api, namespace).await?
        + delete_all::<Event>(api, namespace).await?
        + delete_all::<Lease>(api, namespace).await?;
    if remaining > 0 {
        return Ok(());
    }
    let Some(ns) = api.try_get::<Namespace>("", namespace)? else {
        return Ok(());
    };
    let mut finalizers = ns.spec.map(|s| s.finalizers).unwrap_or_default();
    finalizers.retain(|f| f != "kubernetes");
    api.finalize_namespace(namespace, finalizers).await?;
    tracing::info!(namespace, "namespace deleted");
    Ok(())
}

impl Api {
    /// Replaces a namespace's spec.finalizers (the namespaces/finalize subresource); a
    /// terminating namespace left with no finalizers is removed.
    pub async fn finalize_namespace(&self, name: &str, finalizers: Vec<String>) -> Result<Namespace> {
        let owned = name.to_owned();
        let next = self
            .modify::<Namespace, _>("", name, move |old| {
                let old = old.ok_or_else(|| ApiError::not_found("namespaces", &owned))?;
                let mut ns = old.clone();
                ns.spec.get_or_insert_with(Default::default).finalizers = finalizers;
                Ok(settle(ns, old))
            })
            .await?;
        Ok(into_object(next))
    }
}

/// Deletes every object of a kind in a namespace; returns how many are still there.
async fn delete_all<K: Kind>(api: &Api, namespace: &str) -> Result<usize> {
    let objects = api.list_all::<K>(namespace)?;
    let mut remaining = 0;
    for obj in &objects {
        match api.delete::<K>(namespace, obj.name(), DeleteOptions::default()).await {
            Ok(after) if after.metadata().is_some_and(|m| m.deletion_timestamp.is_some()) => remaining += 1,
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(remaining)
}
