//! One pod's trace across the components: with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a
//! test OTLP receiver, `kubectl apply` of a pod yields one trace holding the apiserver's
//! create, the scheduler's attempt and its bind call, and the agent's start of the pod and
//! its status update, each linked to its parent; and `/metrics` of the agent and the
//! scheduler show the pod.

use std::time::{Duration, Instant};

use podium_e2e::otlp::{Collector, ReceivedSpan};
use podium_e2e::{Cluster, Options, sleeper};

/// Waits until `find` picks a span out of those received.
fn wait_span(
    collector: &Collector,
    what: &str,
    find: impl Fn(&[ReceivedSpan]) -> Option<ReceivedSpan>,
) -> ReceivedSpan {
    let start = Instant::now();
    loop {
        let spans = collector.spans();
        if let Some(span) = find(&spans) {
            return span;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no {what} span arrived; received:\n{}",
            spans
                .iter()
                .map(|s| format!("{} {:?} {} parent {:?}", s.service, s.name, s.span_id, s.parent_span_id))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn child_of<'a>(
    spans: &'a [ReceivedSpan],
    service: &str,
    name: &str,
    parent: &ReceivedSpan,
) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|s| {
        s.service == service && s.name == name && s.trace_id == parent.trace_id && s.parent_span_id == parent.span_id
    })
}

#[test]
fn a_pods_trace_runs_from_kubectl_through_scheduler_and_agent() {
    let collector = Collector::start();
    let c = Cluster::start_with(
        "trace",
        Options {
            env: vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.endpoint()),
                ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
            ],
            ..Options::default()
        },
    );
    c.apply(&sleeper("traced"));
    let pod = c.wait_phase("traced", "Running", Duration::from_secs(60));
    let traceparent = pod["metadata"]["annotations"]["podium.io/trace-context"]
        .as_str()
        .expect("the pod carries its creation's trace context")
        .to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    let (trace_id, create_id) = (parts[1].to_owned(), parts[2].to_owned());

    let create = wait_span(&collector, "apiserver create", |spans| {
        spans.iter().find(|s| s.span_id == create_id).cloned()
    });
    assert_eq!(create.service, "apiserver");
    assert_eq!(create.name, "POST /api/v1/namespaces/default/pods");
    assert_eq!(create.trace_id, trace_id);
    assert!(
        create.parent_span_id.is_empty(),
        "kubectl sends no trace context: the create is the root"
    );

    let schedule = wait_span(&collector, "scheduler attempt", |spans| {
        child_of(spans, "scheduler", "schedule pod", &create).cloned()
    });
    wait_span(&collector, "apiserver bind", |spans| {
        child_of(spans, "apiserver", "podium.api.v1.PodService/Bind", &schedule).cloned()
    });
    let start = wait_span(&collector, "agent start", |spans| {
        child_of(spans, "agent", "start pod", &create).cloned()
    });
    wait_span(&collector, "status update", |spans| {
        let starts: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.service == "agent" && s.name == "start pod" && s.trace_id == start.trace_id)
            .collect();
        starts
            .iter()
            .find_map(|start| child_of(spans, "apiserver", "podium.api.v1.PodService/UpdateStatus", start))
            .cloned()
    });

    // The agent's /metrics, on its own endpoint (the node's daemon endpoint port). The running
    // gauges follow the agent's relist of the node's containers (each second).
    let agent_addr = format!("127.0.0.1:{}", c.agent_port());
    let start = Instant::now();
    let agent = loop {
        let agent = Cluster::metrics(&agent_addr);
        if agent["kubelet_running_pods"] >= 1.0 || start.elapsed() > Duration::from_secs(10) {
            break agent;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(agent["kubelet_running_pods"] >= 1.0);
    assert!(agent[r#"kubelet_running_containers{container_state="running"}"#] >= 1.0);
    assert!(agent["kubelet_pod_start_duration_seconds_count"] >= 1.0);
    assert!(agent[r#"kubelet_runtime_operations_total{operation_type="create_container"}"#] >= 1.0);
    assert!(agent[r#"kubelet_runtime_operations_total{operation_type="run_podsandbox"}"#] >= 1.0);
    assert!(agent["process_resident_memory_bytes"] > 0.0);
    // The scheduler's, where its start-up line says.
    let log = c.log("scheduler");
    let scheduler_addr = log
        .split("/metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the scheduler says where its metrics are");
    let scheduler = Cluster::metrics(scheduler_addr);
    assert!(scheduler[r#"scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}"#] >= 1.0);
    assert!(
        scheduler[r#"scheduler_scheduling_attempt_duration_seconds_count{profile="default-scheduler",result="scheduled"}"#]
            >= 1.0
    );
    assert_eq!(scheduler[r#"scheduler_pending_pods{queue="active"}"#], 0.0);
}
