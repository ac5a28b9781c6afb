//! The `agent` binary: flags, logging and signals around the agent library.
//!
//! The agent imports the pause image, registers its Node and keeps it current (status and
//! Lease), and runs the pods bound to it on Docker Engine.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use podium_agent::network::{HostGw, LinuxHost, wait_for_pod_cidr};
use podium_agent::node::{NodeAgent, NodeConfig, parse_labels, parse_taints};
use podium_agent::pause::ensure_pause_image;
use podium_agent::pod::dns::ResolvConf;
use podium_agent::pod::spec::NodeFacts;
use podium_agent::pod::{AgentContext, PodManager};
use podium_agent::runtime::{ContainerRuntime, DEFAULT_DOCKER_HOST, DockerRuntime, Instrumented};
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
    /// host-gw networking across hosts: wait for this node's podCIDR (from the
    /// controller-manager's --cluster-cidr), give the pod network that subnet, and route the
    /// other nodes' podCIDRs via their InternalIPs (needs root: ip, iptables, sysctl).
    #[arg(long, env = "PODIUM_HOST_GW")]
    host_gw: bool,
    /// The most processes each container may run (-1: no limit).
    #[arg(long, env = "PODIUM_POD_PIDS_LIMIT", default_value_t = -1, allow_negative_numbers = true)]
    pod_pids_limit: i64,
    /// The resolv.conf pods' DNS settings start from.
    #[arg(long, env = "PODIUM_RESOLV_CONF", default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    #[command(flatten)]
    log: podium_telemetry::LogArgs,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = podium_telemetry::init("agent", &args.log)?;
    podium_agent::metrics::register();
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
    let runtime = Arc::new(Instrumented::new(runtime));
    let node_name = config.name.clone();
    let agent = Arc::new(NodeAgent::new(client.clone(), runtime.clone(), config));
    let version = runtime.version().await?;
    let shutdown = CancellationToken::new();
    podium_client::signals::cancel_on_signal(shutdown.clone());
    tracing::info!(address = %listen, "agent endpoint listening on {listen} (health and Prometheus /metrics over HTTP; logs and exec over gRPC)");
    let service = AgentService::new(runtime.clone(), node_name.clone());
    let pods = async {
        let network_subnet = if args.host_gw {
            let Some(cidr) = wait_for_pod_cidr(&client, &node_name, &shutdown).await else {
                return Ok(());
            };
            runtime
                .ensure_network(&args.pod_network, Some(&cidr))
                .await
                .with_context(|| format!("giving the pod network {} the node's podCIDR", args.pod_network))?;
            tracing::info!(network = %args.pod_network, pod_cidr = %cidr, "pod network on the node's podCIDR; routing to the other nodes (host-gw)");
            Some(cidr)
        } else {
            None
        };
        let context = AgentContext {
            node_name: node_name.clone(),
            host_ip: agent.internal_ip().map(|ip| ip.to_string()).unwrap_or_default(),
            pause_image,
            network: args.pod_network.clone(),
            network_subnet,
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
        let manager = PodManager::new(client.clone(), runtime.clone(), context, shutdown.clone());
        if args.host_gw {
            let routes = HostGw::new(client.clone(), node_name.clone(), LinuxHost::new());
            tokio::join!(manager.run(), routes.run(shutdown.clone()));
        } else {
            manager.run().await;
        }
        anyhow::Ok(())
    };
    // A pod network that cannot be made stops the whole agent.
    let pods = async {
        let result = pods.await;
        if result.is_err() {
            shutdown.cancel();
        }
        result
    };
    let (_, pods, served) = tokio::join!(
        agent.clone().run(shutdown.clone()),
        pods,
        podium_agent::server::serve(listener, service, shutdown.clone())
    );
    telemetry.shutdown().await;
    pods?;
    served.context("serving the agent endpoint")?;
    tracing::info!("agent stopped; its pods keep running");
    Ok(())
}
