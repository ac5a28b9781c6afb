//! The controller-manager's loop: reflectors for nodes, pods and node Leases; every period, a
//! pass of each controller over one snapshot. With leader election only the Lease holder
//! runs passes; the others wait to take over.

use std::time::Duration;

use podium_client::leader::{LeaderElector, LeaseTimings};
use podium_client::{Client, ListParams, Reflector};
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Node, Pod};
use tokio_util::sync::CancellationToken;

use crate::pod_cidr::Cidr;
use crate::{Snapshot, node_lifecycle, pod_cidr, pod_gc, taint_eviction};

/// How the controllers behave.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often each controller makes a pass.
    pub period: Duration,
    /// A node silent this long is Unknown (Kubernetes' node-monitor-grace-period).
    pub node_monitor_grace: Duration,
    /// Terminated pods kept before the oldest are deleted.
    pub terminated_pod_gc_threshold: usize,
    /// Where node pod CIDRs come from; none: no CIDRs are given.
    pub cluster_cidr: Option<Cidr>,
    /// The size of each node's block.
    pub node_cidr_mask: u8,
    /// Run only while holding this Lease (namespace, name, identity).
    pub leader_election: Option<(String, String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            period: Duration::from_secs(1),
            node_monitor_grace: Duration::from_secs(40),
            terminated_pod_gc_threshold: 12_500,
            cluster_cidr: None,
            node_cidr_mask: 24,
            leader_election: None,
        }
    }
}

/// Runs the controllers until `shutdown`.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) {
    loop {
        // As a standby: wait for the Lease; as the leader: work until it is lost.
        let lost = CancellationToken::new();
        if let Some((namespace, name, identity)) = &config.leader_election {
            let elector = LeaderElector::new(client.clone(), namespace, name, identity, LeaseTimings::default());
            if !elector.acquire(&shutdown).await {
                return;
            }
            tracing::info!(identity = %identity, "became the leader");
            let keeper = elector.clone();
            let (lost2, shutdown2) = (lost.clone(), shutdown.clone());
            tokio::spawn(async move { keeper.keep(lost2, shutdown2).await });
        }
        let stop = CancellationToken::new();
        work(&client, &config, &stop, &lost, &shutdown).await;
        stop.cancel();
        if shutdown.is_cancelled() || config.leader_election.is_none() {
            return;
        }
        tracing::warn!("lost the leader Lease; standing by");
    }
}

async fn work(
    client: &Client,
    config: &Config,
    stop: &CancellationToken,
    lost: &CancellationToken,
    shutdown: &CancellationToken,
) {
    let nodes = Reflector::spawn(client.resource::<Node>(""), ListParams::default(), stop.clone());
    let pods = Reflector::spawn(client.resource::<Pod>(""), ListParams::default(), stop.clone());
    let leases = Reflector::spawn(
        client.resource::<Lease>(crate::node_lifecycle::LEASE_NAMESPACE),
        ListParams::default(),
        stop.clone(),
    );
    tokio::select! {
        () = async { nodes.wait_synced().await; pods.wait_synced().await; leases.wait_synced().await } => {}
        () = shutdown.cancelled() => return,
        () = lost.cancelled() => return,
    }
    tracing::info!("controllers running");
    let mut tick = tokio::time::interval(config.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
            () = lost.cancelled() => return,
        }
        let snapshot = Snapshot {
            nodes: nodes.snapshot(),
            pods: pods.snapshot(),
            leases: leases
                .snapshot()
                .into_iter()
                .map(|l| (crate::name_of(&l.metadata).to_owned(), l))
                .collect(),
            now: chrono::Utc::now().timestamp_micros() as f64 / 1e6,
        };
        if let Err(e) = node_lifecycle::reconcile(client, &snapshot, config.node_monitor_grace.as_secs_f64()).await {
            tracing::warn!(error = %e, "node lifecycle pass failed");
        }
        if let Err(e) = taint_eviction::reconcile(client, &snapshot).await {
            tracing::warn!(error = %e, "taint eviction pass failed");
        }
        if let Err(e) = pod_gc::reconcile(client, &snapshot, config.terminated_pod_gc_threshold).await {
            tracing::warn!(error = %e, "pod garbage collection pass failed");
        }
        if let Some(cluster) = config.cluster_cidr
            && let Err(e) = pod_cidr::reconcile(client, &snapshot, cluster, config.node_cidr_mask).await
        {
            tracing::warn!(error = %e, "pod CIDR pass failed");
        }
    }
}
