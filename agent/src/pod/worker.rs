//! The pod worker: one task per pod UID that makes the runtime match the newest desired state
//! of its pod, then reports what it sees as the pod's status.
//!
//! Each pass (`sync`) is level-based: it lists the pod's containers by label, so a worker that
//! starts after an agent restart adopts what is running instead of starting it again. A pass
//! makes the sandbox (a new one when the old one died, Kubernetes' rule), runs the init
//! containers one at a time, each to completion, then the app containers, and restarts those the
//! restart policy says to restart, with back-off. A deleted pod is stopped within its grace
//! period, its sandbox removed, and its deletion confirmed with grace 0. The worker wakes on a
//! new desired state, on a change the manager's relist saw, when a back-off ends, and every
//! `RESYNC` anyway.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use podium_client::ClientError;
use podium_proto::k8s::core::v1::{Container, Pod, PodStatus};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::api::PodApi;
use super::backoff::{Backoff, go_duration};
use super::dns::{ResolvConf, pod_resolv_conf};
use super::hosts::hosts_file;
use super::labels::{self, attempt};
use super::prober::{self, Outcome, ProbeState, Target};
use super::spec::{self, CLUSTER_DOMAIN, NodeFacts, check_non_root, container_config, sandbox_config};
use super::status::{Observed, PodObservation, pod_status};
use super::volumes;
use crate::metrics;
use crate::runtime::{ContainerRuntime, ContainerState, ContainerStatus, ContainerSummary, RuntimeError};

/// A worker looks again at least this often.
pub const RESYNC: Duration = Duration::from_secs(10);
/// After a failed pass, the next one comes this soon.
const RETRY: Duration = Duration::from_secs(1);
/// The shortest grace a kill gets (Kubernetes' minimum).
pub const MIN_GRACE_SECONDS: i64 = 2;
/// The grace of a pod that names none.
const DEFAULT_GRACE_SECONDS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("apiserver: {0}")]
    Api(#[from] ClientError),
    #[error("writing {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// Kubernetes' message for a pod past its activeDeadlineSeconds.
const DEADLINE_MESSAGE: &str = "Pod was active on the node longer than the specified deadline";
/// The most of a termination message kept, and of the log lines that stand in for one.
const TERMINATION_MESSAGE_BYTES: usize = 4096;
const FALLBACK_LOG_LINES: i64 = 80;
const FALLBACK_LOG_BYTES: usize = 2048;

type Result<T, E = WorkerError> = std::result::Result<T, E>;

/// What every worker of this agent shares.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub node_name: String,
    /// The node's address: `status.hostIP`, and the pod IP of host-network pods.
    pub host_ip: String,
    pub pause_image: String,
    /// The Docker network every pod of the cluster joins.
    pub network: String,
    /// The pod network's subnet when the agent routes per-node pod CIDRs (`--host-gw`).
    pub network_subnet: Option<String>,
    /// Per-pod files live in `<pods_dir>/<uid>/`.
    pub pods_dir: PathBuf,
    /// The node's own resolv.conf, the base of the pods'.
    pub node_resolv: ResolvConf,
    /// The runtime's name, the scheme of container and image IDs (`docker`).
    pub runtime_name: String,
    /// The node's allocatable resources and cgroup naming.
    pub node: NodeFacts,
}

/// The newest word on a pod.
#[derive(Debug, Clone)]
pub enum PodUpdate {
    /// The pod as the apiserver has it (a deletionTimestamp asks for a graceful stop).
    Desired(Pod),
    /// The pod is gone from the apiserver: stop whatever is left of it.
    Gone(Pod),
}

fn meta(pod: &Pod) -> podium_proto::k8s::meta::v1::ObjectMeta {
    pod.metadata.clone().unwrap_or_default()
}

/// The grace a stop of `pod` gets: the deletion's, else the spec's, never under the minimum.
pub fn grace_seconds(pod: &Pod) -> i64 {
    let from_spec = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds);
    meta(pod)
        .deletion_grace_period_seconds
        .or(from_spec)
        .unwrap_or(DEFAULT_GRACE_SECONDS)
        .max(MIN_GRACE_SECONDS)
}

/// Whether a container that exited with `code` runs again under `policy`.
pub fn should_restart(policy: &str, code: i64) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != 0,
        _ => true,
    }
}

/// The pod's containers as listed, by role.
#[derive(Debug, Default)]
struct Listed {
    /// Sandboxes, oldest attempt first.
    sandboxes: Vec<(u32, ContainerSummary)>,
    /// Instances per container name, oldest attempt first.
    containers: HashMap<String, Vec<(u32, ContainerSummary)>>,
}

