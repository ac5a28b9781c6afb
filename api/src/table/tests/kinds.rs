//! The printers of the simpler kinds: Namespace, Event, Lease and PriorityClass.

use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use serde_json::json;

use super::{ago, cells, column_shape, now, object, shape};
use crate::table::{IncludeObject, Printable, table};

#[test]
fn namespace_columns_and_cells() {
    assert_eq!(
        column_shape::<Namespace>(),
        shape(&[("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)])
    );
    let ns: Namespace = object(
        json!({"metadata": {"name": "default", "creationTimestamp": ago(45 * 86_400)}, "status": {"phase": "Active"}}),
    );
    assert_eq!(cells(&ns), vec![json!("default"), json!("Active"), json!("45d")]);
    let terminating: Namespace = object(json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}}));
    assert_eq!(cells(&terminating)[1], "Terminating");
}

#[test]
fn event_columns() {
    assert_eq!(
        column_shape::<Event>(),
        shape(&[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ])
    );
    assert_eq!(Event::columns()[9].format, "name");
}

#[test]
fn event_cells_from_the_core_fields() {
    let event: Event = object(json!({
        "metadata": {"name": "web.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                           "fieldPath": "spec.containers{c}"},
        "reason": "BackOff", "message": "Back-off restarting failed container\n", "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(3600), "lastTimestamp": ago(40), "count": 12,
    }));
    assert_eq!(
        cells(&event),
        vec![
            json!("40s"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web"),
            json!("spec.containers{c}"),
            json!("kubelet, node-1"),
            json!("Back-off restarting failed container"),
            json!("60m"),
            json!(12),
            json!("web.17a"),
        ]
    );
}

#[test]
fn event_cells_from_the_events_api_fields() {
    // An event written through events.k8s.io: eventTime, reporting controller, maybe a series.
    let single: Event = object(json!({
        "metadata": {"name": "n1.1"},
        "involvedObject": {"kind": "Node", "name": "n1"},
        "reason": "Starting", "type": "Normal", "eventTime": "2023-11-14T22:08:20.123456Z",
        "reportingComponent": "kubelet", "reportingInstance": "n1",
    }));
    let cells_of_single = cells(&single);
    // 4m59.876544s ago: microseconds count, as in Go.
    assert_eq!(cells_of_single[0], "4m59s", "last seen falls back to first seen");
    assert_eq!(cells_of_single[3], "node/n1");
    assert_eq!(cells_of_single[5], "kubelet, n1");
    assert_eq!(cells_of_single[7], "4m59s", "first seen falls back to eventTime");
    assert_eq!(cells_of_single[8], 1, "a singleton has happened once");

    let series: Event = object(json!({
        "metadata": {"name": "n1.2"},
        "involvedObject": {"kind": "Namespace"},
        "eventTime": "2023-11-14T21:13:20.000000Z",
        "series": {"count": 7, "lastObservedTime": "2023-11-14T22:13:10.000000Z"},
        "source": {"component": "controller"},
    }));
    let cells_of_series = cells(&series);
    assert_eq!(cells_of_series[0], "10s");
    assert_eq!(cells_of_series[3], "namespace", "the kind alone when there is no name");
    assert_eq!(cells_of_series[5], "controller");
    assert_eq!(cells_of_series[7], "60m");
    assert_eq!(cells_of_series[8], 7);

    let bare: Event = object(json!({"metadata": {"name": "e"}}));
    assert_eq!(cells(&bare)[0], "<unknown>");
    assert_eq!(cells(&bare)[7], "<unknown>");
}

#[test]
fn lease_columns_and_cells() {
    assert_eq!(
        column_shape::<Lease>(),
        shape(&[("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)])
    );
    let lease: Lease = object(json!({
        "metadata": {"name": "node-1", "namespace": "kube-node-lease", "creationTimestamp": ago(5 * 3600 + 1800)},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
    }));
    assert_eq!(cells(&lease), vec![json!("node-1"), json!("node-1"), json!("5h30m")]);
    let free: Lease = object(json!({"metadata": {"name": "scheduler"}}));
    assert_eq!(cells(&free)[1], "");
}

#[test]
fn priority_class_columns_and_cells() {
    assert_eq!(
        column_shape::<PriorityClass>(),
        shape(&[
            ("Name", "string", 0),
            ("Value", "integer", 0),
            ("Global-Default", "boolean", 0),
            ("Age", "string", 0),
            ("PreemptionPolicy", "string", 0),
        ])
    );
    let critical: PriorityClass = object(json!({
        "metadata": {"name": "system-node-critical", "creationTimestamp": ago(10)},
        "value": 2_000_001_000,
    }));
    assert_eq!(
        cells(&critical),
        vec![
            json!("system-node-critical"),
            json!(2_000_001_000),
            json!(false),
            json!("10s"),
            json!("PreemptLowerPriority")
        ]
    );
    let batch: PriorityClass = object(json!({
        "metadata": {"name": "batch"}, "value": -5, "globalDefault": true, "preemptionPolicy": "Never",
    }));
    let json = serde_json::to_value(table(&[batch], IncludeObject::None, now())).unwrap();
    assert_eq!(
        json["rows"][0]["cells"],
        json!(["batch", -5, true, "<unknown>", "Never"])
    );
}
