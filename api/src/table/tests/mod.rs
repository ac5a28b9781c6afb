//! Tests of the table printers: per kind in the sibling files; here the shared fixtures,
//! `HumanDuration`, `includeObject` and the JSON shape of a whole Table.

mod kinds;
mod node;
mod pod;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use podium_proto::k8s::core::v1::Pod;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{IncludeObject, Printable, Table, human_duration, table};

/// The instant every test prints at: 2023-11-14T22:13:20Z.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

/// The RFC 3339 form of `seconds` before [`now`].
fn ago(seconds: i64) -> String {
    (now() - TimeDelta::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An object from its Kubernetes JSON, as a client would send it.
fn object<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// The cells of an object's row.
fn cells<K: Printable>(item: &K) -> Vec<Value> {
    let cells = item.cells(now());
    assert_eq!(cells.len(), K::columns().len(), "one cell per column");
    cells
}

/// `(name, priority)` of each column, with each column's type.
fn column_shape<K: Printable>() -> Vec<(String, String, i32)> {
    K::columns()
        .into_iter()
        .map(|c| (c.name, c.r#type, c.priority))
        .collect()
}

fn shape(columns: &[(&str, &str, i32)]) -> Vec<(String, String, i32)> {
    columns
        .iter()
        .map(|(name, ty, priority)| (name.to_string(), ty.to_string(), *priority))
        .collect()
}

#[test]
fn human_durations_match_kubernetes() {
    let second = 1;
    let minute = 60;
    let hour = 60 * minute;
    let day = 24 * hour;
    let year = 365 * day;
    let cases = [
        (-3 * second, "<invalid>"),
        (-2 * second, "<invalid>"),
        (-second, "0s"),
        (0, "0s"),
        (5 * second, "5s"),
        (119 * second, "119s"),
        (2 * minute, "2m"),
        (3 * minute + 20, "3m20s"),
        (9 * minute + 59, "9m59s"),
        (10 * minute, "10m"),
        (10 * minute + 30, "10m"),
        (179 * minute, "179m"),
        (3 * hour, "3h"),
        (5 * hour + 30 * minute, "5h30m"),
        (7 * hour + 59 * minute + 59, "7h59m"),
        (8 * hour, "8h"),
        (47 * hour, "47h"),
        (2 * day, "2d"),
        (3 * day + 4 * hour, "3d4h"),
        (7 * day + 23 * hour, "7d23h"),
        (8 * day, "8d"),
        (45 * day, "45d"),
        (729 * day, "729d"),
        (2 * year, "2y"),
        (3 * year + 120 * day, "3y120d"),
        (8 * year, "8y"),
        (10 * year + 100 * day, "10y"),
    ];
    for (seconds, want) in cases {
        assert_eq!(human_duration(TimeDelta::seconds(seconds)), want, "{seconds}s");
    }
    // Fractions truncate toward zero, as Go's int(d.Seconds()) does.
    assert_eq!(human_duration(TimeDelta::milliseconds(1999)), "1s");
    assert_eq!(human_duration(TimeDelta::milliseconds(-1999)), "0s");
    assert_eq!(human_duration(TimeDelta::MAX), "292y");
}

#[test]
fn age_is_unknown_without_creation_timestamp() {
    let pod: Pod = object(json!({"metadata": {"name": "web"}}));
    assert_eq!(cells(&pod)[4], "<unknown>");
    let pod: Pod = object(json!({"metadata": {"name": "web", "creationTimestamp": "0001-01-01T00:00:00Z"}}));
    assert_eq!(cells(&pod)[4], "<unknown>");
    let pod: Pod = object(json!({"metadata": {"name": "web", "creationTimestamp": ago(200)}}));
    assert_eq!(cells(&pod)[4], "3m20s");
}

#[test]
fn include_object_parses_the_query_parameter() {
    assert_eq!(IncludeObject::from_query("").unwrap(), IncludeObject::Metadata);
    assert_eq!(IncludeObject::from_query("Metadata").unwrap(), IncludeObject::Metadata);
    assert_eq!(IncludeObject::from_query("None").unwrap(), IncludeObject::None);
    assert_eq!(IncludeObject::from_query("Object").unwrap(), IncludeObject::Object);
    assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
    let err = IncludeObject::from_query("object").unwrap_err();
    assert_eq!(err.code(), 400);
    assert_eq!(err.reason(), "BadRequest");
    for include in [IncludeObject::None, IncludeObject::Metadata, IncludeObject::Object] {
        assert_eq!(IncludeObject::from_query(include.as_str()).unwrap(), include);
    }
}

fn web_pod() -> Pod {
    object(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
                     "creationTimestamp": ago(300), "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "",
                                   "state": {"running": {"startedAt": ago(290)}}}],
        },
    }))
}

