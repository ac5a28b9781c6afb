//! RESTARTS: the count, and how long ago the latest restart ended.

use podium_proto::k8s::core::v1::Pod;
use serde_json::{Value, json};

use super::{ago, cells, init, now, pod, running, sidecar, started, terminated, waiting};
use crate::table::PodSummary;

/// A container status with `restarts` restarts, its last run ended `ended_ago` seconds ago.
fn restarted(mut status: Value, restarts: i32, ended_ago: Option<i64>) -> Value {
    status["restartCount"] = json!(restarts);
    if let Some(seconds) = ended_ago {
        status["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(seconds)}});
    }
    status
}

#[test]
fn restarts_show_when_the_last_one_ended() {
    let cases: Vec<(&str, Pod, &str)> = vec![
        (
            "none",
            pod(1, &[], json!({"phase": "Running", "containerStatuses": [running("a")]})),
            "0",
        ),
        (
            "crash looping",
            pod(
                1,
                &[],
                json!({"phase": "Running",
                    "containerStatuses": [restarted(waiting("a", "CrashLoopBackOff"), 3, Some(300))]}),
            ),
            "3 (5m ago)",
        ),
        (
            "time unknown",
            pod(
                1,
                &[],
                json!({"phase": "Running", "containerStatuses": [restarted(running("a"), 3, None)]}),
            ),
            "3",
        ),
        (
            "summed, latest wins",
            pod(
                2,
                &[],
                json!({"phase": "Running", "containerStatuses": [
                    restarted(running("a"), 2, Some(7200)),
                    restarted(running("b"), 1, Some(90))]}),
            ),
            "3 (90s ago)",
        ),
        (
            "init restarts count while initializing",
            pod(
                1,
                &[init("i0")],
                json!({"phase": "Pending", "initContainerStatuses": [
                    restarted(waiting("i0", "CrashLoopBackOff"), 4, Some(20))]}),
            ),
            "4 (20s ago)",
        ),
        (
            "init restarts drop out once initialized",
            pod(
                1,
                &[init("i0")],
                json!({"phase": "Running", "initContainerStatuses": [
                    restarted(terminated("i0", "Completed", 0, 0), 4, Some(20))],
                    "containerStatuses": [restarted(running("a"), 1, Some(3 * 3600))]}),
            ),
            "1 (3h ago)",
        ),
        (
            "sidecar restarts keep counting",
            pod(
                1,
                &[sidecar("i0")],
                json!({"phase": "Running", "initContainerStatuses": [
                    restarted(started(running("i0")), 2, Some(600))],
                    "containerStatuses": [restarted(running("a"), 1, Some(3 * 3600))]}),
            ),
            "3 (10m ago)",
        ),
    ];
    for (name, pod, want) in cases {
        assert_eq!(PodSummary::of(&pod).restarts_at(now()), want, "{name}");
        assert_eq!(cells(&pod)[3], want, "{name}");
    }
}
