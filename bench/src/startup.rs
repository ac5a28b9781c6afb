//! Pod start-up on one node: create → Running as a watch sees it, for one pod at a time and
//! for a burst created at once, beside raw Docker starting the same pause + app containers
//! (`docker run`, then `docker run --network container:<pause>`) in the same run; then a full
//! node (110 pods) all Running, with the agent's and a pause container's resident memory.
//!
//! Last, the probe overhead: the same full node with every pod running an exec liveness probe
//! every 10 s and an httpGet readiness probe every 5 s, beside the full node without probes.
//!
//! Pods carry `spec.nodeName`, so the numbers are the apiserver's and the agent's (no
//! scheduler). The app container is the busybox test image running `sleep`; the pause image
//! is the one the agent imports.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use parking_lot::Mutex;
use podium_client::{Client, WatchParams};
use podium_proto::k8s::core::v1::{Container, ExecAction, HttpGetAction, Node, Pod, PodSpec, Probe};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta};
use tokio::process::Command;

use crate::pods::NAMESPACE;
use crate::process::{Binaries, Service, start_agent, start_apiserver};
use crate::progress;
use crate::stats::{Latencies, Summary, ms, verdict};

/// The node the agent registers.
const NODE: &str = "bench-node";
/// The Docker network of the benchmark's pods (and of the raw Docker runs).
const NETWORK: &str = "podium-bench";
/// Labels the raw Docker containers carry, so they can be removed.
const RAW_LABEL: &str = "io.podium.bench=raw";

#[derive(Debug, Clone, clap::Args)]
pub struct StartupArgs {
    /// Pods started one after the other (each deleted before the next).
    #[arg(long, default_value_t = 20)]
    pub sequential: usize,
    /// Pods created at once.
    #[arg(long, default_value_t = 30)]
    pub burst: usize,
    /// Pods on the full node.
    #[arg(long, default_value_t = 110)]
    pub full: usize,
}

pub struct Report {
    args: StartupArgs,
    one: Summary,
    one_docker: Summary,
    burst: Summary,
    burst_docker: Summary,
    full_time: Duration,
    agent_rss: u64,
    agent_peak: u64,
    pause_rss: u64,
    agent_cores_full: f64,
    agent_cores_probes: f64,
    agent_rss_probes: u64,
}

/// How long the agent's CPU is measured on a full node.
const IDLE_WINDOW: Duration = Duration::from_secs(30);
const PROBE_WINDOW: Duration = Duration::from_secs(60);

/// A pod serving HTTP with both probes.
fn probed_pod(name: &str, image: &str) -> Pod {
    let mut pod = bench_pod(name, image);
    let container = &mut pod.spec.as_mut().expect("a spec").containers[0];
    container.command = [
        "sh",
        "-c",
        "mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www",
    ]
    .map(String::from)
    .to_vec();
    container.liveness_probe = Some(Probe {
        exec: Some(ExecAction {
            command: vec!["true".into()],
        }),
        period_seconds: 10,
        ..Default::default()
    });
    container.readiness_probe = Some(Probe {
        http_get: Some(HttpGetAction {
            path: "/".into(),
            port: Some(podium_proto::k8s::meta::v1::IntOrString::int(8080)),
            ..Default::default()
        }),
        period_seconds: 5,
        ..Default::default()
    });
    pod
}

/// When each pod was first seen Running.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

