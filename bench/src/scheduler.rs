//! `scheduler`: the scheduler end to end, in the shape of Kubernetes' scheduler_perf.
//!
//! Each workload gets a fresh release apiserver. The benchmark registers simulated nodes
//! through the API (Node objects with allocatable cpu 4, memory 16Gi and 110 pods, hostname
//! and zone labels, a Ready condition; no agents behind them), then starts the release
//! `scheduler` binary and waits until it has filled its caches. It creates the initial pods and
//! waits until all are bound, then creates the measured pods as fast as `--create-clients`
//! (64) closed-loop clients get answers. A watch on the namespace's pods counts a pod bound
//! when it shows `spec.nodeName`: by then the binding is persisted. Throughput is measured
//! pods over the time from the first measured create to the last measured binding seen, so it
//! covers creation, queueing, scheduling, the binding's write and the watch that reports it.
//!
//! Workloads (pods as scheduler_perf's templates: one pause container whose requests and
//! limits are 100m cpu and 500Mi memory unless said otherwise):
//! - SchedulingBasic: 5000 nodes, 1000 initial pods, 10000 measured pods.
//! - TopologySpreading: 5000 nodes over three zones, 5000 initial pods, then 2000 measured
//!   pods labelled `color=blue` with a topology spread constraint on
//!   `topology.kubernetes.io/zone`, maxSkew 1, `DoNotSchedule`, selecting `color=blue`.
//! - PreemptionBasic: 500 nodes filled with 2000 low-priority pods (900m cpu each, four per
//!   node), then 500 pods of PriorityClass `bench-high` (value 10) needing 3 CPUs, each of which
//!   fits only by preempting three low-priority pods. The scheduler deletes its victims
//!   gracefully (30 s grace: only their deletionTimestamp is set); the benchmark plays the
//!   nodes' agent and confirms each such deletion at once with gracePeriodSeconds 0 and a uid
//!   precondition, as a kubelet does once the containers have stopped.
//!
//! `--nodes` and `--pods` scale a run down (initial pods scale with the nodes). The scheduler's
//! resident memory is read from `/proc` once every measured pod is bound.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use podium_client::{Client, ListParams, Objects, WatchParams};
use podium_proto::k8s::core::v1::{
    Container, ContainerPort, Node, NodeCondition, NodeStatus, Pod, PodSpec, ResourceRequirements,
    TopologySpreadConstraint,
};
use podium_proto::k8s::meta::v1::{DeleteOptions, LabelSelector, ObjectMeta, Preconditions, Quantity};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use tokio::sync::watch;

use crate::load::{self, Request};
use crate::pods::NAMESPACE;
use crate::process::{self, Binaries, GroupCpuMeter, GroupCpuUse, Memory, Service};
use crate::stats::{Latencies, Summary, ms, per_sec, rate, verdict};

/// The scheduler's resident memory target, at `TARGET_RSS_NODES` nodes.
const TARGET_RSS: u64 = 300 * 1024 * 1024;
const TARGET_RSS_NODES: u64 = 5000;

/// The label that tells initial from measured pods.
const PHASE_LABEL: &str = "podium-bench/phase";
const INIT: &str = "init";
const MEASURED: &str = "measured";

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
const ZONES: u64 = 3;

/// What each simulated node offers.
const NODE_CPU: &str = "4";
const NODE_MEMORY: &str = "16Gi";
const NODE_PODS: &str = "110";
/// The memory of a pod, and so how many fit on a node (16Gi / 500Mi).
const POD_MEMORY: &str = "500Mi";
const PODS_PER_NODE_BY_MEMORY: u64 = 32;

const HIGH_PRIORITY_CLASS: &str = "bench-high";
const HIGH_PRIORITY: i32 = 10;

