//! The `agent` binary: flags, logging and signals around the agent library.
//!
//! The agent imports the pause image, registers its Node and keeps it current (status and
//! Lease), and runs the pods bound to it on Docker Engine.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use podium_agent::node::{NodeAgent, NodeConfig, parse_labels, parse_taints};
use podium_agent::pause::ensure_pause_image;
use podium_agent::pod::dns::ResolvConf;
use podium_agent::pod::spec::NodeFacts;
use podium_agent::pod::{AgentContext, PodManager};
use podium_agent::runtime::{ContainerRuntime, DEFAULT_DOCKER_HOST, DockerRuntime};
use podium_agent::server::AgentService;
use podium_client::Client;
use tokio_util::sync::CancellationToken;

/// Podium's agent (its kubelet): registers this node with the apiserver, keeps its status and
/// heartbeat Lease current, and runs the pods bound to it on Docker Engine, each in a pause
/// sandbox.
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
    /// Where the agent's own endpoint listens (health; the node's daemonEndpoints port).
    #[arg(long, env = "PODIUM_AGENT_LISTEN", default_value = "0.0.0.0:10250")]
    listen: SocketAddr,
    /// The node's address (default: detected).
    #[arg(long, env = "PODIUM_NODE_IP")]
    node_ip: Option<IpAddr>,
    /// The Docker bridge network every pod of the cluster joins (created when missing).
    #[arg(long, env = "PODIUM_POD_NETWORK", default_value = "podium")]
    pod_network: String,
    /// The most processes each container may run (-1: no limit).
    #[arg(long, env = "PODIUM_POD_PIDS_LIMIT", default_value_t = -1, allow_negative_numbers = true)]
    pod_pids_limit: i64,
    /// The resolv.conf pods' DNS settings start from.
    #[arg(long, env = "PODIUM_RESOLV_CONF", default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
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
    let labels = parse_labels(&args.node_labels)?;
    let taints = parse_taints(&args.register_with_taints)?;
    std::fs::create_dir_all(&args.root_dir)
        .with_context(|| format!("creating the root directory {}", args.root_dir.display()))?;
    let runtime = DockerRuntime::connect(&args.docker_host)
        .await
        .context("the agent needs Docker Engine")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let listen = listener.local_addr()?;
    let config = NodeConfig {
        name: args.node_name.unwrap_or_else(hostname),
        labels,
        taints,
        max_pods: args.max_pods,
        root_dir: args.root_dir.clone(),
        port: listen.port(),
        node_ip: args.node_ip,
    };
    let pause_binary = match args.pause_binary {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("pause"),
    };
    let pause_image = ensure_pause_image(&runtime, &pause_binary)
        .await
        .context("preparing the pause image")?;
    tracing::info!(image = %pause_image, "pause image ready");
    tracing::info!(node = %config.name, apiserver = %args.apiserver, docker = %runtime.endpoint(), network = %args.pod_network, "agent starting");
    let client = Client::new(&args.apiserver)?;
    let runtime = Arc::new(runtime);
    let node_name = config.name.clone();
    let agent = Arc::new(NodeAgent::new(client.clone(), runtime.clone(), config));
    let version = runtime.version().await?;
    let context = AgentContext {
        node_name,
        host_ip: agent.internal_ip().map(|ip| ip.to_string()).unwrap_or_default(),
        pause_image,
        network: args.pod_network,
        pods_dir: args.root_dir.join("pods"),
        node_resolv: ResolvConf::parse(&std::fs::read_to_string(&args.resolv_conf).unwrap_or_default()),
        runtime_name: version.name,
        node: NodeFacts {
            cpu_milli: i64::try_from(agent.facts().cpus * 1000).unwrap_or(i64::MAX),
            memory_bytes: i64::try_from(agent.facts().memory_bytes).unwrap_or(i64::MAX),
            cgroup_driver: version.cgroup_driver,
            pids_limit: (args.pod_pids_limit > 0).then_some(args.pod_pids_limit),
        },
    };
    let shutdown = CancellationToken::new();
    podium_client::signals::cancel_on_signal(shutdown.clone());
    tracing::info!(address = %listen, "agent endpoint listening on {listen} (health over HTTP; logs and exec over gRPC)");
    let service = AgentService::new(runtime.clone(), context.node_name.clone());
    let pods = PodManager::new(client, runtime, context, shutdown.clone());
    let (_, _, served) = tokio::join!(
        agent.run(shutdown.clone()),
        pods.run(),
        podium_agent::server::serve(listener, service, shutdown)
    );
    served.context("serving the agent endpoint")?;
    tracing::info!("agent stopped; its pods keep running");
    Ok(())
}
