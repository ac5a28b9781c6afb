//! Pods: Kubernetes' `printPod`, the READY, STATUS and RESTARTS that kubectl users read.
//!
//! STATUS is not the phase but the most telling reason found. Later steps override earlier
//! ones: the phase; `status.reason` (e.g. Evicted); SchedulingGated; the first init container
//! that has not finished ("Init:1/2", "Init:CrashLoopBackOff"); then, once initialised, the app
//! containers from last to first, so the first container with a waiting or terminated reason
//! wins; finally "Terminating" (or "Unknown" for a pod on a lost node) when deletion started.
//! A pod whose containers finished but one still runs is "Running" (or "NotReady"), not
//! "Completed". Restartable init containers (sidecars) count as containers once started.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use podium_proto::k8s::core::v1::{Container, ContainerStatus, Pod, PodSpec, PodStatus};
use serde_json::Value;

use super::duration::{self, since};
use super::{Printable, TableColumnDefinition, TableRowCondition, age, age_column, name_column};

/// The reason the node lifecycle controller gives pods on an unreachable node.
const NODE_LOST: &str = "NodeLost";

impl Printable for Pod {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            TableColumnDefinition::new(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            TableColumnDefinition::new(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
            ),
            TableColumnDefinition::new(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in \
                 this pod has restarted.",
            ),
            age_column(),
            TableColumnDefinition::new(
                "IP",
                "string",
                "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            )
            .wide(),
            TableColumnDefinition::new(
                "Node",
                "string",
                "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for \
                 scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this \
                 node becomes responsible for the lifecycle of this pod. This field should not be used to express a \
                 desire for the pod to be scheduled on a specific node. \
                 https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
            )
            .wide(),
            TableColumnDefinition::new(
                "Nominated Node",
                "string",
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be \
                 scheduled right away as preemption victims receive their graceful termination periods. This field \
                 does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the \
                 pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the \
                 resources on this node to a higher priority pod that is created after preemption. As a result, \
                 this field may be different than PodSpec.nodeName when the pod is scheduled.",
            )
            .wide(),
            TableColumnDefinition::new(
                "Readiness Gates",
                "string",
                "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its \
                 containers are ready AND all conditions specified in the readiness gates have status equal to \
                 \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
            )
            .wide(),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let summary = PodSummary::of(self);
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        vec![
            Value::from(crate::Resource::name(self)),
            Value::from(summary.ready()),
            Value::from(summary.status.clone()),
            Value::from(summary.restarts_at(now)),
            age(self, now),
            Value::from(or_none(status.map_or("", pod_ip))),
            Value::from(or_none(spec.map_or("", |s| s.node_name.as_str()))),
            Value::from(or_none(status.map_or("", |s| s.nominated_node_name.as_str()))),
            Value::from(readiness_gates(self)),
        ]
    }

    /// Finished pods carry a "Completed" row condition, whichever way they ended.
    fn row_conditions(&self) -> Vec<TableRowCondition> {
        let (reason, message) = match self.status.as_ref().map(|s| s.phase.as_str()) {
            Some("Succeeded") => ("Succeeded", "The pod has completed successfully."),
            Some("Failed") => ("Failed", "The pod failed."),
            _ => return Vec::new(),
        };
        vec![TableRowCondition {
            r#type: "Completed".to_owned(),
            status: "True".to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
        }]
    }
}

/// What kubectl shows of a pod's containers: READY, STATUS and RESTARTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// Ready app containers plus started, ready sidecars.
    pub ready_containers: usize,
    /// App containers plus restartable init containers (sidecars).
    pub total_containers: usize,
    /// The STATUS column, e.g. "Running", "Init:0/2", "CrashLoopBackOff", "Terminating".
    pub status: String,
    /// Restarts as kubectl counts them: the init containers' while the pod initialises, then the
    /// app containers' and sidecars'.
    pub restarts: i64,
    /// When the most recent of those restarts ended (its container's last termination).
    pub last_restart: Option<DateTime<Utc>>,
}

