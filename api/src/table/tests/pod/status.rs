//! STATUS and READY, case by case.

use podium_proto::k8s::core::v1::Pod;
use serde_json::json;

use super::{cells, init, pod, running, sidecar, started, status, terminated, waiting, with_deletion};
use crate::table::PodSummary;

fn summary(pod: &Pod) -> (String, String) {
    let s = PodSummary::of(pod);
    (s.ready(), s.status)
}

#[test]
fn pod_status_follows_kubectl() {
    let two_inits = [init("i0"), init("i1")];
    let cases: Vec<(&str, Pod, &str, &str)> = vec![
        (
            "pending, nothing reported",
            pod(1, &[], json!({"phase": "Pending"})),
            "0/1",
            "Pending",
        ),
        (
            "pulling",
            pod(
                1,
                &[],
                json!({"phase": "Pending", "containerStatuses": [waiting("a", "ContainerCreating")]}),
            ),
            "0/1",
            "ContainerCreating",
        ),
        (
            "running",
            pod(1, &[], json!({"phase": "Running", "containerStatuses": [running("a")]})),
            "1/1",
            "Running",
        ),
        (
            "one of two ready",
            pod(
                2,
                &[],
                json!({"phase": "Running", "containerStatuses": [running("a"),
                    status("b", json!({"running": {}}), false)]}),
            ),
            "1/2",
            "Running",
        ),
        (
            "completed",
            pod(
                1,
                &[],
                json!({"phase": "Succeeded", "containerStatuses": [terminated("a", "Completed", 0, 0)]}),
            ),
            "0/1",
            "Completed",
        ),
        (
            "error",
            pod(
                1,
                &[],
                json!({"phase": "Failed", "containerStatuses": [terminated("a", "Error", 1, 0)]}),
            ),
            "0/1",
            "Error",
        ),
        (
            "oom killed",
            pod(
                1,
                &[],
                json!({"phase": "Running", "containerStatuses": [terminated("a", "OOMKilled", 137, 0)]}),
            ),
            "0/1",
            "OOMKilled",
        ),
        (
            "exit code without reason",
            pod(
                1,
                &[],
                json!({"phase": "Failed", "containerStatuses": [terminated("a", "", 3, 0)]}),
            ),
            "0/1",
            "ExitCode:3",
        ),
        (
            "signal without reason",
            pod(
                1,
                &[],
                json!({"phase": "Failed", "containerStatuses": [terminated("a", "", 137, 9)]}),
            ),
            "0/1",
            "Signal:9",
        ),
        (
            "crash loop",
            pod(
                1,
                &[],
                json!({"phase": "Running", "containerStatuses": [waiting("a", "CrashLoopBackOff")]}),
            ),
            "0/1",
            "CrashLoopBackOff",
        ),
        (
            "image pull error",
            pod(
                1,
                &[],
                json!({"phase": "Pending", "containerStatuses": [waiting("a", "ErrImagePull")]}),
            ),
            "0/1",
            "ErrImagePull",
        ),
        (
            "the first container's reason wins",
            pod(
                2,
                &[],
                json!({"phase": "Pending", "containerStatuses": [waiting("a", "ImagePullBackOff"),
                    waiting("b", "ContainerCreating")]}),
            ),
            "0/2",
            "ImagePullBackOff",
        ),
        (
            "waiting without reason keeps the phase",
            pod(
                1,
                &[],
                json!({"phase": "Pending", "containerStatuses": [waiting("a", "")]}),
            ),
            "0/1",
            "Pending",
        ),
        (
            "first init container running",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending",
                    "initContainerStatuses": [running("i0"), waiting("i1", "PodInitializing")],
                    "containerStatuses": [waiting("a", "PodInitializing")]}),
            ),
            "0/1",
            "Init:0/2",
        ),
        (
            "second init container running",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending",
                    "initContainerStatuses": [terminated("i0", "Completed", 0, 0), running("i1")]}),
            ),
            "0/1",
            "Init:1/2",
        ),
        (
            "init container crash loop",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending", "initContainerStatuses": [waiting("i0", "CrashLoopBackOff")]}),
            ),
            "0/1",
            "Init:CrashLoopBackOff",
        ),
        (
            "init container failed",
            pod(
                1,
                &two_inits,
                json!({"phase": "Failed", "initContainerStatuses": [terminated("i0", "Error", 1, 0)]}),
            ),
            "0/1",
            "Init:Error",
        ),
        (
            "init container exit code",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending", "initContainerStatuses": [terminated("i0", "", 2, 0)]}),
            ),
            "0/1",
            "Init:ExitCode:2",
        ),
        (
            "init container signal",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending", "initContainerStatuses": [terminated("i0", "", 2, 15)]}),
            ),
            "0/1",
            "Init:Signal:15",
        ),
        (
            "init done, app starting",
            pod(
                1,
                &two_inits,
                json!({"phase": "Pending",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [terminated("i0", "Completed", 0, 0), terminated("i1", "Completed", 0, 0)],
                    "containerStatuses": [waiting("a", "PodInitializing")]}),
            ),
            "0/1",
            "PodInitializing",
        ),
        (
            "initialized pod: an app container's reason overrides the init one",
            pod(
                1,
                &two_inits,
                json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [waiting("i0", "CrashLoopBackOff")],
                    "containerStatuses": [waiting("a", "CrashLoopBackOff")]}),
            ),
            "0/1",
            "CrashLoopBackOff",
        ),
        (
            // Running containers set no reason, so Kubernetes keeps showing the init one.
            "initialized pod: running app containers keep the init reason",
            pod(
                1,
                &two_inits,
                json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [terminated("i0", "Error", 1, 0)],
                    "containerStatuses": [running("a")]}),
            ),
            "1/1",
            "Init:Error",
        ),
        (
            "terminating",
            with_deletion(pod(
                1,
                &[],
                json!({"phase": "Running", "containerStatuses": [running("a")]}),
            )),
            "1/1",
            "Terminating",
        ),
        (
            "a finished pod being deleted is not terminating",
            with_deletion(pod(
                1,
                &[],
                json!({"phase": "Succeeded", "containerStatuses": [terminated("a", "Completed", 0, 0)]}),
            )),
            "0/1",
            "Completed",
        ),
        (
            "node lost",
            with_deletion(pod(
                1,
                &[],
                json!({"phase": "Running", "reason": "NodeLost", "containerStatuses": [running("a")]}),
            )),
            "1/1",
            "Unknown",
        ),
        (
            "evicted",
            pod(
                1,
                &[],
                json!({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}),
            ),
            "0/1",
            "Evicted",
        ),
        (
            "scheduling gated",
            pod(
                1,
                &[],
                json!({"phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
            ),
            "0/1",
            "SchedulingGated",
        ),
        (
            "one container done, one running, pod ready",
            pod(
                2,
                &[],
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running("a"), terminated("b", "Completed", 0, 0)]}),
            ),
            "1/2",
            "Running",
        ),
        (
            "one container done, one running, pod not ready",
            pod(
                2,
                &[],
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [running("a"), terminated("b", "Completed", 0, 0)]}),
            ),
            "1/2",
            "NotReady",
        ),
        (
            "all containers done",
            pod(
                2,
                &[],
                json!({"phase": "Succeeded",
                    "containerStatuses": [terminated("a", "Completed", 0, 0), terminated("b", "Completed", 0, 0)]}),
            ),
            "0/2",
            "Completed",
        ),
        (
            "sidecar started and ready",
            pod(
                1,
                &[sidecar("i0")],
                json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [started(running("i0"))],
                    "containerStatuses": [running("a")]}),
            ),
            "2/2",
            "Running",
        ),
        (
            "sidecar not started yet",
            pod(
                1,
                &[sidecar("i0")],
                json!({"phase": "Pending", "initContainerStatuses": [running("i0")],
                    "containerStatuses": [waiting("a", "PodInitializing")]}),
            ),
            "0/2",
            "Init:0/1",
        ),
        (
            "sidecar started, next init container running",
            pod(
                1,
                &[sidecar("i0"), init("i1")],
                json!({"phase": "Pending",
                    "initContainerStatuses": [started(running("i0")), running("i1")]}),
            ),
            "1/2",
            "Init:1/2",
        ),
    ];
    for (name, pod, ready, status) in cases {
        assert_eq!(summary(&pod), (ready.to_owned(), status.to_owned()), "{name}");
        let cells = cells(&pod);
        assert_eq!(
            (cells[1].as_str().unwrap(), cells[2].as_str().unwrap()),
            (ready, status),
            "{name}"
        );
    }
}