/// How often the wait loops look at the counts, and print progress.
const POLL: Duration = Duration::from_millis(20);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How often the pod watch may break and be re-established before the run gives up.
const MAX_WATCH_RESTARTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    SchedulingBasic,
    TopologySpreading,
    PreemptionBasic,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::SchedulingBasic => "SchedulingBasic",
            Workload::TopologySpreading => "TopologySpreading",
            Workload::PreemptionBasic => "PreemptionBasic",
        }
    }

    fn default_nodes(self) -> u64 {
        match self {
            Workload::SchedulingBasic | Workload::TopologySpreading => 5000,
            Workload::PreemptionBasic => 500,
        }
    }

    /// Initial pods for a cluster of `nodes`, in scheduler_perf's proportions.
    fn init_pods(self, nodes: u64) -> u64 {
        match self {
            Workload::SchedulingBasic => nodes / 5,
            Workload::TopologySpreading => nodes,
            // Four 900m pods fill a node's four CPUs.
            Workload::PreemptionBasic => nodes * 4,
        }
    }

    fn default_measured(self, nodes: u64) -> u64 {
        match self {
            Workload::SchedulingBasic => 10_000,
            Workload::TopologySpreading => 2000,
            Workload::PreemptionBasic => nodes,
        }
    }

    /// The issue's target, in pods per second.
    fn target(self) -> f64 {
        match self {
            Workload::SchedulingBasic => 2000.0,
            Workload::TopologySpreading => 500.0,
            Workload::PreemptionBasic => 100.0,
        }
    }

    /// kube-scheduler's floor in Kubernetes' scheduler_perf CI, for reference.
    fn kube_floor(self) -> f64 {
        match self {
            Workload::SchedulingBasic => 270.0,
            Workload::TopologySpreading => 85.0,
            Workload::PreemptionBasic => 18.0,
        }
    }

    fn init_pod(self, i: u64) -> Pod {
        let name = pod_name(INIT, i);
        match self {
            Workload::PreemptionBasic => pause_pod(name, INIT, "900m"),
            _ => pause_pod(name, INIT, "100m"),
        }
    }

    fn measured_pod(self, i: u64) -> Pod {
        let name = pod_name(MEASURED, i);
        match self {
            Workload::SchedulingBasic => pause_pod(name, MEASURED, "100m"),
            Workload::TopologySpreading => {
                let mut pod = pause_pod(name, MEASURED, "100m");
                let blue = BTreeMap::from([("color".to_owned(), "blue".to_owned())]);
                if let Some(meta) = pod.metadata.as_mut() {
                    meta.labels.extend(blue.clone());
                }
                if let Some(spec) = pod.spec.as_mut() {
                    spec.topology_spread_constraints = vec![TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: ZONE_LABEL.to_owned(),
                        when_unsatisfiable: "DoNotSchedule".to_owned(),
                        label_selector: Some(LabelSelector {
                            match_labels: blue,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }];
                }
                pod
            }
            Workload::PreemptionBasic => {
                let mut pod = pause_pod(name, MEASURED, "3");
                if let Some(spec) = pod.spec.as_mut() {
                    spec.priority_class_name = HIGH_PRIORITY_CLASS.to_owned();
                }
                pod
            }
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct SchedulerArgs {
    /// Workloads to run, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "scheduling-basic,topology-spreading,preemption-basic"
    )]
    pub workloads: Vec<Workload>,
    /// Nodes in every workload (default: 5000, and 500 for PreemptionBasic). Initial pods
    /// scale with it: a fifth of the nodes (SchedulingBasic), as many as the nodes
    /// (TopologySpreading), four per node (PreemptionBasic).
    #[arg(long)]
    pub nodes: Option<u64>,
    /// Measured pods in every workload (default: 10000 for SchedulingBasic, 2000 for
    /// TopologySpreading, one per node for PreemptionBasic, which takes at most one per node).
    #[arg(long)]
    pub pods: Option<u64>,
    /// Concurrent clients creating nodes and pods, each on its own connection.
    #[arg(long, default_value_t = 64)]
    pub create_clients: usize,
    /// Give up on a phase when no pod has been bound for this long.
    #[arg(long, default_value_t = 60)]
    pub stall_seconds: u64,
    /// Time limit of each phase (registering nodes, initial pods, measured pods).
    #[arg(long, default_value_t = 600)]
    pub max_seconds: u64,
}

/// `SchedulerArgs` with every default, for `all` (whose flags it cannot share: `list` has a
/// `--pods` too).
#[derive(Debug, clap::Parser)]
struct DefaultsOnly {
    #[command(flatten)]
    args: SchedulerArgs,
}

impl SchedulerArgs {
    pub fn defaults() -> Self {
        use clap::Parser as _;
        DefaultsOnly::parse_from(["scheduler"]).args
    }
}

/// The sizes of one workload's run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    nodes: u64,
    init: u64,
    measured: u64,
}

fn sizes(workload: Workload, args: &SchedulerArgs) -> anyhow::Result<Sizes> {
    let nodes = args.nodes.unwrap_or(workload.default_nodes());
    anyhow::ensure!(nodes > 0, "--nodes must be positive");
    let init = workload.init_pods(nodes);
    let mut measured = args.pods.unwrap_or(workload.default_measured(nodes));
    anyhow::ensure!(measured > 0, "--pods must be positive");
    if workload == Workload::PreemptionBasic {
        // Two 3-CPU pods never share a 4-CPU node.
        measured = measured.min(nodes);
    } else {
        anyhow::ensure!(
            init + measured <= nodes * PODS_PER_NODE_BY_MEMORY,
            "{}: {init} initial and {measured} measured pods of {POD_MEMORY} do not fit on {nodes} \
             nodes of {NODE_MEMORY}",
            workload.name()
        );
    }
    Ok(Sizes { nodes, init, measured })
}

fn pod_name(phase: &str, i: u64) -> String {
    format!("{phase}-{i:07}")
}

/// The index of a pod named `<phase>-<i>`.
fn pod_index(name: &str, phase: &str) -> Option<usize> {
    name.strip_prefix(phase)?.strip_prefix('-')?.parse().ok()
}

fn node_name(i: u64) -> String {
    format!("node-{i:05}")
}

