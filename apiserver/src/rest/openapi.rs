//! `/openapi/v3`: enough of the OpenAPI documents for `kubectl create|apply|replace -f`.
//!
//! kubectl reads each group version's document to learn whether the server validates fields
//! itself (a `fieldValidation` parameter on the kind's patch operation, found through
//! `x-kubernetes-group-version-kind`). It then sends `fieldValidation=Strict` and leaves
//! validation to the server; for strategic-merge patch metadata it falls back to its built-in
//! types.
//!
//! `/openapi/v2` is a document with no definitions. kubectl asks for it to validate a
//! `kind: List` on the client (it never leaves a List to the server); with no definition for
//! an item's kind it skips that item, and the server validates each object as it is created.
//! kubectl reads it as gnostic protobuf, so that is what it gets unless it asks for JSON.

use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use podium_api::Resource;
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use serde_json::{Map, Value, json};

use super::error::{RestResult, not_found};

/// Bumped when the documents change, so kubectl's cache (keyed by this hash) refreshes.
const DOCUMENT_HASH: &str = "podium-1";

fn group_path(group: &str) -> String {
    if group.is_empty() {
        "api/v1".to_owned()
    } else {
        format!("apis/{group}/v1")
    }
}

/// The operations of one kind: the item path with a patch operation kubectl looks up.
fn paths_of<K: Resource>(paths: &mut Map<String, Value>) {
    let base = if K::GROUP.is_empty() {
        "/api/v1".to_owned()
    } else {
        format!("/apis/{}/v1", K::GROUP)
    };
    let scope = if K::NAMESPACED { "/namespaces/{namespace}" } else { "" };
    let gvk = json!({"group": K::GROUP, "version": K::VERSION, "kind": K::KIND});
    let field_validation = json!({
        "name": "fieldValidation",
        "in": "query",
        "description": "Strict, Warn or Ignore: how unknown or duplicate fields are treated.",
        "schema": {"type": "string", "uniqueItems": true},
    });
    let operation = |action: &str| {
        json!({
            "operationId": format!("{action}{}", K::KIND),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [field_validation],
            "responses": {"200": {"description": "OK"}},
        })
    };
    paths.insert(
        format!("{base}{scope}/{}/{{name}}", K::PLURAL),
        json!({"get": operation("get"), "put": operation("replace"), "patch": operation("patch"), "delete": operation("delete")}),
    );
    paths.insert(
        format!("{base}{scope}/{}", K::PLURAL),
        json!({"get": operation("list"), "post": operation("create")}),
    );
}

fn document(group: &str) -> Option<Value> {
    let mut paths = Map::new();
    match group {
        "" => {
            paths_of::<Pod>(&mut paths);
            paths_of::<Node>(&mut paths);
            paths_of::<Namespace>(&mut paths);
            paths_of::<Event>(&mut paths);
        }
        g if g == Lease::GROUP => paths_of::<Lease>(&mut paths),
        g if g == PriorityClass::GROUP => paths_of::<PriorityClass>(&mut paths),
        _ => return None,
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Podium", "version": format!("v{}.{}", super::discovery::KUBE_MAJOR, super::discovery::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

pub async fn index() -> Json<Value> {
    let mut paths = Map::new();
    for group in ["", Lease::GROUP, PriorityClass::GROUP] {
        let path = group_path(group);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={DOCUMENT_HASH}")}),
        );
    }
    Json(json!({"paths": paths}))
}

/// The gnostic `openapi_v2.Document` with only `swagger: "2.0"` (field 1, a string).
const EMPTY_V2_PROTOBUF: &[u8] = b"\x0a\x032.0";
/// What Kubernetes answers (kubectl asks for `...spec.v2@v1.0+protobuf`, a name Go's MIME
/// parser refuses in a Content-Type).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// `GET /openapi/v2`: an OpenAPI v2 document with no definitions.
pub async fn v2(headers: HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let json_first = accept
        .split(',')
        .map(|t| t.trim())
        .find(|t| t.starts_with("application/json") || t.starts_with("application/com.github.proto-openapi"))
        .is_some_and(|t| t.starts_with("application/json"));
    if json_first || !accept.contains("protobuf") {
        let document = json!({
            "swagger": "2.0",
            "info": {"title": "Podium", "version": "v1"},
            "paths": {},
            "definitions": {},
        });
        return Json(document).into_response();
    }
    ([(CONTENT_TYPE, V2_PROTOBUF)], EMPTY_V2_PROTOBUF).into_response()
}

pub async fn group_document(Path(path): Path<String>) -> RestResult<Json<Value>> {
    let group = match path.as_str() {
        "api/v1" => Some(""),
        other => other.strip_prefix("apis/").and_then(|rest| rest.strip_suffix("/v1")),
    };
    group.and_then(document).map(Json).ok_or_else(|| not_found().into())
}
