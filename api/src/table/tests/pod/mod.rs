//! The pod printer: kubectl's STATUS, READY and RESTARTS for the states users meet (`status`,
//! `restarts`), its columns and wide cells; here the fixtures both build on.

mod restarts;
mod status;

use podium_proto::k8s::core::v1::Pod;
use serde_json::{Value, json};

use super::{ago, cells, column_shape, now, object, shape};
use crate::table::Printable;

#[test]
fn columns_are_kubernetes_pod_columns() {
    assert_eq!(
        column_shape::<Pod>(),
        shape(&[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ])
    );
    assert_eq!(Pod::columns()[0].format, "name");
}

/// A container status in a state, e.g. `status("a", json!({"running": {}}), true)`.
fn status(name: &str, state: Value, ready: bool) -> Value {
    json!({"name": name, "ready": ready, "restartCount": 0, "image": "i", "imageID": "", "state": state})
}

fn running(name: &str) -> Value {
    status(name, json!({"running": {"startedAt": ago(60)}}), true)
}

fn waiting(name: &str, reason: &str) -> Value {
    status(name, json!({"waiting": {"reason": reason}}), false)
}

fn terminated(name: &str, reason: &str, exit_code: i32, signal: i32) -> Value {
    let mut t = json!({"exitCode": exit_code, "reason": reason, "finishedAt": ago(30)});
    if signal != 0 {
        t["signal"] = json!(signal);
    }
    status(name, json!({"terminated": t}), false)
}

/// A pod ten minutes old with `containers` app containers named `a`, `b`, `c`, the given init
/// containers, and the given status.
fn pod(containers: usize, inits: &[Value], status: Value) -> Pod {
    let containers: Vec<Value> = ["a", "b", "c"][..containers]
        .iter()
        .map(|n| json!({"name": n}))
        .collect();
    object(json!({
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(600)},
        "spec": {"containers": containers, "initContainers": inits},
        "status": status,
    }))
}

fn init(name: &str) -> Value {
    json!({"name": name})
}

fn sidecar(name: &str) -> Value {
    json!({"name": name, "restartPolicy": "Always"})
}

fn with_deletion(mut pod: Pod) -> Pod {
    pod.metadata.as_mut().unwrap().deletion_timestamp =
        Some(podium_proto::k8s::meta::v1::Time::from_unix(now().timestamp() - 5));
    pod
}

fn started(mut status: Value) -> Value {
    status["started"] = json!(true);
    status
}

#[test]
fn wide_cells() {
    let pod: Pod = object(json!({
        "metadata": {"name": "web", "creationTimestamp": ago(90)},
        "spec": {"nodeName": "node-1", "containers": [{"name": "a"}],
                 "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}],
                   "nominatedNodeName": "node-2",
                   "conditions": [{"type": "example.com/lb", "status": "True"},
                                  {"type": "example.com/dns", "status": "False"}],
                   "containerStatuses": [running("a")]},
    }));
    assert_eq!(
        cells(&pod),
        vec![
            json!("web"),
            json!("1/1"),
            json!("Running"),
            json!("0"),
            json!("90s"),
            json!("10.0.0.9"),
            json!("node-1"),
            json!("node-2"),
            json!("1/2"),
        ]
    );

    let bare: Pod = object(json!({"metadata": {"name": "new"}, "spec": {"containers": [{"name": "a"}]}}));
    assert_eq!(
        cells(&bare),
        vec![
            json!("new"),
            json!("0/1"),
            json!(""),
            json!("0"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
        ]
    );
}

#[test]
fn finished_pods_carry_a_completed_row_condition() {
    let done = pod(1, &[], json!({"phase": "Succeeded"}));
    let conditions = done.row_conditions();
    assert_eq!(conditions.len(), 1);
    assert_eq!(
        (
            conditions[0].r#type.as_str(),
            conditions[0].status.as_str(),
            conditions[0].reason.as_str()
        ),
        ("Completed", "True", "Succeeded")
    );
    assert_eq!(
        pod(1, &[], json!({"phase": "Failed"})).row_conditions()[0].reason,
        "Failed"
    );
    assert!(pod(1, &[], json!({"phase": "Running"})).row_conditions().is_empty());
}
