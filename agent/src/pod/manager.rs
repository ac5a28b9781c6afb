//! The pod manager: watches the pods bound to this node and gives each pod UID its worker.
//!
//! Each worker reads the newest update from a `watch` channel, so a newer desired state
//! replaces an older one it has not read yet, and a deletion (the last word on a pod) is never
//! lost behind it. Every `RELIST` the manager lists the node's containers (Kubernetes' PLEG):
//! a pod whose containers changed state has its worker woken, and containers whose pod has no
//! worker (deleted while the agent was away) are removed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use podium_client::{Client, ListParams, Reflector, ReflectorEvent};
use podium_proto::k8s::core::v1::Pod;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::labels;
use super::worker::{AgentContext, PodUpdate, PodWorker};
use crate::metrics;
use crate::runtime::ContainerRuntime;

/// How often the node's containers are listed.
pub const RELIST: Duration = Duration::from_secs(1);

struct Handle {
    updates: watch::Sender<PodUpdate>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

fn uid_of(pod: &Pod) -> String {
    pod.metadata.as_ref().map(|m| m.uid.clone()).unwrap_or_default()
}

/// Runs the pods bound to one node.
pub struct PodManager<R> {
    client: Arc<Client>,
    runtime: Arc<R>,
    ctx: Arc<AgentContext>,
    workers: HashMap<String, Handle>,
    /// Pods whose worker finished them; later updates of them (their deletion) are ignored.
    done: HashSet<String>,
    /// Each pod's containers as last listed: `(id, running)`.
    seen: HashMap<String, Vec<(String, bool)>>,
    shutdown: CancellationToken,
}

impl<R: ContainerRuntime> PodManager<R> {
    pub fn new(client: Client, runtime: Arc<R>, ctx: AgentContext, shutdown: CancellationToken) -> Self {
        PodManager {
            client: Arc::new(client),
            runtime,
            ctx: Arc::new(ctx),
            workers: HashMap::new(),
            done: HashSet::new(),
            seen: HashMap::new(),
            shutdown,
        }
    }

