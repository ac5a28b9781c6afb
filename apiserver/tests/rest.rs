//! The REST face over plain HTTP: what kubectl and the Python client don't exercise on their
//! own — patch types, field validation modes, error bodies, watch errors and health.

mod common;

use std::time::Duration;

use axum::body::Bytes;
use common::{TestServer, pod};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use podium_apiserver::store::SledStoreOptions;
use podium_proto::k8s::core::v1::Pod;
use serde_json::{Value, json};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

async fn call(s: &TestServer, method: Method, path: &str, content_type: &str, body: impl Into<Bytes>) -> Reply {
    request(s, method, path, &[("content-type", content_type)], body.into()).await
}

async fn request(s: &TestServer, method: Method, path: &str, headers: &[(&str, &str)], body: Bytes) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", s.addr));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(body)).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .unwrap()
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get(s: &TestServer, path: &str) -> Reply {
    call(s, Method::GET, path, "application/json", Bytes::new()).await
}

fn assert_status(reply: &Reply, code: u16, reason: &str) {
    assert_eq!(reply.status.as_u16(), code, "{:?}", reply.body);
    let status = reply.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], code);
    assert_eq!(status["reason"], reason);
    assert!(!status["message"].as_str().unwrap().is_empty());
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn every_patch_type_applies() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    s.client.resource::<Pod>("default").create(pod("web")).await.unwrap();
    let path = format!("{PODS}/web");

    let merge = call(
        &s,
        Method::PATCH,
        &path,
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"a":"1"}}}"#,
    )
    .await;
    assert_eq!(merge.status, StatusCode::OK);
    assert_eq!(merge.json()["metadata"]["labels"]["a"], "1");

    let json_patch =
        r#"[{"op":"add","path":"/metadata/labels/b","value":"2"},{"op":"remove","path":"/metadata/labels/a"}]"#;
    let patched = call(&s, Method::PATCH, &path, "application/json-patch+json", json_patch).await;
    assert_eq!(patched.json()["metadata"]["labels"], json!({"b": "2"}));

    let strategic = json!({"spec": {"containers": [{"name": "app", "image": "busybox:1.37"}]}});
    let patched = call(
        &s,
        Method::PATCH,
        &path,
        "application/strategic-merge-patch+json",
        strategic.to_string(),
    )
    .await;
    let body = patched.json();
    assert_eq!(body["spec"]["containers"][0]["image"], "busybox:1.37");
    assert_eq!(
        body["spec"]["containers"][0]["name"], "app",
        "merged by name, not replaced"
    );

    let status = call(
        &s,
        Method::PATCH,
        &format!("{path}/status"),
        "application/merge-patch+json",
        r#"{"status":{"phase":"Running"}}"#,
    )
    .await;
    assert_eq!(status.json()["status"]["phase"], "Running");

    let missing = call(
        &s,
        Method::PATCH,
        &path,
        "application/json-patch+json",
        r#"[{"op":"replace","path":"/metadata/labels/zz","value":"x"}]"#,
    )
    .await;
    assert_status(&missing, 422, "Invalid");
    let apply = call(&s, Method::PATCH, &path, "application/apply-patch+yaml", "{}").await;
    assert_status(&apply, 415, "UnsupportedMediaType");
    s.stop().await;
}

#[tokio::test]
async fn field_validation_modes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let body = |name: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","name":"{name}"}},"spec":{{"containers":[{{"name":"a","image":"busybox","bogus":1}}]}}}}"#
        )
    };
    let strict = call(
        &s,
        Method::POST,
        &format!("{PODS}?fieldValidation=Strict"),
        "application/json",
        body("s"),
    )
    .await;
    assert_status(&strict, 400, "BadRequest");
    let message = strict.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("strict decoding error"), "{message}");
    assert!(
        message.contains("unknown field \"spec.containers[0].bogus\""),
        "{message}"
    );
    assert!(message.contains("duplicate field \"metadata.name\""), "{message}");

    let warn = call(
        &s,
        Method::POST,
        &format!("{PODS}?fieldValidation=Warn"),
        "application/json",
        body("w"),
    )
    .await;
    assert_eq!(warn.status, StatusCode::CREATED);
    let warnings: Vec<&str> = warn
        .headers
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("299 - ") && w.contains("spec.containers[0].bogus")),
        "{warnings:?}"
    );

    let ignore = call(
        &s,
        Method::POST,
        &format!("{PODS}?fieldValidation=Ignore"),
        "application/json",
        body("i"),
    )
    .await;
    assert_eq!(ignore.status, StatusCode::CREATED);
    assert!(ignore.headers.get("warning").is_none());

    let bad_mode = call(
        &s,
        Method::POST,
        &format!("{PODS}?fieldValidation=Loose"),
        "application/json",
        body("x"),
    )
    .await;
    assert_status(&bad_mode, 400, "BadRequest");
    s.stop().await;
}