/// scheduler_perf's pod: one pause container, requests equal to limits.
fn pause_pod(name: String, phase: &str, cpu: &str) -> Pod {
    let resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity::new(cpu)),
        ("memory".to_owned(), Quantity::new(POD_MEMORY)),
    ]);
    Pod {
        metadata: Some(ObjectMeta {
            name,
            namespace: NAMESPACE.to_owned(),
            labels: BTreeMap::from([(PHASE_LABEL.to_owned(), phase.to_owned())]),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "pause".to_owned(),
                image: "registry.k8s.io/pause:3.10".to_owned(),
                ports: vec![ContainerPort {
                    container_port: 80,
                    ..Default::default()
                }],
                resources: Some(ResourceRequirements {
                    requests: resources.clone(),
                    limits: resources,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A simulated node: what a node agent would register, with no agent behind it.
fn node(i: u64) -> Node {
    let name = node_name(i);
    let allocatable = BTreeMap::from([
        ("cpu".to_owned(), Quantity::new(NODE_CPU)),
        ("memory".to_owned(), Quantity::new(NODE_MEMORY)),
        ("pods".to_owned(), Quantity::new(NODE_PODS)),
    ]);
    Node {
        metadata: Some(ObjectMeta {
            labels: BTreeMap::from([
                (HOSTNAME_LABEL.to_owned(), name.clone()),
                (ZONE_LABEL.to_owned(), format!("zone-{}", i % ZONES)),
            ]),
            name,
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: allocatable.clone(),
            allocatable,
            conditions: vec![NodeCondition {
                r#type: "Ready".to_owned(),
                status: "True".to_owned(),
                reason: "KubeletReady".to_owned(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Registers node `i`.
struct CreateNode {
    nodes: Objects<Node>,
}

impl Request for CreateNode {
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        self.nodes.get_opt("podium-bench-warm-up").await?;
        Ok(())
    }

    async fn call(&mut self, i: u64) -> anyhow::Result<()> {
        self.nodes.create(node(i)).await?;
        Ok(())
    }
}

/// Creates initial or measured pod `i`, noting when a measured one was sent.
struct CreatePod {
    pods: Objects<Pod>,
    workload: Workload,
    /// Measured pods: when each create was sent (nanoseconds since `clock`, plus one).
    sent: Option<Arc<Vec<AtomicU64>>>,
    clock: Instant,
}

impl Request for CreatePod {
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        self.pods.get_opt("podium-bench-warm-up").await?;
        Ok(())
    }

    async fn call(&mut self, i: u64) -> anyhow::Result<()> {
        let pod = match &self.sent {
            Some(sent) => {
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| sent.get(i)) {
                    slot.store(nanos_since(self.clock) + 1, Ordering::Relaxed);
                }
                self.workload.measured_pod(i)
            }
            None => self.workload.init_pod(i),
        };
        self.pods.create(pod).await?;
        Ok(())
    }
}

fn nanos_since(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// What the pod watch has seen so far, readable while it runs.
#[derive(Debug, Default)]
struct Counts {
    init_bound: AtomicU64,
    measured_bound: AtomicU64,
    /// Bound pods that got a deletionTimestamp (preemption victims).
    marked: AtomicU64,
    /// Those the benchmark, as the agent, deleted for good.
    confirmed: AtomicU64,
    confirm_failed: AtomicU64,
    /// DELETED events seen.
    deleted: AtomicU64,
    watch_restarts: AtomicU64,
}

/// The pod watch's state: which pods are bound since when, and which deletions it confirmed.
struct Tracker {
    clock: Instant,
    init_bound: Vec<bool>,
    /// Nanoseconds since `clock` (plus one) when each measured pod was seen bound; 0 = not yet.
    measured_bound: Vec<u64>,
    confirming: HashSet<String>,
    agent: Objects<Pod>,
    counts: Arc<Counts>,
    first_confirm_error: Arc<Mutex<Option<String>>>,
}

impl Tracker {
    fn apply(&mut self, pod: &Pod) {
        let Some(meta) = pod.metadata.as_ref() else { return };
        let bound = pod.spec.as_ref().is_some_and(|s| !s.node_name.is_empty());
        if bound {
            if let Some(slot) = pod_index(&meta.name, MEASURED).and_then(|i| self.measured_bound.get_mut(i)) {
                if *slot == 0 {
                    *slot = nanos_since(self.clock) + 1;
                    self.counts.measured_bound.fetch_add(1, Ordering::Relaxed);
                }
            } else if let Some(slot) = pod_index(&meta.name, INIT).and_then(|i| self.init_bound.get_mut(i))
                && !*slot
            {
                *slot = true;
                self.counts.init_bound.fetch_add(1, Ordering::Relaxed);
            }
        }
        if bound && meta.deletion_timestamp.is_some() && self.confirming.insert(meta.uid.clone()) {
            self.counts.marked.fetch_add(1, Ordering::Relaxed);
            self.confirm(meta.name.clone(), meta.uid.clone());
        }
    }

    /// Plays the agent: the containers are "stopped", so the pod goes for good, if it is
    /// still the same pod.
    fn confirm(&self, name: String, uid: String) {
        let (agent, counts, first_error) = (
            self.agent.clone(),
            self.counts.clone(),
            self.first_confirm_error.clone(),
        );
        tokio::spawn(async move {
            let options = DeleteOptions {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    ..Default::default()
                }),
                ..Default::default()
            };
            match agent.delete(&name, options).await {
                Ok(_) => counts.confirmed.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert_with(|| format!("{name}: {e}"));
                    }
                    counts.confirm_failed.fetch_add(1, Ordering::Relaxed)
                }
            };
        });
    }

    /// Lists every pod of the namespace, page by page; returns the list's resourceVersion.
    async fn relist(&mut self, pods: &Objects<Pod>) -> anyhow::Result<String> {
        let mut params = ListParams {
            limit: 500,
            ..Default::default()
        };
        loop {
            let list = pods.list(&params).await?;
            for pod in &list.items {
                self.apply(pod);
            }
            let meta = list.metadata.unwrap_or_default();
            if meta.r#continue.is_empty() {
                return Ok(meta.resource_version);
            }
            params.continue_token = meta.r#continue;
        }
    }
}

/// Follows the namespace's pods until told to stop: list, then watch from the list's
/// resourceVersion; if the watch breaks, list again (applying a pod twice changes nothing).
async fn track(mut tracker: Tracker, pods: Objects<Pod>, mut stop: watch::Receiver<bool>) -> anyhow::Result<Tracker> {
    let mut restarts = 0;
    loop {
        let resource_version = tracker.relist(&pods).await?;
        let params = WatchParams {
            resource_version,
            ..Default::default()
        };
        let mut stream = pods.watch(&params).await?;
        let why = loop {
            tokio::select! {
                event = stream.next() => match event {
                    Some(Ok(event)) => match (event.r#type.as_str(), event.object) {
                        ("ADDED" | "MODIFIED", Some(pod)) => tracker.apply(&pod),
                        ("DELETED", _) => {
                            tracker.counts.deleted.fetch_add(1, Ordering::Relaxed);
                        }
                        ("ERROR", _) => break format!("an ERROR event ({:?})", event.status.map(|s| s.message)),
                        _ => {}
                    },
                    Some(Err(e)) => break format!("{e}"),
                    None => break "the stream ended".to_owned(),
                },
                _ = stop.changed() => return Ok(tracker),
            }
        };
        restarts += 1;
        tracker.counts.watch_restarts.fetch_add(1, Ordering::Relaxed);
        crate::progress(format_args!("scheduler: the pod watch broke ({why}); listing again"));
        anyhow::ensure!(
            restarts <= MAX_WATCH_RESTARTS,
            "the pod watch broke {restarts} times; last: {why}"
        );
    }
}

/// How a wait for bound pods ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waited {
    All,
    /// Nothing was bound for the stall time, or the time limit passed; the message says which.
    GaveUp(String),
}

/// Waits until `counter` reaches `want`, checking that the servers are still alive.
async fn wait_bound(
    label: &str,
    counter: &AtomicU64,
    want: u64,
    servers: &mut [&mut Service],
    args: &SchedulerArgs,
) -> anyhow::Result<Waited> {
    let start = Instant::now();
    let limit = Duration::from_secs(args.max_seconds);
    let stall = Duration::from_secs(args.stall_seconds);
    let (mut last, mut last_change, mut last_print) = (counter.load(Ordering::Relaxed), start, start);
    let mut printed = last;
    loop {
        let now = counter.load(Ordering::Relaxed);
        if now >= want {
            return Ok(Waited::All);
        }
        for server in servers.iter_mut() {
            server.check_alive()?;
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        if last_change.elapsed() >= stall {
            return Ok(Waited::GaveUp(format!(
                "stalled at {now}/{want} bound: nothing bound for {} s",
                stall.as_secs()
            )));
        }
        if start.elapsed() >= limit {
            return Ok(Waited::GaveUp(format!(
                "{now}/{want} bound when the {} s limit passed",
                limit.as_secs()
            )));
        }
        if last_print.elapsed() >= PROGRESS_EVERY {
            crate::progress(format_args!(
                "{label}: {now}/{want} bound ({} over the last {} s)",
                per_sec(rate(now - printed, last_print.elapsed())),
                PROGRESS_EVERY.as_secs()
            ));
            (printed, last_print) = (now, Instant::now());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Warnings and errors in a server's log.
#[derive(Debug, Default)]
struct LogProblems {
    warnings: usize,
    errors: usize,
    /// The first few, shortened.
    first: Vec<String>,
}

fn log_problems(log: &str) -> LogProblems {
    let mut problems = LogProblems::default();
    for line in log.lines() {
        let (warning, error) = (line.contains(" WARN "), line.contains(" ERROR "));
        if !(warning || error) {
            continue;
        }
        problems.warnings += usize::from(warning);
        problems.errors += usize::from(error);
        if problems.first.len() < 3 {
            problems.first.push(line.chars().take(300).collect());
        }
    }
    problems
}

/// One workload's run.
#[derive(Debug)]
pub struct WorkloadRun {
    workload: Workload,
    sizes: Sizes,
    nodes_rate: f64,
    scheduler_ready: Duration,
    init_elapsed: Duration,
    init_waited: Waited,
    created: u64,
    create_errors: u64,
    first_create_error: Option<String>,
    create_rate: f64,
    bound: u64,
    waited: Waited,
    /// First measured create to last measured binding seen.
    span: Duration,
    /// Bindings per one-second window from the first create: (median, max).
    per_second: Option<(f64, f64)>,
    /// From each pod's create being sent to its binding being seen.
    latency: Summary,
    /// The apiserver's, then the scheduler's.
    cpu: GroupCpuUse,
    /// Once the nodes and the initial pods were in.
    scheduler_memory_before: Memory,
    scheduler_memory: Memory,
    apiserver_memory: Memory,
    marked: u64,
    confirmed: u64,
    confirm_failed: u64,
    first_confirm_error: Option<String>,
    deleted: u64,
    watch_restarts: u64,
    scheduler_log: LogProblems,
    apiserver_log: LogProblems,
    /// Why the first pod left unbound (of the phase that gave up) is unbound, as its status says.
    unbound_sample: Option<String>,
}

impl WorkloadRun {
    fn rate(&self) -> f64 {
        rate(self.bound, self.span)
    }

    fn complete(&self) -> bool {
        self.waited == Waited::All && self.bound == self.sizes.measured
    }
}

#[derive(Debug)]
pub struct Report {
    create_clients: usize,
    runs: Vec<WorkloadRun>,
}

pub async fn run(binaries: &Binaries, args: &SchedulerArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.create_clients > 0, "--create-clients must be positive");
    anyhow::ensure!(!args.workloads.is_empty(), "no workloads chosen");
    anyhow::ensure!(
        binaries.scheduler.exists(),
        "{} not found: build it with `cargo build --release -p podium-scheduler` or pass --scheduler-bin",
        binaries.scheduler.display()
    );
    // Check every size before spending minutes on the first workload.
    let planned = args
        .workloads
        .iter()
        .map(|w| Ok((*w, sizes(*w, args)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut runs = Vec::new();
    for (workload, sizes) in planned {
        let run = run_workload(binaries, args, workload, sizes)
            .await
            .map_err(|e| e.context(format!("scheduler benchmark, {}", workload.name())))?;
        runs.push(run);
    }
    Ok(Report {
        create_clients: args.create_clients,
        runs,
    })
}

fn clients(url: &str, n: usize) -> anyhow::Result<Vec<Client>> {
    (0..n).map(|_| Ok(Client::new(url)?)).collect()
}

async fn run_workload(
    binaries: &Binaries,
    args: &SchedulerArgs,
    workload: Workload,
    sizes: Sizes,
) -> anyhow::Result<WorkloadRun> {
    let name = workload.name();
    let limit = Duration::from_secs(args.max_seconds);
    let mut apiserver = process::start_apiserver(binaries).await?;
    crate::progress(format_args!(
        "{name}: apiserver pid {} on {}; {} nodes, {} initial pods, {} measured pods",
        apiserver.pid(),
        apiserver.url,
        sizes.nodes,
        sizes.init,
        sizes.measured
    ));
    let client = Client::new(&apiserver.url)?;
    if workload == Workload::PreemptionBasic {
        let class = PriorityClass {
            metadata: Some(ObjectMeta {
                name: HIGH_PRIORITY_CLASS.to_owned(),
                ..Default::default()
            }),
            value: HIGH_PRIORITY,
            description: "podium-bench: pods that preempt".to_owned(),
            ..Default::default()
        };
        client.resource::<PriorityClass>("").create(class).await?;
    }

    // Nodes, through the API.
    let creators = clients(&apiserver.url, args.create_clients)?;
    let requests = creators.iter().map(|c| CreateNode { nodes: c.resource("") }).collect();
    let registered = load::run(&format!("{name}: nodes"), requests, 0..sizes.nodes, limit).await?;
    anyhow::ensure!(
        registered.done == sizes.nodes,
        "registered {} of {} nodes ({} errors; first: {:?})",
        registered.done,
        sizes.nodes,
        registered.errors,
        registered.first_error
    );
    let nodes_rate = registered.rate();
    crate::progress(format_args!(
        "{name}: {} nodes registered at {}",
        sizes.nodes,
        per_sec(nodes_rate)
    ));

    // The scheduler, once the nodes exist; ready once its caches are filled.
    let starting = Instant::now();
    let mut scheduler = process::start_scheduler(binaries, &apiserver.url).await?;
    let scheduler_ready = starting.elapsed();
    crate::progress(format_args!(
        "{name}: scheduler pid {} scheduling after {}",
        scheduler.pid(),
        ms(scheduler_ready)
    ));

    // The pod watch, from before the first pod.
    let clock = Instant::now();
    let counts = Arc::new(Counts::default());
    let first_confirm_error = Arc::new(Mutex::new(None));
    let tracker = Tracker {
        clock,
        init_bound: vec![false; usize::try_from(sizes.init)?],
        measured_bound: vec![0; usize::try_from(sizes.measured)?],
        confirming: HashSet::new(),
        agent: client.resource(NAMESPACE),
        counts: counts.clone(),
        first_confirm_error: first_confirm_error.clone(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let tracking = tokio::spawn(track(tracker, client.resource(NAMESPACE), stop_rx));

    // Initial pods, all bound before measuring.
    let init_start = Instant::now();
    let requests = creators
        .iter()
        .map(|c| CreatePod {
            pods: c.resource(NAMESPACE),
            workload,
            sent: None,
            clock,
        })
        .collect();
    let created = load::run(&format!("{name}: initial pods"), requests, 0..sizes.init, limit).await?;
    anyhow::ensure!(
        created.done == sizes.init,
        "created {} of {} initial pods ({} errors; first: {:?})",
        created.done,
        sizes.init,
        created.errors,
        created.first_error
    );
    let init_waited = wait_bound(
        &format!("{name}: initial pods"),
        &counts.init_bound,
        sizes.init,
        &mut [&mut apiserver, &mut scheduler],
        args,
    )
    .await?;
    let init_elapsed = init_start.elapsed();
    crate::progress(format_args!(
        "{name}: initial pods: {} bound in {:.1} s",
        counts.init_bound.load(Ordering::Relaxed),
        init_elapsed.as_secs_f64()
    ));

    // Measured pods.
    let scheduler_memory_before = scheduler.memory();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..sizes.measured).map(|_| AtomicU64::new(0)).collect());
    let (created, waited, cpu) = if init_waited == Waited::All {
        let requests = creators
            .iter()
            .map(|c| CreatePod {
                pods: c.resource(NAMESPACE),
                workload,
                sent: Some(sent.clone()),
                clock,
            })
            .collect();
        let cpu = GroupCpuMeter::start(&[&apiserver, &scheduler]);
        let created = load::run(&format!("{name}: measured pods"), requests, 0..sizes.measured, limit).await?;
        crate::progress(format_args!(
            "{name}: {} measured pods created at {}; {} bound so far",
            created.done,
            per_sec(created.rate()),
            counts.measured_bound.load(Ordering::Relaxed)
        ));
        let waited = wait_bound(
            &format!("{name}: measured pods"),
            &counts.measured_bound,
            created.done,
            &mut [&mut apiserver, &mut scheduler],
            args,
        )
        .await?;
        let cpu = cpu.stop(&[&apiserver, &scheduler]);
        (Some(created), waited, cpu)
    } else {
        (
            None,
            Waited::GaveUp("not created: the initial pods were never all bound".to_owned()),
            GroupCpuUse::default(),
        )
    };
    let scheduler_memory = scheduler.memory();
    let apiserver_memory = apiserver.memory();

    // Let the agent's last confirmations land before reading the counts.
    let confirm_deadline = Instant::now() + Duration::from_secs(10);
    while counts.confirmed.load(Ordering::Relaxed) + counts.confirm_failed.load(Ordering::Relaxed)
        < counts.marked.load(Ordering::Relaxed)
        && Instant::now() < confirm_deadline
    {
        tokio::time::sleep(POLL).await;
    }
    stop_tx.send_replace(true);
    let tracker = tracking.await??;

    // The first pod left unbound (of the phase that gave up), and why, as its status says.
    let unbound = if init_waited != Waited::All {
        tracker
            .init_bound
            .iter()
            .position(|b| !*b)
            .map(|i| pod_name(INIT, i as u64))
    } else if waited != Waited::All {
        tracker
            .measured_bound
            .iter()
            .position(|t| *t == 0)
            .map(|i| pod_name(MEASURED, i as u64))
    } else {
        None
    };
    let unbound_sample = match unbound {
        Some(name) => {
            let pod = client.resource::<Pod>(NAMESPACE).get_opt(&name).await?;
            Some(describe_unbound(&name, pod.as_ref()))
        }
        None => None,
    };

    let first_sent = sent
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .filter(|s| *s > 0)
        .min()
        .unwrap_or(0);
    let last_bound = tracker.measured_bound.iter().copied().max().unwrap_or(0);
    let span = Duration::from_nanos(last_bound.saturating_sub(first_sent));
    let mut latency = Latencies::with_capacity(tracker.measured_bound.len());
    for (bound, sent) in tracker.measured_bound.iter().zip(sent.iter()) {
        let sent = sent.load(Ordering::Relaxed);
        if *bound > 0 && sent > 0 {
            latency.push_nanos(bound.saturating_sub(sent));
        }
    }
    let per_second = per_second(&tracker.measured_bound, first_sent);
    let (created_count, create_errors, first_create_error, create_rate) = match &created {
        Some(c) => (c.done, c.errors, c.first_error.clone(), c.rate()),
        None => (0, 0, None, 0.0),
    };
    let run = WorkloadRun {
        workload,
        sizes,
        nodes_rate,
        scheduler_ready,
        init_elapsed,
        init_waited,
        created: created_count,
        create_errors,
        first_create_error,
        create_rate,
        bound: counts.measured_bound.load(Ordering::Relaxed),
        waited,
        span,
        per_second,
        latency: latency.summary(),
        cpu,
        scheduler_memory_before,
        scheduler_memory,
        apiserver_memory,
        marked: counts.marked.load(Ordering::Relaxed),
        confirmed: counts.confirmed.load(Ordering::Relaxed),
        confirm_failed: counts.confirm_failed.load(Ordering::Relaxed),
        first_confirm_error: first_confirm_error.lock().ok().and_then(|e| e.clone()),
        deleted: counts.deleted.load(Ordering::Relaxed),
        watch_restarts: counts.watch_restarts.load(Ordering::Relaxed),
        scheduler_log: log_problems(&scheduler.log()),
        apiserver_log: log_problems(&apiserver.log()),
        unbound_sample,
    };
    crate::progress(format_args!(
        "{name}: {}/{} measured pods bound in {:.2} s = {} (target {}); scheduler RSS {} (peak {})",
        run.bound,
        sizes.measured,
        span.as_secs_f64(),
        per_sec(run.rate()),
        per_sec(workload.target()),
        mib(scheduler_memory.rss),
        mib(scheduler_memory.peak)
    ));
    if let Waited::GaveUp(why) = &run.waited {
        crate::progress(format_args!("{name}, measured pods: {why}"));
    }
    drop(scheduler);
    drop(apiserver);
    Ok(run)
}

/// "measured-0000042: PodScheduled False (Unschedulable): 0/500 nodes are available: ...".
fn describe_unbound(name: &str, pod: Option<&Pod>) -> String {
    let Some(pod) = pod else {
        return format!("{name}: gone");
    };
    let status = pod.status.clone().unwrap_or_default();
    let condition = status.conditions.iter().find(|c| c.r#type == "PodScheduled");
    let nominated = if status.nominated_node_name.is_empty() {
        String::new()
    } else {
        format!(", nominated to {}", status.nominated_node_name)
    };
    match condition {
        Some(c) => format!(
            "{name}: PodScheduled {} ({}): {}{nominated}",
            c.status, c.reason, c.message
        ),
        None => format!("{name}: no PodScheduled condition{nominated}"),
    }
}

/// The median and the highest number of bindings in whole one-second windows counted from
/// `start` (nanoseconds on the tracker's clock, plus one, like the bound times).
fn per_second(bound: &[u64], start: u64) -> Option<(f64, f64)> {
    let mut buckets: Vec<u64> = Vec::new();
    let last = bound.iter().copied().max()?;
    let whole = usize::try_from(last.saturating_sub(start) / 1_000_000_000).ok()?;
    if whole == 0 {
        return None;
    }
    buckets.resize(whole, 0);
    for t in bound.iter().filter(|t| **t > 0) {
        let i = usize::try_from(t.saturating_sub(start) / 1_000_000_000).ok()?;
        if let Some(b) = buckets.get_mut(i) {
            *b += 1;
        }
    }
    buckets.sort_unstable();
    let median = buckets[(buckets.len() - 1) / 2] as f64;
    let max = buckets.last().copied().unwrap_or(0) as f64;
    Some((median, max))
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Report {
    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::from("### Scheduler (scheduler_perf workloads)\n\n");
        let _ = writeln!(
            out,
            "The release `scheduler` binary against a fresh release apiserver per workload; \
             simulated nodes registered through the API; pods created by {} clients; a pod counts \
             when the benchmark's watch shows it bound. Throughput is measured pods over the \
             time from the first measured create to the last binding seen.\n",
            self.create_clients
        );
        out.push_str(
            "| workload | nodes | initial pods | measured pods bound | pods/s | target | kube-scheduler CI \
             floor | 1-s windows: median / max | measured pods created at | create → bound p50 | p99 |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.runs {
            let windows = r
                .per_second
                .map_or("-".to_owned(), |(median, max)| format!("{median:.0} / {max:.0}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} / {} | {} | ≥ {} | {} | {windows} | {} at {} | {} | {} |",
                r.workload.name(),
                r.sizes.nodes,
                r.sizes.init,
                r.bound,
                r.sizes.measured,
                per_sec(r.rate()),
                per_sec(r.workload.target()),
                per_sec(r.workload.kube_floor()),
                r.created,
                per_sec(r.create_rate),
                ms(r.latency.p50),
                ms(r.latency.p99),
            );
        }
        out.push_str(
            "\nResources while the measured pods were created and scheduled (memory once all were \
             bound):\n\n\
             | workload | scheduler RSS before measured pods | scheduler RSS | scheduler peak RSS \
             | apiserver RSS | scheduler cores \
             | scheduler CPU per pod | apiserver cores | benchmark cores | other processes |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.runs {
            let scheduler_cpu = r.cpu.servers.get(1).copied().unwrap_or_default();
            let per_pod = if r.bound > 0 {
                format!("{:.0} µs", scheduler_cpu.as_secs_f64() * 1e6 / r.bound as f64)
            } else {
                "-".to_owned()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} | {per_pod} | {:.2} | {:.2} | {:.2} |",
                r.workload.name(),
                mib(r.scheduler_memory_before.rss),
                mib(r.scheduler_memory.rss),
                mib(r.scheduler_memory.peak),
                mib(r.apiserver_memory.rss),
                r.cpu.server_cores(1),
                r.cpu.server_cores(0),
                r.cpu.cores(r.cpu.bench),
                r.cpu.cores(r.cpu.others),
            );
        }
        out.push_str(
            "\nSet-up and health:\n\n\
             | workload | nodes registered at | scheduler scheduling after | initial pods bound in \
             | victims marked / confirmed / failed | DELETED events | watch restarts \
             | scheduler log warnings / errors | apiserver log warnings / errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.runs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} s | {} / {} / {} | {} | {} | {} / {} | {} / {} |",
                r.workload.name(),
                per_sec(r.nodes_rate),
                ms(r.scheduler_ready),
                r.init_elapsed.as_secs_f64(),
                r.marked,
                r.confirmed,
                r.confirm_failed,
                r.deleted,
                r.watch_restarts,
                r.scheduler_log.warnings,
                r.scheduler_log.errors,
                r.apiserver_log.warnings,
                r.apiserver_log.errors,
            );
        }
        for r in &self.runs {
            let name = r.workload.name();
            if let Waited::GaveUp(why) = &r.init_waited {
                let _ = writeln!(out, "\n{name}, initial pods: {why}.");
            }
            if let Waited::GaveUp(why) = &r.waited {
                let _ = writeln!(out, "\n{name}, measured pods: {why}.");
            }
            if let Some(sample) = &r.unbound_sample {
                let _ = writeln!(out, "\n{name}, first unbound pod: {sample}");
            }
            if let Some(e) = &r.first_create_error {
                let _ = writeln!(out, "\n{name}: {} failed creates; first: {e}", r.create_errors);
            }
            if let Some(e) = &r.first_confirm_error {
                let _ = writeln!(out, "\n{name}: first failed deletion confirmation: {e}");
            }
            for (server, problems) in [("scheduler", &r.scheduler_log), ("apiserver", &r.apiserver_log)] {
                if !problems.first.is_empty() {
                    let _ = writeln!(out, "\n{name}, first {server} log warnings:\n\n```");
                    for line in &problems.first {
                        let _ = writeln!(out, "{line}");
                    }
                    out.push_str("```\n");
                }
            }
        }
        out
    }

    /// The target rows for the summary table.
    pub fn targets(&self) -> Vec<[String; 4]> {
        let mut targets = Vec::new();
        for r in &self.runs {
            targets.push([
                format!(
                    "{} pods/s ({} nodes, {} pods)",
                    r.workload.name(),
                    r.sizes.nodes,
                    r.sizes.measured
                ),
                format!("≥ {}", per_sec(r.workload.target())),
                format!(
                    "{}{}",
                    per_sec(r.rate()),
                    if r.complete() {
                        String::new()
                    } else {
                        format!(" ({} of {} bound)", r.bound, r.sizes.measured)
                    }
                ),
                verdict(r.complete() && r.rate() >= r.workload.target()).to_owned(),
            ]);
        }
        // Memory where the cluster is largest.
        if let Some(r) = self.runs.iter().max_by_key(|r| (r.sizes.nodes, r.scheduler_memory.rss)) {
            // A smaller cluster says nothing about the target.
            let comparable = r.sizes.nodes >= TARGET_RSS_NODES && r.complete();
            let at = if r.sizes.nodes == TARGET_RSS_NODES {
                String::new()
            } else {
                format!(" (measured at {} nodes)", r.sizes.nodes)
            };
            targets.push([
                format!("scheduler RSS, {TARGET_RSS_NODES} nodes ({})", r.workload.name()),
                format!("≤ {}", mib(TARGET_RSS)),
                format!("{}{at}", mib(r.scheduler_memory.rss)),
                if comparable {
                    verdict(r.scheduler_memory.rss > 0 && r.scheduler_memory.rss <= TARGET_RSS).to_owned()
                } else {
                    "-".to_owned()
                },
            ]);
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_round_trip_and_phases_do_not_mix() {
        assert_eq!(pod_index(&pod_name(MEASURED, 42), MEASURED), Some(42));
        assert_eq!(pod_index(&pod_name(INIT, 7), INIT), Some(7));
        assert_eq!(pod_index(&pod_name(INIT, 7), MEASURED), None);
        assert_eq!(pod_index("measured-x", MEASURED), None);
    }

    #[test]
    fn default_sizes_are_scheduler_perf_s() {
        let args = SchedulerArgs::defaults();
        let s = sizes(Workload::SchedulingBasic, &args).unwrap();
        assert_eq!((s.nodes, s.init, s.measured), (5000, 1000, 10_000));
        let s = sizes(Workload::TopologySpreading, &args).unwrap();
        assert_eq!((s.nodes, s.init, s.measured), (5000, 5000, 2000));
        let s = sizes(Workload::PreemptionBasic, &args).unwrap();
        assert_eq!((s.nodes, s.init, s.measured), (500, 2000, 500));
    }

    #[test]
    fn scaled_sizes_are_checked() {
        let mut args = SchedulerArgs::defaults();
        args.nodes = Some(100);
        args.pods = Some(1000);
        let s = sizes(Workload::PreemptionBasic, &args).unwrap();
        assert_eq!((s.init, s.measured), (400, 100), "one preemptor per node at most");
        assert!(sizes(Workload::SchedulingBasic, &args).is_ok());
        args.pods = Some(100 * PODS_PER_NODE_BY_MEMORY);
        assert!(sizes(Workload::SchedulingBasic, &args).is_err(), "more pods than fit");
    }

    #[test]
    fn per_second_windows_count_whole_seconds() {
        let s = 1_000_000_000;
        // Bound at 0.5 s, 1.2 s, 1.7 s, 2.1 s (plus one, as recorded); the last window is partial.
        let bound = [s / 2 + 1, s + s / 5 + 1, s + 7 * s / 10 + 1, 2 * s + s / 10 + 1, 0];
        assert_eq!(per_second(&bound, 1), Some((1.0, 2.0)));
        assert_eq!(per_second(&[s / 2], 1), None);
    }

    #[test]
    fn log_problems_are_counted() {
        let log = "2026 INFO x: fine\n2026  WARN x: binding failed\n2026 ERROR x: boom\n";
        let p = log_problems(log);
        assert_eq!((p.warnings, p.errors, p.first.len()), (1, 1, 2));
    }
}