impl PodSummary {
    /// Kubernetes' `printPod`, without the wide columns.
    pub fn of(pod: &Pod) -> Self {
        let default_spec = PodSpec::default();
        let default_status = PodStatus::default();
        let spec = pod.spec.as_ref().unwrap_or(&default_spec);
        let status = pod.status.as_ref().unwrap_or(&default_status);

        let mut reason = if status.reason.is_empty() {
            status.phase.clone()
        } else {
            status.reason.clone()
        };
        if status
            .conditions
            .iter()
            .any(|c| c.r#type == "PodScheduled" && c.reason == "SchedulingGated")
        {
            reason = "SchedulingGated".to_owned();
        }

        // Like Go's map, a repeated name keeps the last container.
        let init_containers: HashMap<&str, &Container> =
            spec.init_containers.iter().map(|c| (c.name.as_str(), c)).collect();
        let is_sidecar = |name: &str| init_containers.get(name).is_some_and(|c| is_restartable(c));

        let total_containers =
            spec.containers.len() + spec.init_containers.iter().filter(|c| is_restartable(c)).count();
        let mut ready_containers = 0;
        let mut restarts: i64 = 0;
        let mut last_restart = None;
        let mut sidecar_restarts: i64 = 0;
        let mut last_sidecar_restart = None;

        let mut initializing = false;
        for (i, container) in status.init_container_statuses.iter().enumerate() {
            let sidecar = is_sidecar(&container.name);
            restarts += i64::from(container.restart_count);
            later(&mut last_restart, last_termination(container));
            if sidecar {
                sidecar_restarts += i64::from(container.restart_count);
                later(&mut last_sidecar_restart, last_termination(container));
            }
            let state = container.state.as_ref();
            let terminated = state.and_then(|s| s.terminated.as_ref());
            let waiting = state.and_then(|s| s.waiting.as_ref());
            if terminated.is_some_and(|t| t.exit_code == 0) {
                continue;
            }
            if sidecar && container.started == Some(true) {
                if container.ready {
                    ready_containers += 1;
                }
                continue;
            }
            reason = if let Some(terminated) = terminated {
                if !terminated.reason.is_empty() {
                    format!("Init:{}", terminated.reason)
                } else if terminated.signal != 0 {
                    format!("Init:Signal:{}", terminated.signal)
                } else {
                    format!("Init:ExitCode:{}", terminated.exit_code)
                }
            } else if let Some(waiting) = waiting.filter(|w| !w.reason.is_empty() && w.reason != "PodInitializing") {
                format!("Init:{}", waiting.reason)
            } else {
                // Kubernetes counts by position in the status list, against the spec's length.
                format!("Init:{i}/{}", spec.init_containers.len())
            };
            initializing = true;
            break;
        }

        if !initializing || condition_is_true(status, "Initialized") {
            // Once initialised, only sidecars' restarts still count among the init containers'.
            restarts = sidecar_restarts;
            last_restart = last_sidecar_restart;
            let mut has_running = false;
            for container in status.container_statuses.iter().rev() {
                restarts += i64::from(container.restart_count);
                later(&mut last_restart, last_termination(container));
                let state = container.state.as_ref();
                let waiting = state.and_then(|s| s.waiting.as_ref());
                let terminated = state.and_then(|s| s.terminated.as_ref());
                if let Some(waiting) = waiting.filter(|w| !w.reason.is_empty()) {
                    reason = waiting.reason.clone();
                } else if let Some(terminated) = terminated {
                    reason = if !terminated.reason.is_empty() {
                        terminated.reason.clone()
                    } else if terminated.signal != 0 {
                        format!("Signal:{}", terminated.signal)
                    } else {
                        format!("ExitCode:{}", terminated.exit_code)
                    };
                } else if container.ready && state.is_some_and(|s| s.running.is_some()) {
                    has_running = true;
                    ready_containers += 1;
                }
            }
            // A pod is not Completed while one of its containers still runs.
            if reason == "Completed" && has_running {
                let ready = status
                    .conditions
                    .iter()
                    .any(|c| c.r#type == "Ready" && c.status == "True");
                reason = if ready {
                    "Running".to_owned()
                } else {
                    "NotReady".to_owned()
                };
            }
        }

        if pod.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_some()) {
            if status.reason == NODE_LOST {
                reason = "Unknown".to_owned();
            } else if status.phase != "Succeeded" && status.phase != "Failed" {
                reason = "Terminating".to_owned();
            }
        }

        PodSummary {
            ready_containers,
            total_containers,
            status: reason,
            restarts,
            last_restart,
        }
    }

    /// The READY column, e.g. "1/2".
    pub fn ready(&self) -> String {
        format!("{}/{}", self.ready_containers, self.total_containers)
    }

    /// The RESTARTS column: "0", or "3 (5m ago)" when the last restart's time is known.
    pub fn restarts_at(&self, now: DateTime<Utc>) -> String {
        match self.last_restart {
            Some(last) if self.restarts != 0 => format!("{} ({} ago)", self.restarts, since(Some(last), now)),
            _ => self.restarts.to_string(),
        }
    }
}

/// An init container with `restartPolicy: Always`: a sidecar that runs beside the app.
fn is_restartable(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// When the container's previous run ended, if it has ended once.
fn last_termination(container: &ContainerStatus) -> Option<DateTime<Utc>> {
    let terminated = container.last_state.as_ref().and_then(|s| s.terminated.as_ref())?;
    duration::time(terminated.finished_at.as_ref())
}

/// Keeps the later of two instants.
fn later(latest: &mut Option<DateTime<Utc>>, candidate: Option<DateTime<Utc>>) {
    if candidate > *latest {
        *latest = candidate;
    }
}

/// Whether the first condition of this type is True (Kubernetes' `isPodInitializedConditionTrue`).
fn condition_is_true(status: &PodStatus, r#type: &str) -> bool {
    status
        .conditions
        .iter()
        .find(|c| c.r#type == r#type)
        .is_some_and(|c| c.status == "True")
}

/// The pod's primary IP. Kubernetes prints `podIPs[0]` of its internal object, which the
/// v1 conversion fills from `podIP` when that is set, so `podIP` wins.
fn pod_ip(status: &PodStatus) -> &str {
    if status.pod_ip.is_empty() {
        status.pod_ips.first().map_or("", |ip| ip.ip.as_str())
    } else {
        &status.pod_ip
    }
}

/// "<none>" for an empty cell, as the wide columns show it.
fn or_none(value: &str) -> String {
    if value.is_empty() {
        "<none>".to_owned()
    } else {
        value.to_owned()
    }
}

/// The Readiness Gates column: how many gates' conditions are True, e.g. "1/2", or "<none>".
fn readiness_gates(pod: &Pod) -> String {
    let gates = pod.spec.as_ref().map_or(&[][..], |s| &s.readiness_gates);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = pod.status.as_ref().map_or(&[][..], |s| &s.conditions);
    let met = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| c.r#type == gate.condition_type)
                .is_some_and(|c| c.status == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}