impl Listed {
    fn new(all: Vec<ContainerSummary>) -> Self {
        let mut listed = Listed::default();
        for summary in all {
            let n = attempt(&summary.labels);
            match summary.labels.get(labels::CONTAINER_NAME) {
                Some(name)
                    if summary.labels.get(labels::CONTAINER_TYPE).map(String::as_str) == Some(labels::CONTAINER) =>
                {
                    listed.containers.entry(name.clone()).or_default().push((n, summary))
                }
                _ => listed.sandboxes.push((n, summary)),
            }
        }
        listed.sandboxes.sort_by_key(|(n, _)| *n);
        for instances in listed.containers.values_mut() {
            instances.sort_by_key(|(n, _)| *n);
        }
        listed
    }

    fn running(&self) -> impl Iterator<Item = &ContainerSummary> {
        self.containers.values().flatten().map(|(_, s)| s).filter(|s| s.running)
    }
}

/// One pod's worker.
pub struct PodWorker<R, A> {
    uid: String,
    runtime: Arc<R>,
    api: Arc<A>,
    ctx: Arc<AgentContext>,
    /// Restart back-off per container name; pull back-off per `image:<ref>`.
    backoff: Backoff,
    /// Why a container is held back, by container name.
    waiting: HashMap<String, (String, String)>,
    /// When each exited instance was first seen exited (the back-off counts from then).
    exit_seen: HashMap<String, Instant>,
    /// Statuses of exited instances, which no longer change.
    finished: HashMap<String, ContainerStatus>,
    /// Exited instances whose termination message has been read.
    messaged: HashSet<String>,
    /// The earliest moment a back-off ends.
    wake_at: Option<Instant>,
    /// The status last written.
    written: Option<PodStatus>,
    /// The last message of each warning reason, so that a repeated failure is one Event.
    warned: HashMap<String, String>,
    /// The probe workers of each running instance, by its id.
    probes: HashMap<String, Probing>,
    /// The worker's own wake-up, which probe workers ring.
    wake: Arc<Notify>,
    /// When this worker first saw the pod (pod start-up is timed from here).
    first_seen: Instant,
    /// Whether the pod has been reported Running (its start-up is over).
    started: bool,
}

