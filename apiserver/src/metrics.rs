//! The apiserver's Prometheus metrics, named as Kubernetes' apiserver names them, and the
//! request classification (verb and resource, REST or gRPC) they and the load shedder use.
//!
//! - `apiserver_request_total{verb,resource,code}` and
//!   `apiserver_request_duration_seconds{verb,resource}` (not for WATCH and CONNECT, which
//!   last as long as the client likes), recorded by the `record` middleware;
//! - `apiserver_storage_objects{resource}`, read from the object cache at each scrape;
//! - `apiserver_registered_watchers{kind}`, the open watches;
//! - `apiserver_storage_write_duration_seconds` (a commit, from its mutation to durable) and
//!   `apiserver_storage_flush_duration_seconds` (one group flush to disk).

use std::sync::LazyLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use podium_telemetry::metrics::prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, register_histogram,
    register_histogram_vec, register_int_counter_vec, register_int_gauge_vec,
};
use podium_telemetry::metrics::{FAST_BUCKETS, LATENCY_BUCKETS, render};

use crate::registry::Api;

static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, resource and HTTP response code."
        ),
        &["verb", "resource", "code"]
    )
    .expect("registering apiserver_request_total")
});

static REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        HistogramOpts::new(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb and resource."
        )
        .buckets(LATENCY_BUCKETS.to_vec()),
        &["verb", "resource"]
    )
    .expect("registering apiserver_request_duration_seconds")
});

static STORAGE_OBJECTS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind."
        ),
        &["resource"]
    )
    .expect("registering apiserver_storage_objects")
});

static REGISTERED_WATCHERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resource."
        ),
        &["kind"]
    )
    .expect("registering apiserver_registered_watchers")
});

pub(crate) static STORE_WRITE: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        HistogramOpts::new(
            "apiserver_storage_write_duration_seconds",
            "Time from a commit's start until it is durable, in seconds."
        )
        .buckets(FAST_BUCKETS.to_vec())
    )
    .expect("registering apiserver_storage_write_duration_seconds")
});

pub(crate) static STORE_FLUSH: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        HistogramOpts::new(
            "apiserver_storage_flush_duration_seconds",
            "Time one group flush of the store to disk takes, in seconds."
        )
        .buckets(FAST_BUCKETS.to_vec())
    )
    .expect("registering apiserver_storage_flush_duration_seconds")
});

/// One open watch of `kind`, counted while this lives.
pub(crate) struct Watcher(&'static str);

impl Watcher {
    pub(crate) fn new(kind: &'static str) -> Self {
        REGISTERED_WATCHERS.with_label_values(&[kind]).inc();
        Watcher(kind)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        REGISTERED_WATCHERS.with_label_values(&[self.0]).dec();
    }
}

/// What a request does, as Kubernetes' request info names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// GET, LIST, WATCH, POST, PUT, PATCH, DELETE, DELETECOLLECTION or CONNECT.
    pub verb: &'static str,
    /// The resource plural (`pods`), empty for non-resource paths.
    pub resource: String,
}

impl RequestInfo {
    /// Watches, log follows and exec stay open as long as the client wants.
    pub fn long_running(&self) -> bool {
        matches!(self.verb, "WATCH" | "CONNECT")
    }
}

fn query_flag(query: Option<&str>, name: &str) -> bool {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).any(|(k, v)| k == name && (v == "true" || v == "1"))
}

/// Classifies a REST or gRPC request.
pub fn classify(request: &Request) -> RequestInfo {
    let path = request.uri().path();
    if podium_telemetry::middleware::is_grpc(request) {
        return classify_grpc(path);
    }
    let rest = path
        .strip_prefix("/api/v1/")
        .or_else(|| {
            let mut parts = path.strip_prefix("/apis/")?.splitn(3, '/');
            parts.next()?;
            parts.next()?;
            parts.next()
        })
        .unwrap_or_default();
    let mut parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    if parts.first() == Some(&"watch") {
        parts.remove(0);
    }
    if parts.len() >= 3 && parts[0] == "namespaces" {
        parts.drain(..2);
    }
    let resource = parts.first().map(|r| (*r).to_owned()).unwrap_or_default();
    let named = parts.len() >= 2;
    let subresource = parts.get(2).copied().unwrap_or_default();
    let query = request.uri().query();
    let watch = path.contains("/watch/") || query_flag(query, "watch");
    let verb = match (request.method(), named) {
        _ if resource.is_empty() => "GET",
        _ if subresource == "exec" || subresource == "attach" || subresource == "portforward" => "CONNECT",
        (&Method::GET, _) if subresource == "log" && query_flag(query, "follow") => "CONNECT",
        (&Method::GET, _) if watch => "WATCH",
        (&Method::GET, true) => "GET",
        (&Method::GET, false) => "LIST",
        (&Method::POST, _) => "POST",
        (&Method::PUT, _) => "PUT",
        (&Method::PATCH, _) => "PATCH",
        (&Method::DELETE, true) => "DELETE",
        (&Method::DELETE, false) => "DELETECOLLECTION",
        _ => "GET",
    };
    RequestInfo { verb, resource }
}

