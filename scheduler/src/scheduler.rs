//! The scheduler process: caches fed by list-then-watch, the queue, the scheduling loop,
//! asynchronous binding, preemption and reporting. `run` is the whole scheduler.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use podium_client::{Client, ListParams, Reflector, ReflectorEvent};
use podium_proto::k8s::core::v1::{Binding, Namespace, Node, ObjectReference, Pod, PodCondition};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::algorithm::{Algorithm, FitError, Nominated};
use crate::cache::{Cache, is_terminal};
use crate::framework::PodInfo;
use crate::metrics;
use crate::plugins::default_profile;
use crate::preemption::find_candidate;
use crate::queue::SchedulingQueue;
use crate::recorder::Recorder;
use podium_client::leader::{LeaderElector, LeaseTimings};

/// How often `scheduler_pending_pods` is brought up to date.
const PENDING_GAUGES: Duration = Duration::from_secs(1);

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The apiserver's gRPC URL, e.g. `http://127.0.0.1:6443`.
    pub apiserver: String,
    /// Only pods naming this scheduler are scheduled.
    pub scheduler_name: String,
    pub leader_elect: bool,
    pub lease_namespace: String,
    pub lease_name: String,
    pub identity: String,
    pub lease_timings: LeaseTimings,
    /// 0 = Kubernetes' adaptive default.
    pub percentage_of_nodes_to_score: u32,
}

