//! Delete: preconditions, graceful deletion and finalizers.
//!
//! An object with a grace period (a pod bound to a node) is only marked: deletionTimestamp
//! and deletionGracePeriodSeconds are set, and it goes when its agent confirms with grace 0.
//! An object with finalizers is marked and goes when the last finalizer is removed. Anything
//! else goes at once.

use podium_api::{ApiError, Resource};
use podium_proto::k8s::meta::v1::{DeleteOptions, Time};

use super::update::{Next, into_object};
use super::{Api, Kind, Result};

impl Api {
    /// Deletes (or marks for deletion) one object; returns its last or marked state.
    pub async fn delete<K: Kind>(&self, namespace: &str, name: &str, options: DeleteOptions) -> Result<K> {
        let owned_name = name.to_owned();
        let next = self
            .modify::<K, _>(namespace, name, move |old| {
                let old = old.ok_or_else(|| ApiError::not_found(&super::resource_name::<K>(), &owned_name))?;
                check_preconditions(&options, &old)?;
                old.check_delete()?;
                decide(old, &options)
            })
            .await?;
        Ok(into_object(next))
    }
}

fn check_preconditions<K: Resource>(options: &DeleteOptions, old: &K) -> Result<()> {
    let Some(pre) = &options.preconditions else {
        return Ok(());
    };
    let resource = super::resource_name::<K>();
    if let Some(uid) = &pre.uid
        && uid != old.uid()
    {
        return Err(ApiError::conflict(
            &resource,
            old.name(),
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                old.uid()
            ),
        ));
    }
    if let Some(rv) = &pre.resource_version
        && rv != old.resource_version()
    {
        return Err(ApiError::conflict(
            &resource,
            old.name(),
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                old.resource_version()
            ),
        ));
    }
    Ok(())
}

fn decide<K: Kind>(old: K, options: &DeleteOptions) -> Result<Next<K>> {
    let default_grace = old.default_grace_seconds();
    let mut grace = options.grace_period_seconds.unwrap_or(default_grace);
    if default_grace == 0 {
        // Kinds and pods that need no graceful stop (unbound or finished pods) go at once.
        grace = 0;
    }
    if grace < 0 {
        grace = 1;
    }
    let meta = old.metadata().cloned().unwrap_or_default();
    let blocked = !meta.finalizers.is_empty() || old.pending_finalizers();
    if grace == 0 && !blocked {
        return Ok(Next::Delete(old));
    }
    if let (Some(_), Some(current)) = (meta.deletion_timestamp, meta.deletion_grace_period_seconds)
        && current <= grace
    {
        // Already being deleted at least this soon.
        return Ok(Next::Keep(old));
    }
    let mut obj = old;
    let now = podium_proto::now().seconds;
    let meta = obj.metadata_mut();
    meta.deletion_timestamp = Some(Time::from_unix(now + grace));
    meta.deletion_grace_period_seconds = Some(grace);
    if grace > 0 {
        meta.generation += 1;
    }
    obj.mark_terminating();
    Ok(Next::Put(obj))
}
