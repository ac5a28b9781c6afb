//! A Pod's status from what the runtime shows: phase, conditions, IPs and every container's
//! state, computed the way the kubelet computes them.

use podium_proto::k8s::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIp,
    Pod, PodCondition, PodIp, PodStatus,
};
use podium_proto::k8s::meta::v1::Time;

use crate::runtime::{self, ContainerState as RuntimeState};

/// One spec container as observed: its newest instance and the one before.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub name: String,
    pub image: String,
    /// The newest instance and its attempt.
    pub latest: Option<(u32, runtime::ContainerStatus)>,
    pub previous: Option<runtime::ContainerStatus>,
    /// Why the agent holds it back (`CrashLoopBackOff`, `ErrImagePull`, ...), with a message.
    pub waiting: Option<(String, String)>,
    /// The probes' verdicts on the running instance (none: no probe says otherwise).
    pub ready: Option<bool>,
    pub started: Option<bool>,
}

/// The whole pod as observed.
#[derive(Debug, Clone, Default)]
pub struct PodObservation {
    /// The sandbox is running and has its network.
    pub sandbox_ready: bool,
    pub pod_ip: Option<String>,
    pub host_ip: String,
    pub init: Vec<Observed>,
    pub app: Vec<Observed>,
    /// `docker`: the prefix of container and image IDs.
    pub runtime_name: String,
    /// The agent failed the pod (reason and message), e.g. DeadlineExceeded.
    pub failure: Option<(String, String)>,
}

fn time(seconds: Option<i64>) -> Option<Time> {
    seconds.map(Time::from_unix)
}

fn terminated(status: &runtime::ContainerStatus, runtime_name: &str) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: i32::try_from(status.exit_code.unwrap_or(0)).unwrap_or(i32::MAX),
            reason: status.reason.clone(),
            message: status.message.clone(),
            started_at: time(status.started_at),
            finished_at: time(status.finished_at),
            container_id: format!("{runtime_name}://{}", status.id),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: reason.into(),
            message: message.into(),
        }),
        ..Default::default()
    }
}

/// A container's status; `default_waiting` is the reason while it has never run.
fn container_status(observed: &Observed, runtime_name: &str, default_waiting: &str) -> ContainerStatus {
    let mut status = ContainerStatus {
        name: observed.name.clone(),
        image: observed.image.clone(),
        ..Default::default()
    };
    let Some((attempt, latest)) = &observed.latest else {
        let (reason, message) = observed
            .waiting
            .clone()
            .unwrap_or_else(|| (default_waiting.to_owned(), String::new()));
        status.state = Some(waiting(&reason, &message));
        status.started = Some(false);
        return status;
    };
    status.restart_count = i32::try_from(*attempt).unwrap_or(i32::MAX);
    status.image_id = if latest.image_id.contains("://") {
        latest.image_id.clone()
    } else {
        format!("{runtime_name}://{}", latest.image_id)
    };
    status.container_id = format!("{runtime_name}://{}", latest.id);
    let previous = observed.previous.as_ref().map(|p| terminated(p, runtime_name));
    match latest.state {
        RuntimeState::Running => {
            status.state = Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: time(latest.started_at),
                }),
                ..Default::default()
            });
            status.last_state = previous;
            // Without probes a running container is started and ready.
            status.ready = observed.ready.unwrap_or(true);
            status.started = Some(observed.started.unwrap_or(true));
        }
        RuntimeState::Created => {
            status.state = Some(waiting(default_waiting, ""));
            status.last_state = previous;
            status.started = Some(false);
        }
        RuntimeState::Exited => {
            status.started = Some(false);
            match &observed.waiting {
                // Held back before a restart: the instance that ended is the last state.
                Some((reason, message)) => {
                    status.state = Some(waiting(reason, message));
                    status.last_state = Some(terminated(latest, runtime_name));
                }
                None => {
                    status.state = Some(terminated(latest, runtime_name));
                    status.last_state = previous;
                }
            }
        }
    }
    status
}

fn is_terminal(phase: &str) -> bool {
    matches!(phase, "Succeeded" | "Failed")
}

fn exit_code(observed: &Observed) -> Option<i64> {
    observed
        .latest
        .as_ref()
        .filter(|(_, s)| s.state == RuntimeState::Exited)
        .and_then(|(_, s)| s.exit_code)
}

