//! The pod worker against the fake runtime and a fake apiserver, on paused time: start order,
//! restart policies and back-off, CrashLoopBackOff, pull failures, sandbox death, graceful
//! deletion and adoption after an agent restart.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use podium_agent::pod::dns::ResolvConf;
use podium_agent::pod::{AgentContext, PodApi, PodUpdate, PodWorker};
use podium_agent::runtime::{Call, ContainerState, FakeRuntime, Image};
use podium_client::ClientError;
use podium_proto::k8s::core::v1::{Container, Pod, PodSpec, PodStatus};
use podium_proto::k8s::meta::v1::ObjectMeta;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Records what the worker writes.
#[derive(Default)]
struct FakeApi {
    statuses: Mutex<Vec<PodStatus>>,
    deleted: Mutex<Vec<(String, String, String)>>,
    events: Mutex<Vec<(String, String, String)>>,
}

impl PodApi for FakeApi {
    async fn update_status(&self, pod: Pod) -> Result<(), ClientError> {
        self.statuses.lock().push(pod.status.unwrap_or_default());
        Ok(())
    }

    async fn confirm_deletion(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ClientError> {
        self.deleted
            .lock()
            .push((namespace.to_owned(), name.to_owned(), uid.to_owned()));
        Ok(())
    }

    async fn record_event(
        &self,
        _pod: &Pod,
        _node: &str,
        kind: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), ClientError> {
        self.events
            .lock()
            .push((kind.to_owned(), reason.to_owned(), message.to_owned()));
        Ok(())
    }
}

const IMAGE: &str = "busybox:1.36";

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: IMAGE.into(),
        image_pull_policy: "IfNotPresent".into(),
        ..Default::default()
    }
}