fn bench_pod(name: &str, image: &str) -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: name.to_owned(),
            namespace: NAMESPACE.to_owned(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            node_name: NODE.to_owned(),
            termination_grace_period_seconds: Some(0),
            containers: vec![Container {
                name: "app".to_owned(),
                image: image.to_owned(),
                image_pull_policy: "IfNotPresent".to_owned(),
                command: vec!["sleep".to_owned(), "3600".to_owned()],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .await
        .context("running docker")?;
    if !out.status.success() {
        bail!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Records when each pod is first Running.
fn watch_running(client: &Client) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let pods = client.resource::<Pod>(NAMESPACE);
    let record = seen.clone();
    let task = tokio::spawn(async move {
        let Ok(mut events) = pods.watch(&WatchParams::default()).await else {
            return;
        };
        while let Some(Ok(event)) = events.next().await {
            let Some(pod) = event.object else { continue };
            let running = pod.status.as_ref().is_some_and(|s| s.phase == "Running");
            let name = pod.metadata.map(|m| m.name).unwrap_or_default();
            if running {
                record.lock().entry(name).or_insert_with(Instant::now);
            }
        }
    });
    (seen, task)
}

async fn wait_running(seen: &Seen, names: &[String], limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let missing = names.iter().filter(|n| !seen.lock().contains_key(*n)).count();
        if missing == 0 {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("{missing} of {} pods not Running after {limit:?}", names.len());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deletes every pod and waits until the agent has removed their containers.
async fn clear_node(client: &Client) -> anyhow::Result<()> {
    let pods = client.resource::<Pod>(NAMESPACE);
    let all = pods.list(&Default::default()).await?;
    for pod in all.items {
        let name = pod.metadata.map(|m| m.name).unwrap_or_default();
        let options = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let _ = pods.delete(&name, options).await;
    }
    let start = Instant::now();
    while !docker(&["ps", "-aq", "--filter", &format!("label=io.podium.node={NODE}")])
        .await?
        .is_empty()
    {
        if start.elapsed() > Duration::from_secs(120) {
            bail!("the agent did not remove the deleted pods' containers in 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Creates `names` at once; each latency runs from its create call to Running.
async fn start_pods(client: &Client, seen: &Seen, names: &[String], image: &str) -> anyhow::Result<Latencies> {
    start_pods_with(client, seen, names, |name| bench_pod(name, image)).await
}

async fn start_pods_with(
    client: &Client,
    seen: &Seen,
    names: &[String],
    make: impl Fn(&str) -> Pod,
) -> anyhow::Result<Latencies> {
    let pods = client.resource::<Pod>(NAMESPACE);
    let creates = names.iter().map(|name| {
        let pods = pods.clone();
        let pod = make(name);
        async move {
            let sent = Instant::now();
            pods.create(pod).await.map(|_| sent)
        }
    });
    let sent = futures::future::try_join_all(creates).await?;
    wait_running(seen, names, Duration::from_secs(300)).await?;
    let mut latencies = Latencies::with_capacity(names.len());
    let seen = seen.lock();
    for (name, sent) in names.iter().zip(sent) {
        latencies.push(seen[name].duration_since(sent));
    }
    Ok(latencies)
}

/// Raw Docker: a pause container on the pods' network, then the app joined to it.
async fn raw_docker_pod(pause: &str, image: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let sandbox = docker(&[
        "run",
        "-d",
        "--label",
        RAW_LABEL,
        "--network",
        NETWORK,
        "--ipc",
        "shareable",
        pause,
    ])
    .await?;
    let joined = format!("container:{sandbox}");
    docker(&[
        "run",
        "-d",
        "--label",
        RAW_LABEL,
        "--network",
        &joined,
        "--ipc",
        &joined,
        image,
        "sleep",
        "3600",
    ])
    .await?;
    Ok(start.elapsed())
}

async fn remove_raw() -> anyhow::Result<()> {
    let ids = docker(&["ps", "-aq", "--filter", &format!("label={RAW_LABEL}")]).await?;
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.lines());
        docker(&args).await?;
    }
    Ok(())
}

async fn raw_docker_burst(n: usize, pause: &str, image: &str) -> anyhow::Result<Latencies> {
    let runs = (0..n).map(|_| raw_docker_pod(pause, image));
    let times = futures::future::try_join_all(runs).await?;
    let mut latencies = Latencies::with_capacity(n);
    for t in times {
        latencies.push(t);
    }
    Ok(latencies)
}

/// Resident memory of a pause container's process.
async fn pause_rss() -> anyhow::Result<u64> {
    let id = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.podium.node={NODE}"),
        "--filter",
        "label=io.kubernetes.docker.type=podsandbox",
    ])
    .await?;
    let id = id.lines().next().context("no sandbox running")?;
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", id]).await?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024)
}

pub async fn run(binaries: &Binaries, args: &StartupArgs) -> anyhow::Result<Report> {
    let image = podium_e2e::busybox_image();
    let apiserver = start_apiserver(binaries).await?;
    let result = run_on(binaries, args, &apiserver, image).await;
    let _ = remove_raw().await;
    let _ = docker(&["network", "rm", NETWORK]).await;
    result
}

async fn run_on(binaries: &Binaries, args: &StartupArgs, apiserver: &Service, image: &str) -> anyhow::Result<Report> {
    let client = Client::new(&apiserver.url)?;
    let agent = start_agent(binaries, &apiserver.url, NODE, NETWORK).await?;
    let nodes = client.resource::<Node>("");
    let start = Instant::now();
    while nodes.get_opt(NODE).await?.is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("the agent did not register its node");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pause = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", "podium/pause"]).await?;
    let pause = pause
        .lines()
        .next()
        .context("the agent imported no pause image")?
        .to_owned();
    let (seen, watcher) = watch_running(&client);

    progress(format_args!("one pod at a time: {} pods", args.sequential));
    let mut one = Latencies::with_capacity(args.sequential);
    let mut one_docker = Latencies::with_capacity(args.sequential);
    for i in 0..args.sequential {
        one.merge(start_pods(&client, &seen, &[format!("one-{i}")], image).await?);
        clear_node(&client).await?;
        one_docker.push(raw_docker_pod(&pause, image).await?);
        remove_raw().await?;
    }

    progress(format_args!("{} pods at once", args.burst));
    let names: Vec<String> = (0..args.burst).map(|i| format!("burst-{i}")).collect();
    let mut burst = start_pods(&client, &seen, &names, image).await?;
    clear_node(&client).await?;
    let mut burst_docker = raw_docker_burst(args.burst, &pause, image).await?;
    remove_raw().await?;

    progress(format_args!("a full node: {} pods at once", args.full));
    let names: Vec<String> = (0..args.full).map(|i| format!("full-{i}")).collect();
    let started = Instant::now();
    let full = start_pods(&client, &seen, &names, image).await?;
    let full_time = started.elapsed();
    // Steady state with a full node: its CPU over 30 s (relists and resyncs).
    let idle_from = agent.cpu_time();
    tokio::time::sleep(IDLE_WINDOW).await;
    let agent_cores_full = (agent.cpu_time() - idle_from).as_secs_f64() / IDLE_WINDOW.as_secs_f64();
    let memory = agent.memory();
    let pause_rss = pause_rss().await?;
    progress(format_args!("removing {} pods", full.len()));
    clear_node(&client).await?;

    progress(format_args!("a full node with probes: {} pods", args.full));
    let names: Vec<String> = (0..args.full).map(|i| format!("probed-{i}")).collect();
    start_pods_with(&client, &seen, &names, |name| probed_pod(name, image)).await?;
    // Past the first probes, then a window of steady probing.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let probes_from = agent.cpu_time();
    tokio::time::sleep(PROBE_WINDOW).await;
    let agent_cores_probes = (agent.cpu_time() - probes_from).as_secs_f64() / PROBE_WINDOW.as_secs_f64();
    let agent_rss_probes = agent.memory().rss;
    progress(format_args!("removing {} pods", names.len()));
    clear_node(&client).await?;
    watcher.abort();
    drop(agent);
    Ok(Report {
        args: args.clone(),
        one: one.summary(),
        one_docker: one_docker.summary(),
        burst: burst.summary(),
        burst_docker: burst_docker.summary(),
        full_time,
        agent_rss: memory.rss,
        agent_peak: memory.peak,
        pause_rss,
        agent_cores_full,
        agent_cores_probes,
        agent_rss_probes,
    })
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1} MiB")
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::from("### Pod start-up (one node, create → Running through a watch)\n\n");
        out.push_str(
            "| workload | Podium p50 | Podium p99 | raw Docker p50 | raw Docker p99 | Podium / Docker (p50) |\n",
        );
        out.push_str("|---|---|---|---|---|---|\n");
        for (what, podium, docker) in [
            (
                format!("1 pod at a time ({} runs)", self.args.sequential),
                &self.one,
                &self.one_docker,
            ),
            (
                format!("{} pods at once", self.args.burst),
                &self.burst,
                &self.burst_docker,
            ),
        ] {
            let _ = writeln!(
                out,
                "| {what} | {} | {} | {} | {} | {:.2}x |",
                ms(podium.p50),
                ms(podium.p99),
                ms(docker.p50),
                ms(docker.p99),
                ratio(podium.p50, docker.p50)
            );
        }
        let _ = writeln!(
            out,
            "\n{} pods at once all Running in {:.1} s; then the agent's RSS {} (peak {}), its CPU \
             {:.3} cores with the node full and idle; a pause container's RSS {} KiB.",
            self.args.full,
            self.full_time.as_secs_f64(),
            mib(self.agent_rss),
            mib(self.agent_peak),
            self.agent_cores_full,
            self.pause_rss / 1024
        );
        let _ = writeln!(
            out,
            "\nProbe overhead, {} pods each with an exec liveness probe every 10 s and an httpGet \
             readiness probe every 5 s: the agent uses {:.3} cores (without probes {:.3}) and {} RSS.",
            self.args.full,
            self.agent_cores_probes,
            self.agent_cores_full,
            mib(self.agent_rss_probes)
        );
        out
    }

    pub fn targets(&self) -> Vec<[String; 4]> {
        let overhead = ratio(self.one.p50, self.one_docker.p50);
        let burst_overhead = ratio(self.burst.p50, self.burst_docker.p50);
        vec![
            [
                "pod start-up p99, 1 pod".into(),
                "≤ 1.5 s".into(),
                ms(self.one.p99),
                verdict(self.one.p99 <= Duration::from_millis(1500)).into(),
            ],
            [
                "start-up vs raw Docker, 1 pod (p50)".into(),
                "≤ 1.3x".into(),
                format!("{overhead:.2}x"),
                verdict(overhead <= 1.3).into(),
            ],
            [
                format!("start-up vs raw Docker, {} pods (p50)", self.args.burst),
                "≤ 1.3x".into(),
                format!("{burst_overhead:.2}x"),
                verdict(burst_overhead <= 1.3).into(),
            ],
            [
                format!("{} pods Running", self.args.full),
                "≤ 60 s".into(),
                format!("{:.1} s", self.full_time.as_secs_f64()),
                verdict(self.full_time <= Duration::from_secs(60)).into(),
            ],
            [
                format!("agent RSS with {} pods", self.args.full),
                "≤ 50 MiB".into(),
                mib(self.agent_rss),
                verdict(self.agent_rss <= 50 * 1024 * 1024).into(),
            ],
            [
                format!("agent CPU, {} pods with probes", self.args.full),
                "< 0.05 cores".into(),
                format!("{:.3} cores", self.agent_cores_probes),
                verdict(self.agent_cores_probes < 0.05).into(),
            ],
            [
                format!("agent RSS, {} pods with probes", self.args.full),
                "< 64 MiB".into(),
                mib(self.agent_rss_probes),
                verdict(self.agent_rss_probes < 64 * 1024 * 1024).into(),
            ],
            [
                "pause RSS".into(),
                "≤ 256 KiB".into(),
                format!("{} KiB", self.pause_rss / 1024),
                verdict(self.pause_rss <= 256 * 1024).into(),
            ],
        ]
    }
}
