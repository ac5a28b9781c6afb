//! The `scheduler` binary: flags, logging and signals around `podium_scheduler::run`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use podium_scheduler::{Config, run};
use podium_telemetry::metrics::Endpoint;
use tokio_util::sync::CancellationToken;

/// Podium's scheduler: binds pending pods to nodes with Kubernetes' scheduling framework.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The apiserver's URL.
    #[arg(long, env = "PODIUM_APISERVER", default_value = "http://127.0.0.1:6443")]
    apiserver: String,
    /// Schedule only pods whose spec.schedulerName is this.
    #[arg(long, env = "PODIUM_SCHEDULER_NAME", default_value = "default-scheduler")]
    scheduler_name: String,
    /// Run only while holding the leader Lease, so several schedulers can stand by.
    #[arg(long, env = "PODIUM_LEADER_ELECT")]
    leader_elect: bool,
    /// The namespace of the leader Lease.
    #[arg(long, env = "PODIUM_LEASE_NAMESPACE", default_value = "kube-system")]
    lease_namespace: String,
    /// The name of the leader Lease.
    #[arg(long, env = "PODIUM_LEASE_NAME", default_value = "kube-scheduler")]
    lease_name: String,
    /// This scheduler's identity in the Lease (default: `<hostname>_<uuid>`, as Kubernetes').
    #[arg(long, env = "PODIUM_IDENTITY")]
    identity: Option<String>,
    /// Share of nodes to examine per pod in big clusters (0 = Kubernetes' adaptive default).
    #[arg(long, env = "PODIUM_PERCENTAGE_OF_NODES_TO_SCORE", default_value_t = 0)]
    percentage_of_nodes_to_score: u32,
    /// Where health checks and Prometheus /metrics are served (kube-scheduler's port).
    #[arg(long, env = "PODIUM_SCHEDULER_LISTEN", default_value = "0.0.0.0:10259")]
    listen: SocketAddr,
    #[command(flatten)]
    log: podium_telemetry::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = podium_telemetry::init("scheduler", &args.log)?;
    podium_scheduler::metrics::register();
    let endpoint = Endpoint::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let mut config = Config::new(&args.apiserver);
    config.scheduler_name = args.scheduler_name;
    config.leader_elect = args.leader_elect;
    config.lease_namespace = args.lease_namespace;
    config.lease_name = args.lease_name;
    if let Some(identity) = args.identity {
        config.identity = identity;
    }
    config.percentage_of_nodes_to_score = args.percentage_of_nodes_to_score;
    tracing::info!(apiserver = %config.apiserver, identity = %config.identity, "scheduler starting");
    let shutdown = CancellationToken::new();
    podium_client::signals::cancel_on_signal(shutdown.clone());
    let endpoint = endpoint.spawn(shutdown.clone().cancelled_owned());
    let result = run(config, shutdown.clone()).await.context("scheduler stopped");
    shutdown.cancel();
    let _ = endpoint.await;
    telemetry.shutdown().await;
    result?;
    Ok(())
}