    /// Runs until shutdown, then waits for the workers to stop (leaving pods running).
    pub async fn run(mut self) {
        let params = ListParams {
            field_selector: format!("spec.nodeName={}", self.ctx.node_name),
            ..Default::default()
        };
        let pods = Reflector::spawn(self.client.resource::<Pod>(""), params, self.shutdown.clone());
        let mut events = pods.subscribe();
        tokio::select! {
            () = pods.wait_synced() => {}
            () = self.shutdown.cancelled() => return,
        }
        tracing::info!(node = %self.ctx.node_name, pods = pods.snapshot().len(), "watching the node's pods");
        for pod in pods.snapshot() {
            self.dispatch(PodUpdate::Desired(pod));
        }
        let mut relist = tokio::time::interval(RELIST);
        relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(ReflectorEvent::Applied(pod)) => self.dispatch(PodUpdate::Desired(pod)),
                    Ok(ReflectorEvent::Deleted(pod)) => self.dispatch(PodUpdate::Gone(pod)),
                    Err(RecvError::Lagged(_)) => self.resync(&pods),
                    Err(RecvError::Closed) => break,
                },
                _ = relist.tick() => {
                    if let Err(e) = self.relist().await {
                        tracing::warn!(error = %e, "listing the node's containers failed");
                    }
                }
                () = self.shutdown.cancelled() => break,
            }
        }
        for (_, handle) in self.workers.drain() {
            let _ = handle.task.await;
        }
    }

    /// Events were missed: every pod gets its current state, and pods no longer there go.
    fn resync(&mut self, pods: &Reflector<Pod>) {
        let current = pods.snapshot();
        let uids: HashSet<String> = current.iter().map(uid_of).collect();
        let gone: Vec<Pod> = self
            .workers
            .iter()
            .filter(|(uid, _)| !uids.contains(*uid))
            .map(|(_, h)| match &*h.updates.borrow() {
                PodUpdate::Desired(pod) | PodUpdate::Gone(pod) => pod.clone(),
            })
            .collect();
        for pod in gone {
            self.dispatch(PodUpdate::Gone(pod));
        }
        for pod in current {
            self.dispatch(PodUpdate::Desired(pod));
        }
    }

    fn reap(&mut self) {
        let finished: Vec<String> = self
            .workers
            .iter()
            .filter(|(_, h)| h.task.is_finished())
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in finished {
            self.workers.remove(&uid);
            self.done.insert(uid);
        }
    }

    fn dispatch(&mut self, update: PodUpdate) {
        self.reap();
        let pod = match &update {
            PodUpdate::Desired(pod) | PodUpdate::Gone(pod) => pod,
        };
        let uid = uid_of(pod);
        if let Some(handle) = self.workers.get(&uid) {
            // A change of status only (often the worker's own write) is kept but wakes no one.
            handle.updates.send_if_modified(|current| {
                let wake = match (&*current, &update) {
                    (PodUpdate::Desired(old), PodUpdate::Desired(new)) => differs_beyond_status(old, new),
                    _ => true,
                };
                *current = update;
                wake
            });
            return;
        }
        match &update {
            // Nothing runs for it here: the relist removes any containers left.
            PodUpdate::Gone(_) => {
                self.done.remove(&uid);
                return;
            }
            PodUpdate::Desired(pod) if self.done.contains(&uid) && pod_is_deleting(pod) => return,
            PodUpdate::Desired(_) => {}
        }
        let (updates, receiver) = watch::channel(update);
        let wake = Arc::new(Notify::new());
        let worker = PodWorker::new(uid.clone(), self.runtime.clone(), self.client.clone(), self.ctx.clone());
        let task = tokio::spawn(worker.run(receiver, wake.clone(), self.shutdown.clone()));
        self.workers.insert(uid, Handle { updates, wake, task });
    }

    /// Lists the node's containers: wakes the workers of pods whose containers changed, and
    /// removes containers no worker owns.
    async fn relist(&mut self) -> crate::runtime::Result<()> {
        self.reap();
        let filter: BTreeMap<String, String> = [(labels::NODE.to_owned(), self.ctx.node_name.clone())].into();
        let mut by_pod: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        let (mut running_pods, mut running, mut exited) = (HashSet::new(), 0, 0);
        for c in self.runtime.list_containers(&filter).await? {
            let uid = c.labels.get(labels::POD_UID).cloned().unwrap_or_default();
            match (c.labels.get(labels::CONTAINER_TYPE).map(String::as_str), c.running) {
                (Some(labels::SANDBOX), true) => {
                    running_pods.insert(uid.clone());
                }
                (Some(labels::SANDBOX), false) => {}
                (_, true) => running += 1,
                (_, false) => exited += 1,
            }
            by_pod.entry(uid).or_default().push((c.id, c.running));
        }
        metrics::RUNNING_PODS.set(i64::try_from(running_pods.len()).unwrap_or(i64::MAX));
        metrics::RUNNING_CONTAINERS.with_label_values(&["running"]).set(running);
        metrics::RUNNING_CONTAINERS.with_label_values(&["exited"]).set(exited);
        for (uid, containers) in &mut by_pod {
            containers.sort();
            match self.workers.get(uid) {
                Some(handle) => {
                    if self.seen.get(uid) != Some(containers) {
                        handle.wake.notify_one();
                    }
                }
                None => {
                    tracing::info!(pod = %uid, "removing the containers of a pod that is not bound here");
                    for (id, _) in containers.iter() {
                        self.runtime.remove_container(id).await?;
                    }
                }
            }
        }
        self.seen = by_pod;
        Ok(())
    }
}

/// Whether two versions of a pod differ in more than status and bookkeeping (the kubelet's
/// "semantic" difference).
fn differs_beyond_status(old: &Pod, new: &Pod) -> bool {
    let strip = |pod: &Pod| {
        let mut pod = pod.clone();
        pod.status = None;
        if let Some(m) = pod.metadata.as_mut() {
            m.resource_version.clear();
            m.managed_fields.clear();
        }
        pod
    };
    strip(old) != strip(new)
}

fn pod_is_deleting(pod: &Pod) -> bool {
    pod.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_some())
}