/// The pod's phase (Kubernetes' `getPhase`).
pub fn phase(restart_policy: &str, obs: &PodObservation, statuses: &[ContainerStatus]) -> &'static str {
    let init_failed = obs.init.iter().any(|i| exit_code(i).is_some_and(|c| c != 0));
    let initialized = obs.init.iter().all(|i| exit_code(i) == Some(0));
    if !initialized {
        return if init_failed && restart_policy == "Never" {
            "Failed"
        } else {
            "Pending"
        };
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for status in statuses {
        let state = status.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if status.last_state.as_ref().and_then(|s| s.terminated.as_ref()).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match restart_policy {
            "Always" => "Running",
            _ if succeeded == stopped => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        }
    } else {
        "Pending"
    }
}

fn condition(kind: &str, ok: bool, reason: &str, message: String) -> PodCondition {
    PodCondition {
        r#type: kind.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: if ok { String::new() } else { reason.into() },
        message: if ok { String::new() } else { message },
        ..Default::default()
    }
}

fn unready_message(kind: &str, names: &[String]) -> String {
    format!("containers with {kind} status: [{}]", names.join(" "))
}

/// The pod's new status, keeping what others own (PodScheduled, QoS class, nominated node)
/// and each condition's transition time while its status holds.
pub fn pod_status(pod: &Pod, obs: &PodObservation, now: Time) -> PodStatus {
    let old = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let mut status = old.clone();
    let app_waiting = if obs.init.iter().all(|i| exit_code(i) == Some(0)) {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    status.init_container_statuses = obs
        .init
        .iter()
        .map(|o| {
            let mut s = container_status(o, &obs.runtime_name, "PodInitializing");
            // An init container that completed is ready.
            s.ready = exit_code(o) == Some(0);
            s
        })
        .collect();
    status.container_statuses = obs
        .app
        .iter()
        .map(|o| container_status(o, &obs.runtime_name, app_waiting))
        .collect();
    let new_phase = if is_terminal(&old.phase) {
        old.phase.clone()
    } else if let Some((reason, message)) = &obs.failure {
        status.reason = reason.clone();
        status.message = message.clone();
        "Failed".to_owned()
    } else {
        phase(&spec.restart_policy, obs, &status.container_statuses).to_owned()
    };
    let terminal = is_terminal(&new_phase);
    status.phase = new_phase;
    status.host_ip = obs.host_ip.clone();
    status.host_ips = vec![HostIp {
        ip: obs.host_ip.clone(),
    }];
    if let Some(ip) = obs.pod_ip.clone().filter(|ip| !ip.is_empty()) {
        status.pod_ips = vec![PodIp { ip: ip.clone() }];
        status.pod_ip = ip;
    }
    if status.start_time.is_none() {
        status.start_time = Some(now);
    }
    let incomplete_init: Vec<String> = obs
        .init
        .iter()
        .filter(|i| exit_code(i) != Some(0))
        .map(|i| i.name.clone())
        .collect();
    // readinessGates: each named condition must be True too.
    let gates: Vec<String> = spec
        .readiness_gates
        .iter()
        .filter_map(|gate| {
            let condition = old.conditions.iter().find(|c| c.r#type == gate.condition_type);
            match condition {
                None => Some(format!(
                    "corresponding condition of pod readiness gate {:?} does not exist.",
                    gate.condition_type
                )),
                Some(c) if c.status != "True" => Some(format!(
                    "the status of pod readiness gate {:?} is not \"True\", but {}",
                    gate.condition_type, c.status
                )),
                Some(_) => None,
            }
        })
        .collect();
    let unready: Vec<String> = status
        .container_statuses
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.clone())
        .collect();
    let completed = |kind: &str, ok: bool| PodCondition {
        r#type: kind.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: "PodCompleted".into(),
        ..Default::default()
    };
    let mine = if terminal {
        vec![
            condition("PodReadyToStartContainers", false, "", String::new()),
            completed("Initialized", true),
            completed("Ready", false),
            completed("ContainersReady", false),
        ]
    } else {
        vec![
            condition("PodReadyToStartContainers", obs.sandbox_ready, "", String::new()),
            condition(
                "Initialized",
                incomplete_init.is_empty(),
                "ContainersNotInitialized",
                unready_message("incomplete", &incomplete_init),
            ),
            if unready.is_empty() && !gates.is_empty() {
                condition("Ready", false, "ReadinessGatesNotReady", gates.join(", "))
            } else {
                condition(
                    "Ready",
                    unready.is_empty(),
                    "ContainersNotReady",
                    unready_message("unready", &unready),
                )
            },
            condition(
                "ContainersReady",
                unready.is_empty(),
                "ContainersNotReady",
                unready_message("unready", &unready),
            ),
        ]
    };
    let mut conditions: Vec<PodCondition> = Vec::new();
    if !old.conditions.iter().any(|c| c.r#type == "PodScheduled") {
        conditions.push(PodCondition {
            r#type: "PodScheduled".into(),
            status: "True".into(),
            last_transition_time: Some(now),
            ..Default::default()
        });
    }
    for c in &old.conditions {
        if !mine.iter().any(|m| m.r#type == c.r#type) {
            conditions.push(c.clone());
        }
    }
    for mut c in mine {
        let before = old.conditions.iter().find(|o| o.r#type == c.r#type);
        c.last_transition_time = match before {
            Some(o) if o.status == c.status => o.last_transition_time,
            _ => Some(now),
        };
        conditions.push(c);
    }
    status.conditions = conditions;
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i64) -> runtime::ContainerStatus {
        runtime::ContainerStatus {
            id: "c1".into(),
            state: RuntimeState::Exited,
            exit_code: Some(code),
            reason: runtime::exit_reason(code, false).into(),
            message: String::new(),
            started_at: Some(10),
            finished_at: Some(20),
            image_id: "sha256:abc".into(),
            labels: Default::default(),
        }
    }

    fn obs(app: Vec<Observed>) -> PodObservation {
        PodObservation {
            sandbox_ready: true,
            pod_ip: Some("10.0.0.2".into()),
            host_ip: "192.168.0.1".into(),
            init: Vec::new(),
            app,
            runtime_name: "docker".into(),
            failure: None,
        }
    }

    fn observed(latest: Option<runtime::ContainerStatus>) -> Observed {
        Observed {
            name: "app".into(),
            image: "busybox".into(),
            latest: latest.map(|l| (0, l)),
            ..Default::default()
        }
    }

    fn phase_of(policy: &str, o: &PodObservation) -> &'static str {
        let statuses: Vec<_> = o.app.iter().map(|a| container_status(a, "docker", "x")).collect();
        phase(policy, o, &statuses)
    }

    #[test]
    fn phases_follow_the_restart_policy() {
        let ok = obs(vec![observed(Some(exited(0)))]);
        let failed = obs(vec![observed(Some(exited(1)))]);
        assert_eq!(phase_of("Never", &ok), "Succeeded");
        assert_eq!(phase_of("OnFailure", &ok), "Succeeded");
        assert_eq!(phase_of("Always", &ok), "Running");
        assert_eq!(phase_of("Never", &failed), "Failed");
        assert_eq!(phase_of("OnFailure", &failed), "Running");
        assert_eq!(phase_of("Never", &obs(vec![observed(None)])), "Pending");
    }

    #[test]
    fn readiness_gates_hold_ready_until_their_conditions_are_true() {
        use podium_proto::k8s::core::v1::{PodReadinessGate, PodSpec};
        let running = runtime::ContainerStatus {
            state: RuntimeState::Running,
            exit_code: None,
            ..exited(0)
        };
        let mut pod = Pod {
            spec: Some(PodSpec {
                readiness_gates: vec![PodReadinessGate {
                    condition_type: "example.com/lb".into(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let o = obs(vec![observed(Some(running))]);
        let ready = |s: &PodStatus| s.conditions.iter().find(|c| c.r#type == "Ready").cloned().unwrap();
        let first = pod_status(&pod, &o, Time::from_unix(1));
        assert_eq!(ready(&first).status, "False");
        assert_eq!(ready(&first).reason, "ReadinessGatesNotReady");
        assert_eq!(
            ready(&first).message,
            "corresponding condition of pod readiness gate \"example.com/lb\" does not exist."
        );
        let mut status = first;
        status.conditions.push(PodCondition {
            r#type: "example.com/lb".into(),
            status: "True".into(),
            ..Default::default()
        });
        pod.status = Some(status);
        assert_eq!(ready(&pod_status(&pod, &o, Time::from_unix(2))).status, "True");
    }

    #[test]
    fn status_keeps_transition_times_and_others_conditions() {
        let pod = Pod::default();
        let o = obs(vec![observed(Some(exited(2)))]);
        let first = pod_status(&pod, &o, Time::from_unix(100));
        assert_eq!(first.phase, "Running");
        let term = first.container_statuses[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap();
        assert_eq!((term.exit_code, term.reason.as_str()), (2, "Error"));
        assert_eq!(term.container_id, "docker://c1");
        assert_eq!(first.container_statuses[0].image_id, "docker://sha256:abc");
        let ready = first.conditions.iter().find(|c| c.r#type == "Ready").unwrap();
        assert_eq!(ready.message, "containers with unready status: [app]");
        let again = pod_status(
            &Pod {
                status: Some(first.clone()),
                ..Default::default()
            },
            &o,
            Time::from_unix(200),
        );
        assert_eq!(again, first, "nothing changed, nothing to write");
    }
}
