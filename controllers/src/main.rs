//! The `controller-manager` binary: flags, logging and signals around the controllers.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use podium_client::Client;
use podium_controllers::pod_cidr::Cidr;
use podium_controllers::{Config, run};
use podium_telemetry::metrics::Endpoint;
use tokio_util::sync::CancellationToken;

/// Podium's controller-manager: marks silent nodes Unknown and taints them, evicts pods from
/// NoExecute-tainted nodes, collects orphaned and surplus terminated pods, and gives nodes
/// pod CIDRs.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The apiserver's URL.
    #[arg(long, env = "PODIUM_APISERVER", default_value = "http://127.0.0.1:6443")]
    apiserver: String,
    /// Run only while holding the leader Lease, so several can stand by.
    #[arg(long, env = "PODIUM_LEADER_ELECT")]
    leader_elect: bool,
    /// The namespace of the leader Lease.
    #[arg(long, env = "PODIUM_LEASE_NAMESPACE", default_value = "kube-system")]
    lease_namespace: String,
    /// The name of the leader Lease.
    #[arg(long, env = "PODIUM_LEASE_NAME", default_value = "kube-controller-manager")]
    lease_name: String,
    /// This replica's identity in the Lease (default: `<hostname>_<uuid>`, as Kubernetes').
    #[arg(long, env = "PODIUM_IDENTITY")]
    identity: Option<String>,
    /// Seconds a node may stay silent before it is Unknown.
    #[arg(long, env = "PODIUM_NODE_MONITOR_GRACE_PERIOD", default_value_t = 40)]
    node_monitor_grace_period: u64,
    /// Milliseconds between passes of the controllers.
    #[arg(long, env = "PODIUM_CONTROLLER_PERIOD_MS", default_value_t = 1000)]
    period_ms: u64,
    /// Terminated pods kept before the oldest are deleted.
    #[arg(long, env = "PODIUM_TERMINATED_POD_GC_THRESHOLD", default_value_t = 12_500)]
    terminated_pod_gc_threshold: usize,
    /// The cluster's pod network (e.g. 10.244.0.0/16); nodes get blocks of it as podCIDR.
    #[arg(long, env = "PODIUM_CLUSTER_CIDR")]
    cluster_cidr: Option<String>,
    /// The prefix length of each node's block.
    #[arg(long, env = "PODIUM_NODE_CIDR_MASK_SIZE", default_value_t = 24)]
    node_cidr_mask_size: u8,
    /// Where health checks and Prometheus /metrics are served (kube-controller-manager's port).
    #[arg(long, env = "PODIUM_CONTROLLER_MANAGER_LISTEN", default_value = "0.0.0.0:10257")]
    listen: SocketAddr,
    #[command(flatten)]
    log: podium_telemetry::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = podium_telemetry::init("controller-manager", &args.log)?;
    let endpoint = Endpoint::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let cluster_cidr = args
        .cluster_cidr
        .as_deref()
        .map(Cidr::parse)
        .transpose()
        .context("--cluster-cidr")?;
    let identity = args.identity.unwrap_or_else(podium_client::leader::default_identity);
    let config = Config {
        period: Duration::from_millis(args.period_ms.max(10)),
        node_monitor_grace: Duration::from_secs(args.node_monitor_grace_period),
        terminated_pod_gc_threshold: args.terminated_pod_gc_threshold,
        cluster_cidr,
        node_cidr_mask: args.node_cidr_mask_size,
        leader_election: args
            .leader_elect
            .then(|| (args.lease_namespace.clone(), args.lease_name.clone(), identity.clone())),
    };
    tracing::info!(apiserver = %args.apiserver, identity = %identity, leader_elect = args.leader_elect, "controller-manager starting");
    let client = Client::new(&args.apiserver)?;
    let shutdown = CancellationToken::new();
    podium_client::signals::cancel_on_signal(shutdown.clone());
    let endpoint = endpoint.spawn(shutdown.clone().cancelled_owned());
    run(client, config, shutdown.clone()).await;
    shutdown.cancel();
    let _ = endpoint.await;
    telemetry.shutdown().await;
    tracing::info!("controller-manager stopped");
    Ok(())
}