fn pod(policy: &str, init: &[&str], app: &[&str]) -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: "web".into(),
            namespace: "default".into(),
            uid: "uid-1".into(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            restart_policy: policy.into(),
            node_name: "n1".into(),
            init_containers: init.iter().map(|n| container(n)).collect(),
            containers: app.iter().map(|n| container(n)).collect(),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn docker_name(container: &str, attempt: u32) -> String {
    format!("k8s_{container}_web_default_uid-1_{attempt}")
}

struct Harness {
    runtime: Arc<FakeRuntime>,
    api: Arc<FakeApi>,
    updates: watch::Sender<PodUpdate>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn fake_runtime() -> Arc<FakeRuntime> {
    Arc::new(FakeRuntime::with_images(vec![Image {
        names: vec![IMAGE.into(), "podium/pause:test".into()],
        size_bytes: 1,
    }]))
}

impl Harness {
    fn start(pod: Pod) -> Self {
        Self::start_on(fake_runtime(), pod)
    }

    fn start_on(runtime: Arc<FakeRuntime>, pod: Pod) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Arc::new(AgentContext {
            node_name: "n1".into(),
            host_ip: "192.168.0.10".into(),
            pause_image: "podium/pause:test".into(),
            network: "podium".into(),
            network_subnet: None,
            pods_dir: dir.path().join("pods"),
            node_resolv: ResolvConf::parse("nameserver 192.168.0.1\n"),
            runtime_name: "fake".into(),
            node: podium_agent::pod::spec::NodeFacts {
                cpu_milli: 2000,
                memory_bytes: 4 << 30,
                cgroup_driver: "cgroupfs".into(),
                pids_limit: None,
            },
        });
        let api = Arc::new(FakeApi::default());
        let (updates, receiver) = watch::channel(PodUpdate::Desired(pod));
        let wake = Arc::new(Notify::new());
        let shutdown = CancellationToken::new();
        let worker = PodWorker::new("uid-1".into(), runtime.clone(), api.clone(), ctx);
        let task = tokio::spawn(worker.run(receiver, wake.clone(), shutdown.clone()));
        Harness {
            runtime,
            api,
            updates,
            wake,
            task,
            shutdown,
            _dir: dir,
        }
    }

    /// Waits (in paused time) until `done` holds, for at most `limit`.
    async fn until(&self, limit: Duration, what: &str, done: impl Fn(&Self) -> bool) {
        let end = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < end,
                "{what}: not within {limit:?}; calls {:?}",
                self.runtime.calls()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn starts(&self) -> Vec<String> {
        self.runtime
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Start(name) | Call::RunSandbox(name) => Some(name),
                _ => None,
            })
            .collect()
    }

    fn last_status(&self) -> PodStatus {
        self.api.statuses.lock().last().cloned().unwrap_or_default()
    }

    /// Makes the running instance of `container` exit with `code` and tells the worker (as
    /// the manager's relist would).
    fn exit(&self, container: &str, attempt: u32, code: i64) {
        assert!(
            self.runtime.exit_named(&docker_name(container, attempt), code),
            "{container} attempt {attempt} is running"
        );
        self.wake.notify_one();
    }

    fn state_of(&self, container: &str) -> podium_proto::k8s::core::v1::ContainerState {
        let status = self.last_status();
        status
            .container_statuses
            .iter()
            .chain(&status.init_container_statuses)
            .find(|s| s.name == container)
            .and_then(|s| s.state.clone())
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

fn phase(h: &Harness) -> String {
    h.last_status().phase
}

#[tokio::test(start_paused = true)]
async fn init_containers_run_one_at_a_time_before_the_app() {
    let h = Harness::start(pod("Always", &["init-a", "init-b"], &["app", "side"]));
    h.until(Duration::from_secs(5), "init-a starts", |h| {
        h.starts().contains(&docker_name("init-a", 0))
    })
    .await;
    assert_eq!(h.starts(), [docker_name("POD", 0), docker_name("init-a", 0)]);
    let status = h.last_status();
    assert_eq!(status.phase, "Pending");
    let initialized = status.conditions.iter().find(|c| c.r#type == "Initialized").unwrap();
    assert_eq!(
        initialized.message,
        "containers with incomplete status: [init-a init-b]"
    );
    assert_eq!(
        h.state_of("app").waiting.unwrap().reason,
        "PodInitializing",
        "apps wait for the init containers"
    );
    h.exit("init-a", 0, 0);
    h.until(Duration::from_secs(5), "init-b starts", |h| {
        h.starts().contains(&docker_name("init-b", 0))
    })
    .await;
    assert!(!h.starts().contains(&docker_name("app", 0)));
    h.exit("init-b", 0, 0);
    h.until(Duration::from_secs(5), "the pod runs", |h| phase(h) == "Running")
        .await;
    assert_eq!(
        h.starts(),
        [
            docker_name("POD", 0),
            docker_name("init-a", 0),
            docker_name("init-b", 0),
            docker_name("app", 0),
            docker_name("side", 0)
        ]
    );
    let status = h.last_status();
    for kind in [
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodReadyToStartContainers",
        "PodScheduled",
    ] {
        let c = status.conditions.iter().find(|c| c.r#type == kind).unwrap();
        assert_eq!(c.status, "True", "{kind}");
    }
    assert_eq!(status.pod_ip, "10.88.0.1");
    assert_eq!(status.host_ip, "192.168.0.10");
    assert!(
        status
            .container_statuses
            .iter()
            .all(|c| c.ready && c.started == Some(true))
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_init_container_fails_a_never_pod_and_is_retried_otherwise() {
    let h = Harness::start(pod("Never", &["init"], &["app"]));
    h.until(Duration::from_secs(5), "init starts", |h| h.starts().len() == 2)
        .await;
    h.exit("init", 0, 1);
    h.until(Duration::from_secs(5), "the pod fails", |h| phase(h) == "Failed")
        .await;
    assert!(!h.starts().contains(&docker_name("app", 0)));
    assert!(
        h.runtime.calls().contains(&Call::StopSandbox(docker_name("POD", 0))),
        "a pod that ended stops its sandbox"
    );
    h.stop().await;

    let h = Harness::start(pod("OnFailure", &["init"], &["app"]));
    h.until(Duration::from_secs(5), "init starts", |h| h.starts().len() == 2)
        .await;
    h.exit("init", 0, 1);
    h.until(Duration::from_secs(5), "init runs again", |h| {
        h.starts().contains(&docker_name("init", 1))
    })
    .await;
    assert_eq!(phase(&h), "Pending");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_restart_policy_ends_in_its_phase() {
    for (policy, code, expected) in [
        ("Never", 0, "Succeeded"),
        ("Never", 2, "Failed"),
        ("OnFailure", 0, "Succeeded"),
    ] {
        let h = Harness::start(pod(policy, &[], &["app"]));
        h.until(Duration::from_secs(5), "app starts", |h| phase(h) == "Running")
            .await;
        h.exit("app", 0, code);
        h.until(Duration::from_secs(5), expected, |h| phase(h) == expected)
            .await;
        let terminated = h.state_of("app").terminated.unwrap();
        assert_eq!(terminated.exit_code, i32::try_from(code).unwrap());
        assert_eq!(terminated.reason, if code == 0 { "Completed" } else { "Error" });
        // Nothing restarts once the pod has ended, however long we wait.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(h.starts().len(), 2, "{policy}: {:?}", h.starts());
        let ready = h
            .last_status()
            .conditions
            .into_iter()
            .find(|c| c.r#type == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "PodCompleted")
        );
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn crashing_containers_back_off_doubling_in_crash_loop_back_off() {
    let h = Harness::start(pod("Always", &[], &["app"]));
    h.until(Duration::from_secs(5), "app starts", |h| phase(h) == "Running")
        .await;
    let mut restarted_at = Vec::new();
    for attempt in 0..5u32 {
        let crashed = Instant::now();
        h.exit("app", attempt, 1);
        h.until(Duration::from_secs(400), "the next attempt", |h| {
            h.starts().contains(&docker_name("app", attempt + 1))
        })
        .await;
        restarted_at.push((Instant::now() - crashed).as_secs());
    }
    // The first restart is at once, then 10 s doubling (to within the 10 s resync).
    assert!(restarted_at[0] <= 1, "{restarted_at:?}");
    for (i, want) in [(1, 10), (2, 20), (3, 40), (4, 80)] {
        assert!(
            restarted_at[i] >= want && restarted_at[i] <= want + 1,
            "restart {i} after {restarted_at:?}"
        );
    }
    // The next crash shows CrashLoopBackOff with the delay, the last state and the count.
    h.exit("app", 5, 137);
    h.until(Duration::from_secs(5), "CrashLoopBackOff", |h| {
        h.state_of("app")
            .waiting
            .is_some_and(|w| w.reason == "CrashLoopBackOff")
    })
    .await;
    let status = h.last_status().container_statuses[0].clone();
    assert_eq!(
        status.state.unwrap().waiting.unwrap().message,
        "back-off 2m40s restarting failed container=app pod=web_default(uid-1)"
    );
    assert_eq!(status.restart_count, 5);
    assert_eq!(status.last_state.unwrap().terminated.unwrap().exit_code, 137);
    assert!(!status.ready);
    assert_eq!(phase(&h), "Running", "a crash-looping Always pod is Running");
    // Old dead instances are collected, keeping the newest two.
    let apps: Vec<_> = h
        .runtime
        .containers()
        .into_iter()
        .filter(|(n, _)| n.starts_with("k8s_app_"))
        .collect();
    assert_eq!(apps.len(), 2, "{apps:?}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_missing_image_shows_err_image_pull_then_image_pull_back_off() {
    let runtime = fake_runtime();
    let mut p = pod("Always", &[], &["app"]);
    p.spec.as_mut().unwrap().containers[0].image = "registry.example/missing:1".into();
    let h = Harness::start_on(runtime, p);
    h.until(Duration::from_secs(5), "ErrImagePull", |h| {
        h.state_of("app").waiting.is_some_and(|w| w.reason == "ErrImagePull")
    })
    .await;
    h.wake.notify_one();
    h.until(Duration::from_secs(5), "ImagePullBackOff", |h| {
        h.state_of("app").waiting.is_some_and(|w| {
            w.reason == "ImagePullBackOff" && w.message == "Back-off pulling image \"registry.example/missing:1\""
        })
    })
    .await;
    assert_eq!(phase(&h), "Pending");
    // It becomes pullable; the next try after the back-off runs it.
    h.runtime.make_pullable("registry.example/missing:1");
    h.until(Duration::from_secs(30), "the pod runs", |h| phase(h) == "Running")
        .await;
    let pulls = h
        .runtime
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Pull(_)))
        .count();
    assert_eq!(pulls, 2, "one failed pull, one after the back-off");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_dead_sandbox_takes_the_containers_down_and_is_made_again() {
    let h = Harness::start(pod("Always", &[], &["app"]));
    h.until(Duration::from_secs(5), "app starts", |h| phase(h) == "Running")
        .await;
    let (sandbox, _, _) = h.runtime.sandboxes()[0].clone();
    h.runtime.kill_sandbox(&sandbox);
    h.wake.notify_one();
    h.until(Duration::from_secs(5), "a new sandbox and app", |h| {
        h.starts().contains(&docker_name("app", 1))
    })
    .await;
    assert_eq!(
        h.starts(),
        [
            docker_name("POD", 0),
            docker_name("app", 0),
            docker_name("POD", 1),
            docker_name("app", 1)
        ]
    );
    assert!(h.runtime.calls().contains(&Call::Stop(docker_name("app", 0), 30)));
    assert_eq!(h.runtime.sandboxes().len(), 1, "the dead sandbox is removed");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_graceful_delete_stops_within_the_grace_then_confirms() {
    let p = pod("Always", &[], &["app", "side"]);
    let h = Harness::start(p.clone());
    h.until(Duration::from_secs(5), "the pod runs", |h| phase(h) == "Running")
        .await;
    let mut deleting = p.clone();
    let m = deleting.metadata.as_mut().unwrap();
    m.deletion_timestamp = Some(podium_proto::now());
    m.deletion_grace_period_seconds = Some(7);
    h.updates.send_replace(PodUpdate::Desired(deleting));
    h.until(Duration::from_secs(5), "deletion confirmed", |h| {
        !h.api.deleted.lock().is_empty()
    })
    .await;
    let calls = h.runtime.calls();
    let stops: Vec<_> = calls.iter().filter(|c| matches!(c, Call::Stop(..))).collect();
    assert_eq!(stops.len(), 2);
    assert!(stops.iter().all(|c| matches!(c, Call::Stop(_, 7))), "{stops:?}");
    assert!(h.runtime.containers().is_empty() && h.runtime.sandboxes().is_empty());
    assert_eq!(
        h.api.deleted.lock()[0],
        ("default".to_owned(), "web".to_owned(), "uid-1".to_owned())
    );
    h.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_pod_gone_from_the_apiserver_is_killed_even_if_never_seen_deleting() {
    let p = pod("Always", &[], &["app"]);
    let h = Harness::start(p.clone());
    h.until(Duration::from_secs(5), "the pod runs", |h| phase(h) == "Running")
        .await;
    // The newest word wins over the one the worker had not read yet.
    h.updates.send_replace(PodUpdate::Desired(p.clone()));
    h.updates.send_replace(PodUpdate::Gone(p));
    h.task.await.unwrap();
    assert!(h.runtime.containers().is_empty() && h.runtime.sandboxes().is_empty());
    assert!(h.api.deleted.lock().is_empty(), "nothing left to confirm");
}

#[tokio::test(start_paused = true)]
async fn a_new_worker_adopts_running_containers_without_restarting_them() {
    let runtime = fake_runtime();
    let h = Harness::start_on(runtime.clone(), pod("Always", &["init"], &["app"]));
    h.until(Duration::from_secs(5), "init starts", |h| h.starts().len() == 2)
        .await;
    h.exit("init", 0, 0);
    h.until(Duration::from_secs(5), "the pod runs", |h| phase(h) == "Running")
        .await;
    let written = h.last_status();
    h.stop().await;
    let calls_before = runtime.calls().len();
    // The agent restarts: a new worker for the same pod, whose status it wrote before.
    let mut p = pod("Always", &["init"], &["app"]);
    p.status = Some(written);
    let h = Harness::start_on(runtime.clone(), p);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        runtime.calls().len(),
        calls_before,
        "{:?}",
        &runtime.calls()[calls_before..]
    );
    assert!(h.api.statuses.lock().is_empty(), "the status it finds is already right");
    assert!(
        runtime
            .containers()
            .iter()
            .any(|(n, s)| n == &docker_name("app", 0) && *s == ContainerState::Running)
    );
    h.stop().await;
}
