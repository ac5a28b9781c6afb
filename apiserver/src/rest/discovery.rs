//! Discovery: `/version`, `/api`, `/apis` and the resource lists of each group version, so
//! `kubectl api-resources` and every client's RESTMapper know what Podium serves.

use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use podium_api::Resource;
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

use super::error::{RestResult, not_found};

/// The Kubernetes version Podium's API corresponds to.
pub const KUBE_MAJOR: &str = "1";
pub const KUBE_MINOR: &str = "32";

const READ_WRITE: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One served resource (or subresource) as an `APIResource` entry.
fn entry<K: Resource>(verbs: &[&str]) -> Value {
    let mut value = json!({
        "name": K::PLURAL,
        "singularName": K::SINGULAR,
        "namespaced": K::NAMESPACED,
        "kind": K::KIND,
        "verbs": verbs,
        "storageVersionHash": "",
    });
    if !K::SHORT_NAMES.is_empty() {
        value["shortNames"] = json!(K::SHORT_NAMES);
    }
    if K::KIND == "Pod" {
        // `kubectl get all` covers pods; none of the other kinds is in a category.
        value["categories"] = json!(["all"]);
    }
    value
}

fn sub(name: &str, namespaced: bool, kind: &str, group: &str, verbs: &[&str]) -> Value {
    let mut value = json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": verbs});
    if !group.is_empty() {
        value["group"] = json!(group);
        value["version"] = json!("v1");
    }
    value
}

fn core_v1_resources() -> Vec<Value> {
    let namespace_verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
    vec![
        sub("bindings", true, "Binding", "", &["create"]),
        entry::<Event>(&READ_WRITE),
        entry::<Namespace>(&namespace_verbs),
        sub("namespaces/finalize", false, "Namespace", "", &["update"]),
        sub("namespaces/status", false, "Namespace", "", &["get", "patch", "update"]),
        entry::<Node>(&READ_WRITE),
        sub("nodes/status", false, "Node", "", &["get", "patch", "update"]),
        entry::<Pod>(&READ_WRITE),
        sub("pods/binding", true, "Binding", "", &["create"]),
        sub("pods/exec", true, "PodExecOptions", "", &["create", "get"]),
        sub("pods/log", true, "Pod", "", &["get"]),
        sub("pods/status", true, "Pod", "", &["get", "patch", "update"]),
    ]
}

/// The groups beyond the core group, with their resources.
fn groups() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (Lease::GROUP, vec![entry::<Lease>(&READ_WRITE)]),
        (PriorityClass::GROUP, vec![entry::<PriorityClass>(&READ_WRITE)]),
    ]
}

fn resource_list(group_version: &str, resources: Vec<Value>) -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn group(name: &str) -> Value {
    let version = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"name": name, "versions": [version.clone()], "preferredVersion": version})
}

pub async fn version() -> Json<Value> {
    Json(json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0-podium.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    }))
}

/// The architecture in Go's spelling, as Kubernetes reports it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn api_versions(headers: HeaderMap) -> Json<Value> {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }))
}

pub async fn core_v1() -> Json<Value> {
    Json(resource_list("v1", core_v1_resources()))
}

pub async fn api_groups() -> Json<Value> {
    let groups: Vec<Value> = groups().into_iter().map(|(name, _)| group(name)).collect();
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

pub async fn api_group(Path(name): Path<String>) -> RestResult<Json<Value>> {
    if groups().iter().any(|(g, _)| *g == name) {
        let mut value = group(&name);
        value["kind"] = json!("APIGroup");
        value["apiVersion"] = json!("v1");
        return Ok(Json(value));
    }
    Err(not_found().into())
}

pub async fn group_version(Path((name, version)): Path<(String, String)>) -> RestResult<Json<Value>> {
    match groups().into_iter().find(|(g, _)| *g == name) {
        Some((g, resources)) if version == "v1" => Ok(Json(resource_list(&format!("{g}/v1"), resources))),
        _ => Err(not_found().into()),
    }
}
