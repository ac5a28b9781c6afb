//! The `agent` binary: flags, logging and signals around the agent library.
//!
//! So far the agent imports the pause image, registers its Node against the real container
//! runtime and keeps it current (status and Lease); running pods comes next.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use podium_agent::node::{NodeAgent, NodeConfig, parse_labels, parse_taints};
use podium_agent::pause::ensure_pause_image;
use podium_agent::runtime::{DEFAULT_DOCKER_HOST, DockerRuntime};
use podium_client::Client;
use tokio_util::sync::CancellationToken;

/// Podium's agent (its kubelet): registers this node with the apiserver and keeps its status
/// and heartbeat Lease current.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The apiserver's URL.
    #[arg(long, env = "PODIUM_APISERVER", default_value = "http://127.0.0.1:6443")]
    apiserver: String,
    /// The Node's name (default: the host name).
    #[arg(long, env = "PODIUM_NODE_NAME")]
    node_name: Option<String>,
    /// Docker Engine's endpoint.
    #[arg(long, env = "DOCKER_HOST", default_value = DEFAULT_DOCKER_HOST)]
    docker_host: String,
    /// Extra node labels, `key=value,...`.
    #[arg(long, env = "PODIUM_NODE_LABELS", default_value = "")]
    node_labels: String,
    /// Taints to register with, `key=value:Effect,...`.
    #[arg(long, env = "PODIUM_REGISTER_WITH_TAINTS", default_value = "")]
    register_with_taints: String,
    /// The most pods this node runs.
    #[arg(long, env = "PODIUM_MAX_PODS", default_value_t = 110)]
    max_pods: u32,
    /// Where pod data lives; its disk is the node's ephemeral storage.
    #[arg(long, env = "PODIUM_ROOT_DIR", default_value = "/var/lib/podium-agent")]
    root_dir: PathBuf,
    /// The `pause` binary the pods' sandbox image is made from (default: next to this one).
    #[arg(long, env = "PODIUM_PAUSE_BINARY")]
    pause_binary: Option<PathBuf>,
    /// The node's address (default: detected).
    #[arg(long, env = "PODIUM_NODE_IP")]
    node_ip: Option<IpAddr>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let config = NodeConfig {
        name: args.node_name.unwrap_or_else(hostname),
        labels: parse_labels(&args.node_labels)?,
        taints: parse_taints(&args.register_with_taints)?,
        max_pods: args.max_pods,
        root_dir: args.root_dir.clone(),
        port: 10250,
        node_ip: args.node_ip,
    };
    std::fs::create_dir_all(&args.root_dir)
        .with_context(|| format!("creating the root directory {}", args.root_dir.display()))?;
    let runtime = DockerRuntime::connect(&args.docker_host)
        .await
        .context("the agent needs Docker Engine")?;
    let pause_binary = match args.pause_binary {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("pause"),
    };
    let pause_image = ensure_pause_image(&runtime, &pause_binary)
        .await
        .context("preparing the pause image")?;
    tracing::info!(image = %pause_image, "pause image ready");
    tracing::info!(node = %config.name, apiserver = %args.apiserver, docker = %runtime.endpoint(), "agent starting");
    let client = Client::new(&args.apiserver)?;
    let agent = Arc::new(NodeAgent::new(client, Arc::new(runtime), config));
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            tracing::info!("shutting down");
            shutdown.cancel();
        });
    }
    agent.run(shutdown).await;
    Ok(())
}