/// `/podium.api.v1.PodService/Create` → POST pods.
fn classify_grpc(path: &str) -> RequestInfo {
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or_default();
    let kind = service
        .rsplit('.')
        .next()
        .and_then(|s| s.strip_suffix("Service"))
        .unwrap_or_default();
    let resource = match kind {
        "Pod" => "pods",
        "Node" => "nodes",
        "Namespace" => "namespaces",
        "Event" => "events",
        "Lease" => "leases",
        "PriorityClass" => "priorityclasses",
        _ => "",
    };
    let verb = match method {
        "Get" => "GET",
        "List" => "LIST",
        "Watch" => "WATCH",
        "Create" | "Bind" => "POST",
        "Update" | "UpdateStatus" => "PUT",
        "Patch" => "PATCH",
        "Delete" => "DELETE",
        _ => "GET",
    };
    RequestInfo {
        verb,
        resource: resource.to_owned(),
    }
}

/// The HTTP code a response stands for: its status, or for gRPC the HTTP equivalent of its
/// `grpc-status` (a trailers-only error; a successful call's status comes in trailers, 200).
fn response_code(response: &Response) -> u16 {
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    match grpc_status {
        None => response.status().as_u16(),
        Some(code) => match tonic::Code::from_i32(code) {
            tonic::Code::Ok => 200,
            tonic::Code::Cancelled => 499,
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange | tonic::Code::FailedPrecondition => 400,
            tonic::Code::DeadlineExceeded => 504,
            tonic::Code::NotFound => 404,
            tonic::Code::AlreadyExists | tonic::Code::Aborted => 409,
            tonic::Code::PermissionDenied => 403,
            tonic::Code::Unauthenticated => 401,
            tonic::Code::ResourceExhausted => 429,
            tonic::Code::Unimplemented => 501,
            tonic::Code::Unavailable => 503,
            _ => 500,
        },
    }
}

/// Whether the request is long-running, from the classification `record` left on it (or
/// classifying it now).
pub fn long_running(request: &Request) -> bool {
    match request.extensions().get::<RequestInfo>() {
        Some(info) => info.long_running(),
        None => classify(request).long_running(),
    }
}

/// Counts and times every request by verb, resource and code; leaves its classification on
/// the request for the layers within.
pub async fn record(mut request: Request, next: Next) -> Response {
    let info = classify(&request);
    request.extensions_mut().insert(info.clone());
    let start = Instant::now();
    let response = next.run(request).await;
    let code = response_code(&response).to_string();
    REQUESTS.with_label_values(&[info.verb, &info.resource, &code]).inc();
    if !info.long_running() {
        REQUEST_DURATION
            .with_label_values(&[info.verb, &info.resource])
            .observe(start.elapsed().as_secs_f64());
    }
    response
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    for (resource, count) in api.object_counts() {
        STORAGE_OBJECTS
            .with_label_values(&[resource])
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    LazyLock::force(&REGISTERED_WATCHERS);
    LazyLock::force(&STORE_WRITE);
    LazyLock::force(&STORE_FLUSH);
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render())
}

/// `GET /metrics`.
pub fn routes(api: Api) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(api)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn info(method: &str, uri: &str) -> (String, String) {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let info = classify(&request);
        (info.verb.to_owned(), info.resource)
    }

    #[test]
    fn rest_requests_are_classified_like_kubernetes() {
        let cases = [
            ("GET", "/api/v1/namespaces/default/pods", "LIST", "pods"),
            ("GET", "/api/v1/pods?watch=true", "WATCH", "pods"),
            ("GET", "/api/v1/watch/namespaces/default/pods", "WATCH", "pods"),
            ("GET", "/api/v1/namespaces/default/pods/web", "GET", "pods"),
            ("POST", "/api/v1/namespaces/default/pods", "POST", "pods"),
            ("PUT", "/api/v1/namespaces/default/pods/web/status", "PUT", "pods"),
            ("PATCH", "/api/v1/nodes/n1", "PATCH", "nodes"),
            ("DELETE", "/api/v1/namespaces/default/pods/web", "DELETE", "pods"),
            ("DELETE", "/api/v1/namespaces/default/pods", "DELETECOLLECTION", "pods"),
            ("GET", "/api/v1/namespaces/default", "GET", "namespaces"),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web/log?follow=true",
                "CONNECT",
                "pods",
            ),
            ("GET", "/api/v1/namespaces/default/pods/web/log", "GET", "pods"),
            (
                "GET",
                "/api/v1/namespaces/default/pods/web/exec?command=ls",
                "CONNECT",
                "pods",
            ),
            (
                "GET",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                "LIST",
                "leases",
            ),
            ("GET", "/healthz", "GET", ""),
        ];
        for (method, uri, verb, resource) in cases {
            assert_eq!(
                info(method, uri),
                (verb.to_owned(), resource.to_owned()),
                "{method} {uri}"
            );
        }
    }

    #[test]
    fn grpc_methods_are_classified_by_service_and_method() {
        assert_eq!(
            classify_grpc("/podium.api.v1.PodService/Create"),
            RequestInfo {
                verb: "POST",
                resource: "pods".into()
            }
        );
        assert_eq!(classify_grpc("/podium.api.v1.NodeService/Watch").verb, "WATCH");
        assert_eq!(classify_grpc("/podium.api.v1.LeaseService/UpdateStatus").verb, "PUT");
    }
}