#[tokio::test]
async fn errors_are_status_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    assert_status(&get(&s, "/api/v1/namespaces/default/widgets").await, 404, "NotFound");
    assert_status(&get(&s, "/no/such/path").await, 404, "NotFound");
    assert_status(&get(&s, &format!("{PODS}/missing")).await, 404, "NotFound");
    let wrong_method = call(&s, Method::PUT, PODS, "application/json", "{}").await;
    assert_status(&wrong_method, 405, "MethodNotAllowed");
    let yaml = call(&s, Method::POST, PODS, "text/plain", "hello").await;
    assert_status(&yaml, 415, "UnsupportedMediaType");
    let huge = vec![b' '; podium_apiserver::rest::MAX_BODY_BYTES + 1];
    assert_status(
        &call(&s, Method::POST, PODS, "application/json", huge).await,
        413,
        "RequestEntityTooLarge",
    );
    assert_status(
        &call(&s, Method::POST, PODS, "application/json", "{not json").await,
        400,
        "BadRequest",
    );
    let wrong_kind = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"x"}}"#;
    assert_status(
        &call(&s, Method::POST, PODS, "application/json", wrong_kind).await,
        400,
        "BadRequest",
    );
    let bad_selector = get(&s, &format!("{PODS}?labelSelector=a%20in%20(b")).await;
    assert_status(&bad_selector, 400, "BadRequest");
    // Logs and exec of a pod that does not exist; attach is not served.
    assert_status(&get(&s, &format!("{PODS}/web/log")).await, 404, "NotFound");
    assert_status(
        &get(&s, &format!("{PODS}/web/exec?command=true")).await,
        404,
        "NotFound",
    );
    assert_status(&get(&s, &format!("{PODS}/web/attach")).await, 503, "ServiceUnavailable");
    for path in ["/livez", "/readyz", "/healthz"] {
        let reply = get(&s, path).await;
        assert_eq!(
            (reply.status, reply.body.as_ref()),
            (StatusCode::OK, b"ok".as_ref()),
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn a_too_old_watch_gets_an_error_event() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledStoreOptions {
        history_max_commits: 2,
        compaction_interval: Duration::from_millis(50),
        ..Default::default()
    };
    let s = TestServer::start_at(dir.path(), "127.0.0.1:0".parse().unwrap(), options).await;
    let pods = s.client.resource::<Pod>("default");
    for i in 0..10 {
        pods.create(pod(&format!("p{i}"))).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = get(&s, &format!("{PODS}?watch=true&resourceVersion=1")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let event: Value = serde_json::from_slice(reply.body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");

    let lines = get(&s, &format!("{PODS}?watch=1&timeoutSeconds=1")).await;
    let events: Vec<Value> = lines
        .body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(
        events.len(),
        10,
        "synthetic ADDED events, then the timeout ends the stream"
    );
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "ADDED" && e["object"]["kind"] == "Pod")
    );
    s.stop().await;
}

#[tokio::test]
async fn deletecollection_and_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let pods = s.client.resource::<Pod>("default");
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        pods.create(common::labelled(name, &[("app", app)])).await.unwrap();
    }
    let deleted = call(
        &s,
        Method::DELETE,
        &format!("{PODS}?labelSelector=app%3Dweb"),
        "application/json",
        Bytes::new(),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.json()["kind"], "PodList");
    assert_eq!(deleted.json()["items"].as_array().unwrap().len(), 2);
    let left = get(&s, PODS).await.json();
    assert_eq!(left["items"].as_array().unwrap().len(), 1);

    call(
        &s,
        Method::POST,
        "/api/v1/nodes",
        "application/json",
        r#"{"metadata":{"name":"n1"}}"#,
    )
    .await;
    let binding =
        r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"c"},"target":{"kind":"Node","name":"n1"}}"#;
    let bound = call(
        &s,
        Method::POST,
        "/api/v1/namespaces/default/bindings",
        "application/json",
        binding,
    )
    .await;
    assert_eq!(bound.status, StatusCode::CREATED, "{:?}", bound.body);
    assert_eq!(bound.json()["status"], "Success");
    assert_eq!(get(&s, &format!("{PODS}/c")).await.json()["spec"]["nodeName"], "n1");
    s.stop().await;
}

#[tokio::test]
async fn tables_for_kubectl_get() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    s.client.resource::<Pod>("default").create(pod("web")).await.unwrap();
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let table = |path: String| {
        let s = &s;
        async move {
            request(s, Method::GET, &path, &[("accept", TABLE)], Bytes::new())
                .await
                .json()
        }
    };
    let list = table(PODS.to_owned()).await;
    assert_eq!(
        (list["kind"].as_str(), list["apiVersion"].as_str()),
        (Some("Table"), Some("meta.k8s.io/v1"))
    );
    let columns: Vec<&str> = list["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&columns[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
    assert_eq!(list["rows"][0]["cells"][0], "web");
    assert_eq!(list["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let full = table(format!("{PODS}?includeObject=Object")).await;
    assert_eq!(full["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(full["rows"][0]["object"]["spec"]["containers"][0]["name"], "app");
    let none = table(format!("{PODS}?includeObject=None")).await;
    assert!(none["rows"][0]["object"].is_null());
    let bad = table(format!("{PODS}?includeObject=Everything")).await;
    assert_eq!(bad["code"], 400);
    s.stop().await;
}
