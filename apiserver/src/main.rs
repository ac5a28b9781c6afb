//! The `apiserver` binary: flags, logging and signals around `podium_apiserver::start`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use podium_apiserver::store::SledStoreOptions;
use podium_apiserver::{Config, start};
use tokio_util::sync::CancellationToken;

/// Object decoding and encoding allocate many small strings; mimalloc serves them faster than
/// the system allocator (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Podium's apiserver: stores pods, nodes, namespaces, events, leases and priority classes,
/// and serves the Kubernetes API over gRPC and Kubernetes' REST API on one port.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (gRPC and REST share it).
    #[arg(long, env = "PODIUM_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Directory of the durable store; created if missing.
    #[arg(long, env = "PODIUM_DATA_DIR", default_value = "./podium-data")]
    data_dir: PathBuf,
    /// Most store commits kept for resuming watches.
    #[arg(long, env = "PODIUM_HISTORY_MAX_COMMITS", default_value_t = 200_000)]
    history_max_commits: u64,
    /// Write a kubeconfig for this server to this path once it listens.
    #[arg(long, env = "PODIUM_WRITE_KUBECONFIG")]
    write_kubeconfig: Option<PathBuf>,
    /// Oldest store commit kept for resuming watches, in seconds.
    #[arg(long, env = "PODIUM_HISTORY_MAX_AGE_SECONDS", default_value_t = 300)]
    history_max_age_seconds: u64,
    /// Requests served at once, watches, log follows and exec aside; beyond it clients get
    /// 429 (gRPC: RESOURCE_EXHAUSTED) with Retry-After.
    #[arg(long, env = "PODIUM_MAX_REQUESTS_INFLIGHT", default_value_t = podium_apiserver::server::MAX_REQUESTS_INFLIGHT)]
    max_requests_inflight: usize,
    /// Seconds a request may take, watches, log follows and exec aside (then 504).
    #[arg(long, env = "PODIUM_REQUEST_TIMEOUT_SECONDS", default_value_t = 60)]
    request_timeout_seconds: u64,
    #[command(flatten)]
    log: podium_telemetry::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = podium_telemetry::init("apiserver", &args.log)?;
    let mut config = Config::new(args.listen, args.data_dir.clone());
    config.max_requests_inflight = args.max_requests_inflight;
    config.request_timeout = Duration::from_secs(args.request_timeout_seconds);
    config.store = SledStoreOptions {
        history_max_commits: args.history_max_commits,
        history_max_age: Duration::from_secs(args.history_max_age_seconds),
        ..SledStoreOptions::default()
    };
    let shutdown = CancellationToken::new();
    let server = start(config, shutdown.clone())
        .await
        .context("starting the apiserver")?;
    tracing::info!(
        address = %server.local_addr,
        data_dir = %args.data_dir.display(),
        "apiserver listening on {} (gRPC and Kubernetes REST; Prometheus metrics at /metrics)",
        server.local_addr
    );
    if let Some(path) = &args.write_kubeconfig {
        let url = format!("http://{}", server.local_addr);
        podium_apiserver::kubeconfig::write_kubeconfig(path, &url)
            .with_context(|| format!("writing the kubeconfig to {}", path.display()))?;
        tracing::info!(path = %path.display(), "kubeconfig written; use: kubectl --kubeconfig {}", path.display());
    }
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    });
    let served = server.wait().await.context("serving");
    telemetry.shutdown().await;
    served?;
    Ok(())
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