impl Config {
    pub fn new(apiserver: &str) -> Self {
        Config {
            apiserver: apiserver.to_owned(),
            scheduler_name: "default-scheduler".into(),
            leader_elect: false,
            lease_namespace: "kube-system".into(),
            lease_name: "kube-scheduler".into(),
            identity: podium_client::leader::default_identity(),
            lease_timings: LeaseTimings::default(),
            percentage_of_nodes_to_score: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("connecting to the apiserver: {0}")]
    Client(#[from] podium_client::ClientError),
    #[error("lost the leader lease {0}")]
    LostLease(String),
}

/// Shared state of one running scheduler.
struct Scheduler {
    config: Config,
    client: Client,
    cache: Mutex<Cache>,
    queue: SchedulingQueue,
    algorithm: Algorithm,
    /// Pods nominated by preemption, by node.
    nominated: Mutex<Nominated>,
    recorder: Recorder,
}

fn meta(pod: &Pod) -> ObjectMeta {
    pod.metadata.clone().unwrap_or_default()
}

impl Scheduler {
    fn is_ours_and_pending(&self, pod: &Pod) -> bool {
        let spec = pod.spec.as_ref();
        spec.is_some_and(|s| s.scheduler_name == self.config.scheduler_name && s.node_name.is_empty())
            && pod.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_none())
            && !is_terminal(pod)
    }

    fn on_pod(&self, event: ReflectorEvent<Pod>) {
        match event {
            ReflectorEvent::Applied(pod) => {
                let id = meta(&pod).uid;
                let bound = pod.spec.as_ref().is_some_and(|s| !s.node_name.is_empty());
                if bound {
                    let terminal = is_terminal(&pod);
                    self.cache.lock().add_or_update_pod(pod);
                    self.queue.delete(&id);
                    self.forget_nomination(&id);
                    if terminal {
                        self.queue.move_all_to_active_or_backoff("PodFinished");
                    }
                } else if self.is_ours_and_pending(&pod) {
                    self.queue.add_or_update(Arc::new(pod));
                } else {
                    self.queue.delete(&id);
                }
            }
            ReflectorEvent::Deleted(pod) => {
                let id = meta(&pod).uid;
                self.cache.lock().remove_pod(&id);
                self.queue.delete(&id);
                self.forget_nomination(&id);
                self.queue.move_all_to_active_or_backoff("PodDelete");
            }
        }
    }

    fn on_node(&self, event: ReflectorEvent<Node>) {
        match event {
            ReflectorEvent::Applied(node) => {
                self.cache.lock().add_or_update_node(node);
                self.queue.move_all_to_active_or_backoff("NodeChange");
            }
            ReflectorEvent::Deleted(node) => {
                self.cache.lock().remove_node(&meta_name(&node));
            }
        }
    }

    /// Namespace labels changed: namespace selectors in affinity terms may now select others.
    fn refresh_namespaces(&self, namespaces: &Reflector<Namespace>) {
        let labels = namespaces
            .snapshot()
            .into_iter()
            .filter_map(|ns| ns.metadata.map(|m| (m.name, m.labels)))
            .collect();
        self.algorithm.set_namespaces(labels);
        self.queue.move_all_to_active_or_backoff("NamespaceChange");
    }

    fn forget_nomination(&self, id: &str) {
        let mut nominated = self.nominated.lock();
        for pods in nominated.values_mut() {
            pods.retain(|p| p.uid() != id);
        }
        nominated.retain(|_, pods| !pods.is_empty());
    }

    /// One attempt for the next pod in the queue, in a span that continues the trace the
    /// pod's creation began (its trace annotation).
    async fn schedule_one(self: &Arc<Self>, pod: Arc<Pod>) {
        let m = meta(&pod);
        let span = tracing::info_span!(
            "schedule pod",
            pod = %format!("{}/{}", m.namespace, m.name),
            uid = %m.uid,
            node = tracing::field::Empty,
        );
        podium_telemetry::propagation::follow_annotation(&span, &m.annotations);
        self.attempt(pod, span.clone()).instrument(span).await;
    }

    async fn attempt(self: &Arc<Self>, pod: Arc<Pod>, span: tracing::Span) {
        let start = Instant::now();
        let profile = self.config.scheduler_name.clone();
        let id = meta(&pod).uid;
        let snapshot = self.cache.lock().snapshot();
        let nominated = self.nominated.lock().clone();
        // The algorithm is CPU-bound: keep it off the async workers.
        let attempt = {
            let (this, pod) = (self.clone(), pod.clone());
            tokio::task::spawn_blocking(move || {
                let result = this.algorithm.schedule(&pod, &snapshot, &nominated);
                let candidate = match &result {
                    Err(fit) if fit.preemption_may_help() => {
                        find_candidate(&this.algorithm, &pod, &snapshot, fit, &nominated)
                    }
                    _ => None,
                };
                (result, candidate)
            })
        };
        let Ok((result, candidate)) = attempt.await else {
            metrics::attempt(metrics::ERROR, &profile, start.elapsed().as_secs_f64());
            self.queue.requeue(&id, false);
            return;
        };
        match result {
            Ok(placement) => {
                span.record("node", placement.node.as_str());
                self.cache.lock().assume(&pod, &placement.node);
                let this = self.clone();
                tokio::spawn(
                    async move {
                        let result = if this.bind(pod, placement.node).await {
                            metrics::SCHEDULED
                        } else {
                            metrics::ERROR
                        };
                        metrics::attempt(result, &profile, start.elapsed().as_secs_f64());
                    }
                    .instrument(span),
                );
            }
            Err(fit) => {
                match candidate {
                    Some(candidate) => self.preempt(&pod, candidate).await,
                    None => self.report_unschedulable(&pod, &fit).await,
                }
                metrics::attempt(metrics::UNSCHEDULABLE, &profile, start.elapsed().as_secs_f64());
                self.queue.requeue(&id, true);
            }
        }
    }

    /// Binds the pod; true when it worked.
    async fn bind(&self, pod: Arc<Pod>, node: String) -> bool {
        let m = meta(&pod);
        let binding = Binding {
            metadata: Some(ObjectMeta {
                name: m.name.clone(),
                namespace: m.namespace.clone(),
                uid: m.uid.clone(),
                ..Default::default()
            }),
            target: Some(ObjectReference {
                kind: "Node".into(),
                name: node.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        match self.client.bind(binding).await {
            Ok(_) => {
                self.queue.done(&m.uid);
                self.forget_nomination(&m.uid);
                let message = format!("Successfully assigned {}/{} to {node}", m.namespace, m.name);
                self.recorder.pod_event(&pod, "Normal", "Scheduled", &message).await;
                true
            }
            Err(e) => {
                tracing::warn!(pod = %m.name, node, error = %e, "binding failed");
                self.cache.lock().forget(&m.uid);
                if e.code() == 409 || e.is_not_found() {
                    // Bound by someone else, or gone: nothing left to do.
                    self.queue.done(&m.uid);
                } else {
                    self.queue.requeue(&m.uid, false);
                }
                false
            }
        }
    }

    /// Nominates the node, then evicts the victims gracefully.
    async fn preempt(&self, pod: &Pod, candidate: crate::preemption::Candidate) {
        let m = meta(pod);
        tracing::info!(pod = %m.name, node = %candidate.node, victims = candidate.victims.len(), "preempting");
        metrics::PREEMPTION_ATTEMPTS.inc();
        metrics::PREEMPTION_VICTIMS.observe(candidate.victims.len() as f64);
        self.nominated
            .lock()
            .entry(candidate.node.clone())
            .or_default()
            .push(Arc::new(PodInfo::new(Arc::new(pod.clone()))));
        self.update_status(pod, |status| {
            status.nominated_node_name = candidate.node.clone();
        })
        .await;
        for victim in &candidate.victims {
            let v = meta(&victim.pod);
            let message = format!("Preempted by pod {} on node {}", m.uid, candidate.node);
            self.recorder
                .pod_event(&victim.pod, "Normal", "Preempted", &message)
                .await;
            let pods = self.client.resource::<Pod>(&v.namespace);
            if let Err(e) = pods.delete(&v.name, DeleteOptions::default()).await
                && !e.is_not_found()
            {
                tracing::warn!(victim = %v.name, error = %e, "evicting a victim failed");
            }
        }
    }

    async fn report_unschedulable(&self, pod: &Pod, fit: &FitError) {
        let message = fit.message();
        tracing::debug!(pod = %meta(pod).name, %message, "unschedulable");
        self.recorder
            .pod_event(pod, "Warning", "FailedScheduling", &message)
            .await;
        self.update_status(pod, |status| {
            let condition = PodCondition {
                r#type: "PodScheduled".into(),
                status: "False".into(),
                reason: "Unschedulable".into(),
                message: message.clone(),
                last_transition_time: Some(podium_proto::now()),
                ..Default::default()
            };
            let existing = status.conditions.iter_mut().find(|c| c.r#type == "PodScheduled");
            match existing {
                Some(c) if c.status == "False" && c.reason == "Unschedulable" && c.message == message => {}
                Some(c) => *c = condition,
                None => status.conditions.push(condition),
            }
        })
        .await;
    }

    /// Applies a change to a pod's status, re-reading on conflict; unchanged status is not
    /// written.
    async fn update_status(&self, pod: &Pod, change: impl Fn(&mut podium_proto::k8s::core::v1::PodStatus)) {
        let m = meta(pod);
        let pods = self.client.resource::<Pod>(&m.namespace);
        for _ in 0..3 {
            let Ok(Some(mut current)) = pods.get_opt(&m.name).await else {
                return;
            };
            if current.metadata.as_ref().is_some_and(|c| c.uid != m.uid) {
                return;
            }
            let before = current.status.clone();
            change(current.status.get_or_insert_with(Default::default));
            if current.status == before {
                return;
            }
            match pods.update_status(current).await {
                Ok(_) => return,
                Err(e) if e.is_conflict() => continue,
                Err(e) => {
                    tracing::debug!(pod = %m.name, error = %e, "updating pod status failed");
                    return;
                }
            }
        }
    }
}

fn meta_name(node: &Node) -> String {
    node.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default()
}

/// Runs the scheduler until `shutdown` (or until it loses its leader lease).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), SchedulerError> {
    let client = Client::new(&config.apiserver)?;
    let lost = CancellationToken::new();
    if config.leader_elect {
        let elector = LeaderElector::new(
            client.clone(),
            &config.lease_namespace,
            &config.lease_name,
            &config.identity,
            config.lease_timings.clone(),
        );
        if !elector.acquire(&shutdown).await {
            return Ok(());
        }
        let (lost, shutdown) = (lost.clone(), shutdown.clone());
        tokio::spawn(async move { elector.keep(lost, shutdown).await });
    }
    let stop = CancellationToken::new();
    let scheduler = Arc::new(Scheduler {
        recorder: Recorder::new(client.clone(), config.identity.clone()),
        algorithm: Algorithm::new(default_profile(), config.percentage_of_nodes_to_score),
        cache: Mutex::new(Cache::default()),
        queue: SchedulingQueue::default(),
        nominated: Mutex::new(HashMap::new()),
        client: client.clone(),
        config,
    });
    let nodes = Reflector::spawn(client.resource::<Node>(""), ListParams::default(), stop.clone());
    let pods = Reflector::spawn(client.resource::<Pod>(""), ListParams::default(), stop.clone());
    let namespaces = Reflector::spawn(client.resource::<Namespace>(""), ListParams::default(), stop.clone());
    let (mut node_events, mut pod_events) = (nodes.subscribe(), pods.subscribe());
    let mut namespace_events = namespaces.subscribe();
    {
        let scheduler = scheduler.clone();
        let stop = stop.clone();
        let (node_cache, pod_cache, namespace_cache) = (nodes.clone(), pods.clone(), namespaces.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = node_events.recv() => match event {
                        Ok(event) => scheduler.on_node(event),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "node events lagged; resyncing");
                            for node in node_cache.snapshot() { scheduler.on_node(ReflectorEvent::Applied(node)); }
                        }
                        Err(_) => return,
                    },
                    event = pod_events.recv() => match event {
                        Ok(event) => scheduler.on_pod(event),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "pod events lagged; resyncing");
                            for pod in pod_cache.snapshot() { scheduler.on_pod(ReflectorEvent::Applied(pod)); }
                        }
                        Err(_) => return,
                    },
                    event = namespace_events.recv() => match event {
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            scheduler.refresh_namespaces(&namespace_cache);
                        }
                        Err(_) => return,
                    },
                    () = stop.cancelled() => return,
                }
            }
        });
    }
    // Start from full caches (Kubernetes' WaitForCacheSync). Whatever happened before the
    // subscriptions is in the snapshots, and the events are consumed from the start so the
    // buffers do not overflow while the first lists arrive; replaying an event twice is harmless.
    tokio::select! {
        () = async { nodes.wait_synced().await; pods.wait_synced().await; namespaces.wait_synced().await } => {}
        () = shutdown.cancelled() => { stop.cancel(); return Ok(()); }
    }
    for node in nodes.snapshot() {
        scheduler.on_node(ReflectorEvent::Applied(node));
    }
    for pod in pods.snapshot() {
        scheduler.on_pod(ReflectorEvent::Applied(pod));
    }
    scheduler.refresh_namespaces(&namespaces);
    tracing::info!(scheduler = %scheduler.config.scheduler_name, "scheduling");
    let mut gauges = tokio::time::interval(PENDING_GAUGES);
    let result = loop {
        tokio::select! {
            _ = gauges.tick() => {
                let (active, backoff, unschedulable) = scheduler.queue.lengths();
                metrics::pending(active, backoff, unschedulable);
            }
            next = scheduler.queue.pop() => match next {
                Some(item) => scheduler.schedule_one(item.pod).await,
                None => break Ok(()),
            },
            () = shutdown.cancelled() => break Ok(()),
            () = lost.cancelled() => break Err(SchedulerError::LostLease(scheduler.config.lease_name.clone())),
        }
    };
    stop.cancel();
    scheduler.queue.close();
    result
}
