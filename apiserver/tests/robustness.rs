//! Bad input never panics and never writes partially: every field of a rich pod, replaced by
//! odd values, is either accepted or refused with a 4xx naming the problem, and a refused
//! create leaves the store untouched.

use std::sync::Arc;

use podium_apiserver::Api;
use podium_apiserver::store::{SledStore, SledStoreOptions, Store};
use podium_proto::k8s::core::v1::Pod;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("../../proto/tests/fixtures/pod.json");

/// Every path to a leaf (or an empty container) in a JSON document.
fn leaves(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(json!(k));
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                path.push(json!(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn replace(doc: &mut Value, path: &[Value], with: Value) {
    let mut at = doc;
    for step in path {
        at = match step {
            Value::String(k) => &mut at[k.as_str()],
            Value::Number(i) => &mut at[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    *at = with;
}

#[tokio::test]
async fn odd_values_in_any_field_are_accepted_or_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path(), SledStoreOptions::default()).unwrap());
    let api = Api::new(store.clone() as Arc<dyn Store>).await.unwrap();

    let mut base: Value = serde_json::from_str(FIXTURE).unwrap();
    for field in ["priorityClassName", "priority", "nodeName"] {
        base["spec"].as_object_mut().unwrap().remove(field);
    }
    let mut paths = Vec::new();
    leaves(&base, &mut Vec::new(), &mut paths);
    let odd = [
        json!(null),
        json!(""),
        json!("has space"),
        json!(-1),
        json!(0),
        json!(2_147_483_648_i64),
        json!("-5"),
        json!("Ünïcødé/..\\"),
        json!(true),
        json!([]),
        json!({}),
    ];
    let (mut accepted, mut refused, mut undecodable) = (0, 0, 0);
    for (n, path) in paths.iter().enumerate() {
        if path.first() == Some(&json!("metadata")) && path.get(1) == Some(&json!("name")) {
            continue;
        }
        for (m, value) in odd.iter().enumerate() {
            let mut doc = base.clone();
            replace(&mut doc, path, value.clone());
            doc["metadata"]["name"] = json!(format!("p-{n}-{m}"));
            let Ok(pod) = serde_json::from_value::<Pod>(doc) else {
                undecodable += 1;
                continue;
            };
            let before = store.current_rv();
            match api.create("default", pod).await {
                Ok(_) => accepted += 1,
                Err(e) => {
                    assert!(
                        (400..500).contains(&e.code()),
                        "{path:?} = {value}: {} {}",
                        e.code(),
                        e.status.message
                    );
                    assert!(!e.status.message.is_empty());
                    assert_eq!(store.current_rv(), before, "a refused create wrote nothing");
                    refused += 1;
                }
            }
        }
    }
    assert!(
        accepted > 0 && refused > 0 && undecodable > 0,
        "{accepted} {refused} {undecodable}"
    );
    drop(api);
    store.close();
}
