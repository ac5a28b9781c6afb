//! The node printer: STATUS from the Ready condition and cordoning, ROLES from labels.

use podium_proto::k8s::core::v1::Node;
use serde_json::{Value, json};

use super::{ago, cells, column_shape, object, shape};
use crate::table::{node_roles, node_status};

#[test]
fn columns_are_kubernetes_node_columns() {
    assert_eq!(
        column_shape::<Node>(),
        shape(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ])
    );
}

fn node(ready: Option<&str>, unschedulable: bool) -> Node {
    let conditions: Vec<Value> = [json!({"type": "MemoryPressure", "status": "False"})]
        .into_iter()
        .chain(ready.map(|status| json!({"type": "Ready", "status": status})))
        .collect();
    object(json!({
        "metadata": {"name": "n1"},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": conditions},
    }))
}

#[test]
fn status_combines_readiness_and_cordoning() {
    let cases = [
        (Some("True"), false, "Ready"),
        (Some("False"), false, "NotReady"),
        (Some("Unknown"), false, "NotReady"),
        (None, false, "Unknown"),
        (Some("True"), true, "Ready,SchedulingDisabled"),
        (Some("False"), true, "NotReady,SchedulingDisabled"),
        (None, true, "Unknown,SchedulingDisabled"),
    ];
    for (ready, unschedulable, want) in cases {
        assert_eq!(
            node_status(&node(ready, unschedulable)),
            want,
            "{ready:?} {unschedulable}"
        );
    }
    assert_eq!(node_status(&Node::default()), "Unknown");
}

#[test]
fn roles_come_from_labels() {
    let labelled: Node = object(json!({"metadata": {"name": "n1", "labels": {
        "node-role.kubernetes.io/worker": "",
        "node-role.kubernetes.io/control-plane": "true",
        "node-role.kubernetes.io/": "ignored",
        "kubernetes.io/role": "master",
        "kubernetes.io/hostname": "n1",
    }}}));
    assert_eq!(node_roles(&labelled), ["control-plane", "master", "worker"]);
    assert_eq!(cells(&labelled)[2], "control-plane,master,worker");

    let same_twice: Node = object(json!({"metadata": {"labels": {
        "node-role.kubernetes.io/master": "", "kubernetes.io/role": "master"}}}));
    assert_eq!(node_roles(&same_twice), ["master"]);

    let empty_role: Node = object(json!({"metadata": {"labels": {"kubernetes.io/role": ""}}}));
    assert_eq!(cells(&empty_role)[2], "<none>");
}

#[test]
fn cells_include_versions_and_addresses() {
    let node: Node = object(json!({
        "metadata": {"name": "n1", "creationTimestamp": ago(3 * 86_400 + 4 * 3600)},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"},
                          {"type": "InternalIP", "address": "192.168.1.11"}],
            "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "docker://27.1.1"},
        },
    }));
    assert_eq!(
        cells(&node),
        vec![
            json!("n1"),
            json!("Ready"),
            json!("<none>"),
            json!("3d4h"),
            json!("v1.32.0"),
            json!("192.168.1.10"),
            json!("<none>"),
            json!("Debian GNU/Linux 12 (bookworm)"),
            json!("6.1.0-18-amd64"),
            json!("docker://27.1.1"),
        ]
    );

    let bare: Node = object(json!({"metadata": {"name": "n2"}}));
    assert_eq!(
        cells(&bare),
        vec![
            json!("n2"),
            json!("Unknown"),
            json!("<none>"),
            json!("<unknown>"),
            json!(""),
            json!("<none>"),
            json!("<none>"),
            json!("<unknown>"),
            json!("<unknown>"),
            json!("<unknown>"),
        ]
    );
}
