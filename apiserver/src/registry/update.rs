//! Update and status update: optimistic concurrency on resourceVersion, system metadata kept,
//! status and spec each written only through their own path.

use std::sync::Arc;

use parking_lot::Mutex;
use podium_api::strategy::validate_metadata;
use podium_api::{ApiError, Resource};

use super::{Api, Kind, Result, abort, decode, encode, key, resource_name, storage_error};
use crate::store::{Rv, Stored, Write};

/// What a read-modify-write decided for one object.
pub(super) enum Next<K> {
    /// Store this new state.
    Put(K),
    /// Remove the object; this is its last state.
    Delete(K),
    /// Change nothing; this is the current state.
    Keep(K),
}

impl Api {
    /// Runs `f` on the current state of one object, atomically, and applies what it decides.
    /// The returned object carries the resourceVersion it has in the store afterwards.
    pub(super) async fn modify<K, F>(&self, namespace: &str, name: &str, f: F) -> Result<Next<K>>
    where
        K: Kind,
        F: FnOnce(Option<K>) -> Result<Next<K>> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<Next<K>>>> = Arc::new(Mutex::new(None));
        let mutation = {
            let slot = slot.clone();
            Box::new(move |current: Vec<Option<Stored>>| {
                let old = current
                    .into_iter()
                    .next()
                    .flatten()
                    .map(|s| decode::<K>(&s))
                    .transpose()
                    .map_err(abort)?;
                let next = f(old).map_err(abort)?;
                let write = match &next {
                    Next::Put(obj) => Some(Write::Put(encode(obj))),
                    Next::Delete(_) => Some(Write::Delete),
                    Next::Keep(_) => None,
                };
                *slot.lock() = Some(next);
                Ok(vec![write])
            })
        };
        let rv: Rv = self
            .store
            .mutate(vec![key::<K>(namespace, name)], mutation)
            .await
            .map_err(storage_error)?;
        let next = slot
            .lock()
            .take()
            .ok_or_else(|| ApiError::internal("mutation did not run"))?;
        Ok(match next {
            Next::Put(mut obj) => {
                obj.metadata_mut().resource_version = rv.to_string();
                obj.set_type_meta();
                Next::Put(obj)
            }
            Next::Delete(mut obj) => {
                obj.metadata_mut().resource_version = rv.to_string();
                obj.set_type_meta();
                Next::Delete(obj)
            }
            keep => keep,
        })
    }

    /// Replaces an object's spec and metadata (Kubernetes' PUT); its status is kept.
    pub async fn update<K: Kind>(&self, namespace: &str, mut obj: K) -> Result<K> {
        let namespace = request_namespace::<K>(namespace, &mut obj)?;
        let name = obj.name().to_owned();
        if name.is_empty() {
            return Err(ApiError::invalid(
                K::KIND,
                "",
                vec![podium_api::Cause::required("metadata.name")],
            ));
        }
        if K::CREATE_ON_UPDATE && self.try_get::<K>(&namespace, &name)?.is_none() {
            return self.create(&namespace, obj).await;
        }
        let next = self
            .modify::<K, _>(&namespace, &name, move |old| {
                let old = old.ok_or_else(|| ApiError::not_found(&resource_name::<K>(), obj.name()))?;
                check_resource_version(&obj, &old)?;
                keep_system_metadata(&mut obj, &old);
                obj.default_on_update();
                if K::HAS_STATUS {
                    obj.take_status_from(&mut old.clone());
                }
                let mut causes = validate_metadata::<K>(obj.metadata().unwrap_or(&Default::default()));
                causes.extend(obj.validate_update(&old));
                if !causes.is_empty() {
                    return Err(ApiError::invalid(K::KIND, obj.name(), causes));
                }
                if obj.spec_changed(&old) {
                    obj.metadata_mut().generation = old.metadata().map_or(0, |m| m.generation) + 1;
                }
                Ok(settle(obj, old))
            })
            .await?;
        Ok(into_object(next))
    }

    /// Replaces an object's status (the status subresource); nothing else changes.
    pub async fn update_status<K: Kind>(&self, namespace: &str, mut obj: K) -> Result<K> {
        if !K::HAS_STATUS {
            return Err(ApiError::not_found(&format!("{}/status", K::PLURAL), obj.name()));
        }
        let namespace = request_namespace::<K>(namespace, &mut obj)?;
        let name = obj.name().to_owned();
        let next = self
            .modify::<K, _>(&namespace, &name, move |old| {
                let old = old.ok_or_else(|| ApiError::not_found(&resource_name::<K>(), obj.name()))?;
                check_resource_version(&obj, &old)?;
                let mut merged = old.clone();
                merged.take_status_from(&mut obj);
                let causes = merged.validate_status_update(&old);
                if !causes.is_empty() {
                    return Err(ApiError::invalid(K::KIND, merged.name(), causes));
                }
                Ok(settle(merged, old))
            })
            .await?;
        Ok(into_object(next))
    }
}

/// The namespace a write applies to: the request's, which the object must agree with.
pub(super) fn request_namespace<K: Resource>(namespace: &str, obj: &mut K) -> Result<String> {
    if !K::NAMESPACED {
        return Ok(String::new());
    }
    let meta = obj.metadata_mut();
    if meta.namespace.is_empty() {
        meta.namespace = namespace.to_owned();
    } else if !namespace.is_empty() && meta.namespace != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if meta.namespace.is_empty() {
        return Err(ApiError::bad_request(
            "an empty namespace may not be set when a resource name is provided",
        ));
    }
    Ok(meta.namespace.clone())
}

/// A write that names a resourceVersion must name the current one.
pub(super) fn check_resource_version<K: Resource>(new: &K, old: &K) -> Result<()> {
    let given = new.resource_version();
    if !given.is_empty() && given != old.resource_version() {
        return Err(ApiError::modified(&super::resource_name::<K>(), old.name()));
    }
    Ok(())
}

/// Fields only the server sets are carried over from the stored object.
fn keep_system_metadata<K: Resource>(new: &mut K, old: &K) {
    let Some(old_meta) = old.metadata() else {
        return;
    };
    let meta = new.metadata_mut();
    meta.uid = old_meta.uid.clone();
    meta.creation_timestamp = old_meta.creation_timestamp;
    meta.deletion_timestamp = old_meta.deletion_timestamp;
    meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
    meta.generation = old_meta.generation;
    meta.generate_name = old_meta.generate_name.clone();
    meta.self_link.clear();
}

/// Decides between storing, deleting (an object being deleted whose last finalizer went)
/// and leaving alone (nothing changed, so no new resourceVersion).
pub(super) fn settle<K: Kind>(mut new: K, old: K) -> Next<K> {
    new.metadata_mut().resource_version = old.resource_version().to_owned();
    let meta = new.metadata();
    let finalized = meta.is_some_and(|m| {
        m.deletion_timestamp.is_some() && m.finalizers.is_empty() && m.deletion_grace_period_seconds == Some(0)
    });
    if finalized && !new.pending_finalizers() {
        return Next::Delete(new);
    }
    if new == old { Next::Keep(old) } else { Next::Put(new) }
}

pub(super) fn into_object<K>(next: Next<K>) -> K {
    match next {
        Next::Put(obj) | Next::Delete(obj) | Next::Keep(obj) => obj,
    }
}