#[test]
fn table_json_has_kubernetes_shape() {
    let mut table = table(&[web_pod()], IncludeObject::Metadata, now());
    table.metadata.resource_version = "42".into();
    let json = serde_json::to_value(&table).unwrap();

    assert_eq!(json["kind"], "Table");
    assert_eq!(json["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(json["metadata"], json!({"resourceVersion": "42"}));
    let columns = json["columnDefinitions"].as_array().unwrap();
    let first = &columns[0];
    assert_eq!(first["name"], "Name");
    assert_eq!(first["type"], "string");
    assert_eq!(first["format"], "name");
    assert_eq!(first["priority"], 0);
    assert!(
        first["description"]
            .as_str()
            .unwrap()
            .starts_with("Name must be unique")
    );
    // Every field of a column is present, even when empty, as Go writes them.
    assert_eq!(columns[1]["format"], "");
    let ip = columns.iter().find(|c| c["name"] == "IP").unwrap();
    assert_eq!(ip["priority"], 1);

    assert_eq!(
        json["rows"],
        json!([{
            "cells": ["web", "1/1", "Running", "0", "5m", "10.0.0.5", "node-1", "<none>", "<none>"],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "7",
                             "creationTimestamp": ago(300), "labels": {"app": "web"}},
            },
        }])
    );

    // A client reads it back.
    let back: Table = serde_json::from_value(json).unwrap();
    assert_eq!(back, table);
}

#[test]
fn empty_table_has_empty_rows_and_metadata() {
    let table = table::<Pod>(&[], IncludeObject::Metadata, now());
    let json = serde_json::to_value(&table).unwrap();
    assert_eq!(json["rows"], json!([]));
    assert_eq!(json["metadata"], json!({}));
    assert_eq!(json["columnDefinitions"].as_array().unwrap().len(), 9);
}

#[test]
fn rows_carry_the_object_as_asked() {
    let pods = [web_pod()];
    let none = table(&pods, IncludeObject::None, now());
    assert_eq!(serde_json::to_value(&none.rows[0]).unwrap()["object"], Value::Null);

    let full = serde_json::to_value(table(&pods, IncludeObject::Object, now())).unwrap();
    let object = &full["rows"][0]["object"];
    assert_eq!(object["kind"], "Pod");
    assert_eq!(object["apiVersion"], "v1");
    assert_eq!(object["spec"]["nodeName"], "node-1");
    assert_eq!(object["status"]["podIP"], "10.0.0.5");
}

#[test]
fn table_reads_kubernetes_json() {
    // What a real apiserver sends for the second event of a watch: no headers.
    let table: Table = serde_json::from_value(json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "9"},
        "columnDefinitions": null,
        "rows": [{"cells": ["web", 3, true], "object": null,
                  "conditions": [{"type": "Completed", "status": "True", "reason": "Succeeded"}]}],
    }))
    .unwrap();
    assert!(table.column_definitions.is_empty());
    assert_eq!(table.rows[0].cells, vec![json!("web"), json!(3), json!(true)]);
    assert_eq!(table.rows[0].conditions[0].reason, "Succeeded");
}
