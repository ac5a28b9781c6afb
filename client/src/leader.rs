//! Leader election through a Lease, as client-go's leaderelection: one replica (of the
//! scheduler, of the controller-manager) acts, the others wait, and a standby takes over once the leader stops renewing for the lease
//! duration. The apiserver's optimistic concurrency makes each take-over atomic.

use std::time::Duration;

use crate::Client;
use podium_proto::k8s::coordination::v1::{Lease, LeaseSpec};
use podium_proto::k8s::meta::v1::{MicroTime, ObjectMeta};
use tokio_util::sync::CancellationToken;

/// Timings, with client-go's defaults.
#[derive(Debug, Clone)]
pub struct LeaseTimings {
    /// How long a lease holds without renewal.
    pub lease_duration: Duration,
    /// A leader that cannot renew for this long steps down.
    pub renew_deadline: Duration,
    /// How often candidates try and leaders renew.
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A candidate's identity as Kubernetes' components make it: the host's name and a fresh UUID
/// (`<hostname>_<uuid>`), so a Lease's holder names the machine or container it runs on and
/// two replicas on one host still differ.
pub fn default_identity() -> String {
    // The kernel's name for this host (a container's is its short ID); $HOSTNAME elsewhere.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{hostname}_{}", uuid::Uuid::new_v4())
}

#[derive(Debug, Clone)]
pub struct LeaderElector {
    client: Client,
    namespace: String,
    name: String,
    identity: String,
    timings: LeaseTimings,
}

fn micros(t: &MicroTime) -> i64 {
    t.seconds * 1_000_000 + i64::from(t.nanos / 1000)
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str, timings: LeaseTimings) -> Self {
        LeaderElector {
            client,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
        }
    }

    /// One try: takes the lease if it is free or expired, renews it if ours. True when we
    /// hold it afterwards.
    pub async fn try_acquire_or_renew(&self) -> bool {
        let leases = self.client.resource::<Lease>(&self.namespace);
        let now = podium_proto::now_micro();
        let duration = i32::try_from(self.timings.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let current = match leases.get_opt(&self.name).await {
            Ok(current) => current,
            Err(e) => {
                tracing::debug!(error = %e, "reading the leader lease failed");
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: Some(ObjectMeta {
                    name: self.name.clone(),
                    ..Default::default()
                }),
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            };
            return leases.create(lease).await.is_ok();
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !ours {
            let held_for = i64::from(spec.lease_duration_seconds.unwrap_or(duration)) * 1_000_000;
            let expires = spec.renew_time.as_ref().map_or(0, micros) + held_for;
            let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
            if !free && expires > micros(&now) {
                return false;
            }
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(now);
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            tracing::info!(lease = %self.name, identity = %self.identity, "taking over the leader lease");
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(duration);
        // The update carries the resourceVersion read above: a rival's write in between wins.
        leases.update(lease).await.is_ok()
    }

    /// Waits until this candidate leads (or `shutdown`); false on shutdown.
    pub async fn acquire(&self, shutdown: &CancellationToken) -> bool {
        loop {
            if self.try_acquire_or_renew().await {
                tracing::info!(lease = %self.name, identity = %self.identity, "became the leader");
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep(self.timings.retry_period) => {}
                () = shutdown.cancelled() => return false,
            }
        }
    }

    /// Renews the lease until `shutdown`; cancels `lost` if renewal fails for longer than the
    /// renew deadline.
    pub async fn keep(&self, lost: CancellationToken, shutdown: CancellationToken) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.timings.retry_period) => {}
                () = shutdown.cancelled() => return,
            }
            if self.try_acquire_or_renew().await {
                last_renewal = tokio::time::Instant::now();
            } else if last_renewal.elapsed() > self.timings.renew_deadline {
                tracing::error!(lease = %self.name, "lost the leader lease");
                lost.cancel();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_identity_names_the_host_and_differs_per_replica() {
        let (a, b) = (default_identity(), default_identity());
        assert_ne!(a, b);
        let (host, id) = a.rsplit_once('_').unwrap();
        assert!(!host.is_empty(), "{a}");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{a}");
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host, kernel.trim());
    }
}