/// A running instance's probe workers.
struct Probing {
    state: Arc<parking_lot::Mutex<ProbeState>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Probing {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl<R: ContainerRuntime, A: PodApi> PodWorker<R, A> {
    pub fn new(uid: String, runtime: Arc<R>, api: Arc<A>, ctx: Arc<AgentContext>) -> Self {
        PodWorker {
            uid,
            runtime,
            api,
            ctx,
            backoff: Backoff::default(),
            waiting: HashMap::new(),
            exit_seen: HashMap::new(),
            finished: HashMap::new(),
            messaged: HashSet::new(),
            wake_at: None,
            written: None,
            warned: HashMap::new(),
            probes: HashMap::new(),
            wake: Arc::new(Notify::new()),
            first_seen: Instant::now(),
            started: false,
        }
    }

    /// Works on the newest update until the pod is gone or `shutdown` (which leaves the
    /// containers running for the next agent to adopt).
    pub async fn run(
        mut self,
        mut updates: watch::Receiver<PodUpdate>,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) {
        self.wake = wake.clone();
        loop {
            let update = updates.borrow_and_update().clone();
            self.wake_at = None;
            let span = self.pass_span(&update);
            let outcome = async {
                match &update {
                    PodUpdate::Gone(pod) => self.terminate(pod, false).await.map(|()| true),
                    PodUpdate::Desired(pod) if meta(pod).deletion_timestamp.is_some() => {
                        self.terminate(pod, true).await.map(|()| true)
                    }
                    PodUpdate::Desired(pod) => self.sync(pod).await.map(|()| false),
                }
            }
            .instrument(span)
            .await;
            match outcome {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(pod = %self.uid, error = %e, "syncing the pod failed; retrying");
                    self.wake_within(RETRY);
                }
            }
            let resync = Instant::now() + RESYNC;
            let deadline = self.wake_at.map_or(resync, |at| at.min(resync));
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                changed = updates.changed() => if changed.is_err() { return },
                () = wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The span of one pass: while the pod starts, and when it stops, a child of the trace
    /// its creation began (the pod's trace annotation); passes in between are not traced.
    fn pass_span(&self, update: &PodUpdate) -> tracing::Span {
        let (pod, name) = match update {
            PodUpdate::Gone(pod) => (pod, "stop pod"),
            PodUpdate::Desired(pod) if meta(pod).deletion_timestamp.is_some() => (pod, "stop pod"),
            PodUpdate::Desired(_) if self.started => return tracing::Span::none(),
            PodUpdate::Desired(pod) => (pod, "start pod"),
        };
        let m = meta(pod);
        let span = tracing::info_span!(
            "pod pass",
            otel.name = name,
            pod = %format!("{}/{}", m.namespace, m.name),
            uid = %self.uid,
            node = %self.ctx.node_name,
        );
        podium_telemetry::propagation::follow_annotation(&span, &m.annotations);
        span
    }

    fn wake_at(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    fn wake_within(&mut self, d: Duration) {
        self.wake_at(Instant::now() + d);
    }

    /// Records an Event in the background (an Event never holds a pod up).
    fn event(&self, pod: &Pod, kind: &'static str, reason: &'static str, message: String) {
        let (api, pod, node) = (self.api.clone(), pod.clone(), self.ctx.node_name.clone());
        tokio::spawn(async move {
            if let Err(e) = api.record_event(&pod, &node, kind, reason, &message).await {
                tracing::debug!(error = %e, reason, "recording an event failed");
            }
        });
    }

    /// A Warning Event, unless the last one of this reason said the same.
    fn warn_once(&mut self, pod: &Pod, reason: &'static str, message: String) {
        if self.warned.get(reason) != Some(&message) {
            self.warned.insert(reason.to_owned(), message.clone());
            self.event(pod, "Warning", reason, message);
        }
    }

    /// Whether the pod has been active longer than its activeDeadlineSeconds; otherwise wakes
    /// the worker when it will have been.
    fn past_deadline(&mut self, pod: &Pod, status: &PodStatus) -> bool {
        let deadline = pod.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        let (Some(deadline), Some(start)) = (deadline, status.start_time) else {
            return false;
        };
        let left = start.seconds + deadline - chrono::Utc::now().timestamp();
        if left <= 0 {
            return true;
        }
        self.wake_within(Duration::from_secs(u64::try_from(left).unwrap_or(0)));
        false
    }

    async fn list(&self) -> Result<Listed> {
        let filter = [(labels::POD_UID.to_owned(), self.uid.clone())].into();
        Ok(Listed::new(self.runtime.list_containers(&filter).await?))
    }

    /// An instance's status; exited ones are remembered, as they no longer change.
    async fn inspect(&mut self, id: &str) -> Result<Option<ContainerStatus>> {
        if let Some(done) = self.finished.get(id) {
            return Ok(Some(done.clone()));
        }
        let status = self.runtime.container_status(id).await?;
        if let Some(s) = &status
            && s.state == ContainerState::Exited
        {
            self.exit_seen.entry(id.to_owned()).or_insert_with(Instant::now);
            self.finished.insert(id.to_owned(), s.clone());
        }
        Ok(status)
    }

    async fn observe(&mut self, container: &Container, listed: &Listed) -> Result<Observed> {
        let instances = listed
            .containers
            .get(&container.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut observed = Observed {
            name: container.name.clone(),
            image: container.image.clone(),
            waiting: self.waiting.get(&container.name).cloned(),
            ..Default::default()
        };
        if let Some((n, latest)) = instances.last()
            && let Some(status) = self.inspect(&latest.id).await?
        {
            observed.latest = Some((*n, self.with_termination_message(container, *n, status).await));
        }
        if let [.., (n, previous), _] = instances
            && let Some(status) = self.inspect(&previous.id).await?
        {
            observed.previous = Some(self.with_termination_message(container, *n, status).await);
        }
        if let Some((_, latest)) = &observed.latest
            && latest.state == ContainerState::Running
        {
            let probed = container.readiness_probe.is_some() || container.startup_probe.is_some();
            match self.probes.get(&latest.id) {
                Some(probing) => {
                    let state = probing.state.lock();
                    observed.ready = Some(state.ready);
                    observed.started = Some(state.started);
                }
                None if probed => {
                    observed.ready = Some(false);
                    observed.started = Some(container.startup_probe.is_none());
                }
                None => {}
            }
        }
        Ok(observed)
    }

    /// An exited instance's message: what it wrote to its terminationMessagePath, or with
    /// FallbackToLogsOnError and a failure, the end of its logs. Worked out once per instance.
    async fn with_termination_message(
        &mut self,
        c: &Container,
        attempt: u32,
        mut status: ContainerStatus,
    ) -> ContainerStatus {
        if status.state != ContainerState::Exited || self.messaged.contains(&status.id) {
            return status;
        }
        let file = self
            .pod_dir()
            .join("containers")
            .join(&c.name)
            .join(format!("{attempt}-termination-log"));
        let mut message = std::fs::read(&file).unwrap_or_default();
        message.truncate(TERMINATION_MESSAGE_BYTES);
        let mut message = String::from_utf8_lossy(&message).into_owned();
        if message.is_empty() && c.termination_message_policy == "FallbackToLogsOnError" && status.exit_code != Some(0)
        {
            let options = crate::runtime::LogOptions {
                tail_lines: Some(FALLBACK_LOG_LINES),
                ..Default::default()
            };
            if let Ok(mut output) = self.runtime.logs(&status.id, &options).await {
                use futures::StreamExt;
                let mut text = Vec::new();
                while let Some(Ok(crate::runtime::Output::Stdout(d) | crate::runtime::Output::Stderr(d))) =
                    output.next().await
                {
                    text.extend_from_slice(&d);
                }
                let start = text.len().saturating_sub(FALLBACK_LOG_BYTES);
                message = String::from_utf8_lossy(&text[start..]).into_owned();
            }
        }
        if !message.is_empty() {
            status.message = message;
        }
        self.finished.insert(status.id.clone(), status.clone());
        self.messaged.insert(status.id.clone());
        status
    }

    /// One pass: sandbox, init containers, app containers, then the status.
    async fn sync(&mut self, pod: &Pod) -> Result<()> {
        let spec = pod.spec.clone().unwrap_or_default();
        let mut listed = self.list().await?;
        let previous = self.previous_status(pod);
        let mut terminal = matches!(previous.phase.as_str(), "Succeeded" | "Failed");
        let mut failure = None;
        if !terminal && self.past_deadline(pod, &previous) {
            self.event(pod, "Warning", "DeadlineExceeded", DEADLINE_MESSAGE.to_owned());
            failure = Some(("DeadlineExceeded".to_owned(), DEADLINE_MESSAGE.to_owned()));
            terminal = true;
        }
        // Volumes come before the sandbox; a pod whose volumes fail does not start.
        let volumes = if terminal {
            None
        } else {
            match volumes::prepare(pod, &self.pod_dir(), &self.ctx.node) {
                Ok(volumes) => Some(volumes),
                Err(e) => {
                    self.warn_once(pod, "FailedMount", format!("MountVolume.SetUp failed: {e}"));
                    self.wake_within(RETRY * 10);
                    None
                }
            }
        };
        // A disk emptyDir over its sizeLimit evicts the pod, as Kubernetes' eviction manager does.
        if !terminal && let Some(message) = volumes::over_size_limit(pod, &self.pod_dir()) {
            self.event(pod, "Warning", "Evicted", message.clone());
            failure = Some(("Evicted".to_owned(), message));
            terminal = true;
        }
        let sandbox = listed.sandboxes.last().cloned();
        for (_, old) in listed.sandboxes.iter().rev().skip(1) {
            self.runtime.remove_sandbox(&old.id).await?;
        }
        let sandbox_status = match &sandbox {
            Some((_, s)) => self.runtime.sandbox_status(&s.id).await?,
            None => None,
        };
        let alive = sandbox_status.as_ref().filter(|s| s.running);
        let mut sandbox_id = alive.map(|s| s.id.clone());
        let mut pod_ip = alive.and_then(|s| s.ip.clone());
        if terminal {
            // A pod that ended keeps its containers (for their logs) but nothing runs.
            if listed.running().next().is_some() {
                self.event(pod, "Normal", "Killing", "Stopping the pod's containers".to_owned());
            }
            self.stop_running(pod, &listed, grace_seconds(pod), pod_ip.as_deref().unwrap_or_default())
                .await;
            if let Some(id) = &sandbox_id {
                self.runtime.stop_sandbox(id, 0).await?;
            }
            sandbox_id = None;
            if failure.is_some() {
                listed = self.list().await?;
            }
        } else if sandbox_id.is_none() && volumes.is_some() {
            let ran = !listed.containers.is_empty();
            if sandbox.is_some() {
                // The sandbox died: its containers go with it.
                tracing::info!(pod = %self.uid, "the pod's sandbox is gone; stopping its containers");
                self.event(
                    pod,
                    "Normal",
                    "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.".to_owned(),
                );
                self.stop_running(pod, &listed, grace_seconds(pod), "").await;
            }
            if !(spec.restart_policy == "Never" && ran) {
                let next = sandbox.as_ref().map_or(0, |(n, _)| n + 1);
                if let Some((_, old)) = &sandbox {
                    self.runtime.remove_sandbox(&old.id).await?;
                }
                if !spec.host_network {
                    self.runtime
                        .ensure_network(&self.ctx.network, self.ctx.network_subnet.as_deref())
                        .await?;
                }
                let ctx = self.ctx.clone();
                let config = sandbox_config(pod, &ctx.node_name, next, &ctx.pause_image, &ctx.network, &ctx.node);
                let id = self.runtime.run_sandbox(&config).await?;
                pod_ip = self.runtime.sandbox_status(&id).await?.and_then(|s| s.ip);
                sandbox_id = Some(id);
            }
            listed = self.list().await?;
        }
        if spec.host_network {
            pod_ip = Some(self.ctx.host_ip.clone());
        }
        if let (Some(sandbox_id), Some(volumes)) = (&sandbox_id, volumes) {
            let files = self.write_pod_files(pod, pod_ip.as_deref().unwrap_or_default())?;
            let ctx = self.ctx.clone();
            let runtime = spec::Runtime {
                pod_ip: pod_ip.as_deref().unwrap_or_default(),
                host_ip: &ctx.host_ip,
                hosts_file: files.0,
                resolv_conf: Some(files.1),
                volumes,
                termination_log: None,
                node: ctx.node.clone(),
            };
            if self.act(pod, sandbox_id, &listed, &runtime).await? {
                listed = self.list().await?;
            }
            self.collect_garbage(&listed).await;
            self.keep_probes(pod, &listed, runtime.pod_ip);
        }
        let observation = PodObservation {
            sandbox_ready: sandbox_id.is_some() && pod_ip.is_some(),
            pod_ip,
            host_ip: self.ctx.host_ip.clone(),
            init: self.observe_all(&spec.init_containers, &listed).await?,
            app: self.observe_all(&spec.containers, &listed).await?,
            runtime_name: self.ctx.runtime_name.clone(),
            failure,
        };
        self.write_status(pod, &observation).await?;
        if !terminal && matches!(self.previous_status(pod).phase.as_str(), "Succeeded" | "Failed") {
            // It just ended: the next pass stops what is left of it.
            self.wake_within(Duration::ZERO);
        }
        Ok(())
    }

    /// Starts probe workers for running instances that have none, and drops those of
    /// instances that stopped.
    fn keep_probes(&mut self, pod: &Pod, listed: &Listed, pod_ip: &str) {
        let spec = pod.spec.clone().unwrap_or_default();
        let running: HashSet<String> = listed.running().map(|c| c.id.clone()).collect();
        self.probes.retain(|id, _| running.contains(id));
        for c in &spec.containers {
            if c.startup_probe.is_none() && c.liveness_probe.is_none() && c.readiness_probe.is_none() {
                continue;
            }
            let Some((_, latest)) = listed.containers.get(&c.name).and_then(|i| i.last()) else {
                continue;
            };
            if !latest.running || self.probes.contains_key(&latest.id) {
                continue;
            }
            let target = Target {
                container_id: latest.id.clone(),
                pod_ip: pod_ip.to_owned(),
                container: c.clone(),
            };
            let (api, event_pod, node) = (self.api.clone(), pod.clone(), self.ctx.node_name.clone());
            let report: prober::Report = Arc::new(move |message: String| {
                let (api, pod, node) = (api.clone(), event_pod.clone(), node.clone());
                tokio::spawn(async move {
                    let _ = api.record_event(&pod, &node, "Warning", "Unhealthy", &message).await;
                });
            });
            let m = meta(pod);
            let (state, tasks) = prober::start(
                self.runtime.clone(),
                target,
                (&m.namespace, &m.name),
                self.wake.clone(),
                report,
            );
            self.probes.insert(latest.id.clone(), Probing { state, tasks });
        }
    }

    async fn observe_all(&mut self, containers: &[Container], listed: &Listed) -> Result<Vec<Observed>> {
        let mut all = Vec::with_capacity(containers.len());
        for c in containers {
            all.push(self.observe(c, listed).await?);
        }
        Ok(all)
    }

    /// Starts what should run; true when it started anything.
    async fn act(&mut self, pod: &Pod, sandbox_id: &str, listed: &Listed, rt: &spec::Runtime<'_>) -> Result<bool> {
        let spec = pod.spec.clone().unwrap_or_default();
        for init in &spec.init_containers {
            let observed = self.observe(init, listed).await?;
            match observed
                .latest
                .as_ref()
                .map(|(n, s)| (*n, s.state, s.exit_code, s.id.clone()))
            {
                Some((_, ContainerState::Exited, Some(0), _)) => continue,
                Some((n, ContainerState::Exited, _, id)) => {
                    if spec.restart_policy == "Never" {
                        return Ok(false);
                    }
                    return self.restart(pod, init, true, n, &id, sandbox_id, rt).await;
                }
                Some((_, ContainerState::Created, _, id)) => {
                    self.start_created(&id).await;
                    return Ok(true);
                }
                Some((_, ContainerState::Running, _, _)) => return Ok(false),
                None => return self.start(pod, init, true, 0, sandbox_id, rt).await,
            }
        }
        let mut acted = false;
        for container in &spec.containers {
            let observed = self.observe(container, listed).await?;
            acted |= match observed
                .latest
                .as_ref()
                .map(|(n, s)| (*n, s.state, s.exit_code, s.id.clone()))
            {
                None => self.start(pod, container, false, 0, sandbox_id, rt).await?,
                Some((_, ContainerState::Created, _, id)) => {
                    self.start_created(&id).await;
                    true
                }
                Some((_, ContainerState::Running, _, id)) => self.kill_if_unhealthy(pod, container, &id, rt).await,
                Some((n, ContainerState::Exited, code, id)) => {
                    if should_restart(&spec.restart_policy, code.unwrap_or(0)) {
                        self.restart(pod, container, false, n, &id, sandbox_id, rt).await?
                    } else {
                        false
                    }
                }
            };
        }
        Ok(acted)
    }

    /// Stops a running instance whose liveness or startup probe failed (preStop first), so
    /// that the restart policy takes over; true when it did.
    async fn kill_if_unhealthy(&mut self, pod: &Pod, c: &Container, id: &str, rt: &spec::Runtime<'_>) -> bool {
        let failed = self.probes.get(id).and_then(|p| p.state.lock().failed.clone());
        let Some((kind, _)) = failed else { return false };
        self.event(
            pod,
            "Normal",
            "Killing",
            format!("Container {} failed {kind} probe, will be restarted", c.name),
        );
        let probe = if kind == "startup" {
            &c.startup_probe
        } else {
            &c.liveness_probe
        };
        let grace = probe
            .as_ref()
            .and_then(|p| p.termination_grace_period_seconds)
            .unwrap_or_else(|| grace_seconds(pod));
        self.probes.remove(id);
        self.stop_one(pod, c, id, rt.pod_ip, grace).await;
        self.wake_within(Duration::ZERO);
        true
    }

    /// Runs the container's preStop hook (within the grace period), then stops it with what
    /// is left of the grace.
    async fn stop_one(&self, pod: &Pod, c: &Container, id: &str, pod_ip: &str, grace: i64) {
        let started = Instant::now();
        if let Some(pre_stop) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
            let target = Target {
                container_id: id.to_owned(),
                pod_ip: pod_ip.to_owned(),
                container: c.clone(),
            };
            let limit = Duration::from_secs(u64::try_from(grace.max(0)).unwrap_or(0));
            match tokio::time::timeout(limit, prober::hook(&*self.runtime, &target, pre_stop)).await {
                Ok(Outcome::Success) => {}
                Ok(Outcome::Failure(message)) => {
                    self.event(
                        pod,
                        "Warning",
                        "FailedPreStopHook",
                        format!("PreStopHook failed: {message}"),
                    );
                }
                Err(_) => {}
            }
        }
        let spent = i64::try_from(started.elapsed().as_secs()).unwrap_or(grace);
        if let Err(e) = self.runtime.stop_container(id, (grace - spent).max(0), None).await {
            tracing::warn!(pod = %self.uid, error = %e, "stopping a container failed");
        }
    }

    async fn start_created(&mut self, id: &str) {
        if let Err(e) = self.runtime.start_container(id).await {
            tracing::warn!(pod = %self.uid, container = %id, error = %e, "starting the container failed");
        }
    }

    /// Restarts container `c` whose instance `id` (attempt `n`) exited, unless it is backing off.
    #[allow(clippy::too_many_arguments)]
    async fn restart(
        &mut self,
        pod: &Pod,
        c: &Container,
        init: bool,
        n: u32,
        id: &str,
        sandbox_id: &str,
        rt: &spec::Runtime<'_>,
    ) -> Result<bool> {
        let now = Instant::now();
        let since = *self.exit_seen.entry(id.to_owned()).or_insert(now);
        if let Some((delay, until)) = self.backoff.in_backoff_since(&c.name, since, now) {
            let m = meta(pod);
            let message = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                go_duration(delay),
                c.name,
                m.name,
                m.namespace,
                m.uid
            );
            self.waiting
                .insert(c.name.clone(), ("CrashLoopBackOff".into(), message));
            self.wake_at(until);
            return Ok(false);
        }
        self.backoff.next(&c.name, since);
        self.start(pod, c, init, n + 1, sandbox_id, rt).await
    }

    /// Makes sure `c`'s image is there, as its pull policy says; `Err` holds the waiting
    /// reason and message.
    async fn ensure_image(&mut self, c: &Container) -> std::result::Result<(), (String, String)> {
        let image = &c.image;
        let present = self.runtime.image_exists(image).await.unwrap_or(false);
        match c.image_pull_policy.as_str() {
            "Never" if present => return Ok(()),
            "Never" => {
                return Err((
                    "ErrImageNeverPull".into(),
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                ));
            }
            "IfNotPresent" if present => return Ok(()),
            _ => {}
        }
        let key = format!("image:{image}");
        let now = Instant::now();
        if let Some((_, until)) = self.backoff.in_backoff_since_update(&key, now) {
            self.wake_at(until);
            return Err(("ImagePullBackOff".into(), format!("Back-off pulling image \"{image}\"")));
        }
        match self.runtime.pull_image(image).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.backoff.next(&key, now);
                if let Some((_, until)) = self.backoff.in_backoff_since_update(&key, now) {
                    self.wake_at(until);
                }
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }

    /// Creates and starts attempt `n` of `c`; true when it got as far as starting.
    async fn start(
        &mut self,
        pod: &Pod,
        c: &Container,
        init: bool,
        n: u32,
        sandbox_id: &str,
        rt: &spec::Runtime<'_>,
    ) -> Result<bool> {
        if let Err(waiting) = self.ensure_image(c).await {
            if waiting.0 == "ErrImagePull" || waiting.0 == "ErrImageNeverPull" {
                self.warn_once(
                    pod,
                    "Failed",
                    format!("Failed to pull image {:?}: {}", c.image, waiting.1),
                );
            }
            self.waiting.insert(c.name.clone(), waiting);
            return Ok(false);
        }
        let image_user = match self.runtime.image_config(&c.image).await {
            Ok(config) => config.unwrap_or_default().user,
            Err(e) => return Err(e.into()),
        };
        if let Err(e) = check_non_root(pod, c, &image_user) {
            self.warn_once(pod, "Failed", format!("Error: {e}"));
            self.waiting
                .insert(c.name.clone(), ("CreateContainerConfigError".into(), e.to_string()));
            self.wake_within(RETRY * 10);
            return Ok(false);
        }
        let log = volumes::termination_log(&self.pod_dir(), c, n).map_err(|source| WorkerError::File {
            path: self.pod_dir().join("containers"),
            source,
        })?;
        let rt = spec::Runtime {
            termination_log: Some(log),
            ..rt.clone()
        };
        let config = match container_config(pod, &self.ctx.node_name, c, init, n, &rt) {
            Ok(config) => config,
            Err(e) => {
                self.waiting
                    .insert(c.name.clone(), ("CreateContainerConfigError".into(), e.to_string()));
                self.wake_within(RETRY * 10);
                return Ok(false);
            }
        };
        let id = match self.runtime.create_container(sandbox_id, &config).await {
            Ok(id) => id,
            Err(e) => {
                self.waiting
                    .insert(c.name.clone(), ("CreateContainerError".into(), e.to_string()));
                self.wake_within(RETRY * 10);
                return Ok(false);
            }
        };
        self.waiting.remove(&c.name);
        tracing::info!(pod = %self.uid, container = %c.name, attempt = n, "starting container");
        self.event(pod, "Normal", "Created", format!("Created container {}", c.name));
        self.start_created(&id).await;
        self.event(pod, "Normal", "Started", format!("Started container {}", c.name));
        if let Some(post_start) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let target = Target {
                container_id: id.clone(),
                pod_ip: rt.pod_ip.to_owned(),
                container: c.clone(),
            };
            if let Outcome::Failure(message) = prober::hook(&*self.runtime, &target, post_start).await {
                self.event(
                    pod,
                    "Warning",
                    "FailedPostStartHook",
                    format!("PostStartHook failed: {message}"),
                );
                self.stop_one(pod, c, &id, rt.pod_ip, grace_seconds(pod)).await;
            }
        }
        Ok(true)
    }

    /// Stops every running container of the pod at once, each within `grace` seconds.
    async fn stop_running(&self, pod: &Pod, listed: &Listed, grace: i64, pod_ip: &str) {
        let spec = pod.spec.clone().unwrap_or_default();
        let stops = listed.running().map(|summary| {
            let name = summary.labels.get(labels::CONTAINER_NAME).cloned().unwrap_or_default();
            let c = spec
                .containers
                .iter()
                .chain(&spec.init_containers)
                .find(|c| c.name == name)
                .cloned()
                .unwrap_or_default();
            async move { self.stop_one(pod, &c, &summary.id, pod_ip, grace).await }
        });
        futures::future::join_all(stops).await;
    }

    /// Removes dead instances beyond the newest two of each container.
    async fn collect_garbage(&mut self, listed: &Listed) {
        for instances in listed.containers.values() {
            for (_, old) in instances.iter().rev().skip(2).filter(|(_, s)| !s.running) {
                if self.runtime.remove_container(&old.id).await.is_ok() {
                    self.finished.remove(&old.id);
                    self.messaged.remove(&old.id);
                    self.exit_seen.remove(&old.id);
                }
            }
        }
    }

    fn pod_dir(&self) -> PathBuf {
        self.ctx.pods_dir.join(&self.uid)
    }

    /// Writes the pod's `/etc/hosts` (none on the host network) and `/etc/resolv.conf` when
    /// they differ from what is there.
    fn write_pod_files(&self, pod: &Pod, pod_ip: &str) -> Result<(Option<PathBuf>, PathBuf)> {
        let dir = self.pod_dir();
        let io = |path: &PathBuf| {
            let path = path.clone();
            move |source| WorkerError::File { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let write = |name: &str, content: String| -> Result<PathBuf> {
            let path = dir.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                std::fs::write(&path, content).map_err(io(&path))?;
            }
            Ok(path)
        };
        let host_network = pod.spec.as_ref().is_some_and(|s| s.host_network);
        let hosts = if host_network {
            None
        } else {
            Some(write("etc-hosts", hosts_file(pod, pod_ip, CLUSTER_DOMAIN))?)
        };
        let resolv = write("resolv.conf", pod_resolv_conf(pod, &self.ctx.node_resolv).render())?;
        Ok((hosts, resolv))
    }

    fn previous_status(&self, pod: &Pod) -> PodStatus {
        self.written.clone().or_else(|| pod.status.clone()).unwrap_or_default()
    }

    /// Writes the status when it changed.
    async fn write_status(&mut self, pod: &Pod, observation: &PodObservation) -> Result<()> {
        let previous = self.previous_status(pod);
        let mut base = pod.clone();
        base.status = Some(previous.clone());
        let status = pod_status(&base, observation, podium_proto::now());
        if status == previous && (self.written.is_some() || pod.status.as_ref() == Some(&status)) {
            return Ok(());
        }
        let mut update = pod.clone();
        update.status = Some(status.clone());
        match self.api.update_status(update).await {
            Ok(_) => {
                if status.phase == "Running" && !self.started {
                    self.started = true;
                    metrics::POD_START.observe(self.first_seen.elapsed().as_secs_f64());
                }
                self.written = Some(status);
                Ok(())
            }
            // Gone: the manager will say so.
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stops and removes everything of the pod; with `confirm`, then deletes it with grace 0
    /// (only this pod: the UID is a precondition).
    async fn terminate(&mut self, pod: &Pod, confirm: bool) -> Result<()> {
        let grace = grace_seconds(pod);
        tracing::info!(pod = %self.uid, grace, "stopping the pod");
        let listed = self.list().await?;
        if confirm {
            let names: Vec<&str> = listed
                .running()
                .filter_map(|c| c.labels.get(labels::CONTAINER_NAME).map(String::as_str))
                .collect();
            for name in names {
                self.event(pod, "Normal", "Killing", format!("Stopping container {name}"));
            }
        }
        let pod_ip = pod.status.as_ref().map(|s| s.pod_ip.clone()).unwrap_or_default();
        self.stop_running(pod, &listed, grace, &pod_ip).await;
        for (_, sandbox) in &listed.sandboxes {
            self.runtime.stop_sandbox(&sandbox.id, 0).await?;
        }
        for (_, c) in listed.containers.values().flatten() {
            self.runtime.remove_container(&c.id).await?;
        }
        for (_, sandbox) in &listed.sandboxes {
            self.runtime.remove_sandbox(&sandbox.id).await?;
        }
        let dir = self.pod_dir();
        volumes::remove_pod_dir(&dir).map_err(|source| WorkerError::File { path: dir, source })?;
        if confirm {
            let m = meta(pod);
            match self.api.confirm_deletion(&m.namespace, &m.name, &m.uid).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_and_grace() {
        assert!(should_restart("Always", 0));
        assert!(!should_restart("OnFailure", 0));
        assert!(should_restart("OnFailure", 1));
        assert!(!should_restart("Never", 1));
        let mut pod = Pod::default();
        assert_eq!(grace_seconds(&pod), 30);
        pod.metadata = Some(podium_proto::k8s::meta::v1::ObjectMeta {
            deletion_grace_period_seconds: Some(0),
            ..Default::default()
        });
        assert_eq!(grace_seconds(&pod), MIN_GRACE_SECONDS);
    }
}
