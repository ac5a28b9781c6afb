//! tower middleware for servers whose router carries REST and gRPC alike (axum `from_fn`
//! layers): request ids, a span per request joined to the caller's trace, and a guard that
//! turns panics into 500s, sheds load beyond a concurrency limit and times requests out.
//!
//! Failures answer in the caller's protocol: a Kubernetes `Status` for REST (429
//! TooManyRequests with `Retry-After`, 504 Timeout, 500 InternalError) and a gRPC status for
//! gRPC (RESOURCE_EXHAUSTED with `retry-after`, DEADLINE_EXCEEDED, INTERNAL).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tokio::sync::Semaphore;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::propagation;

/// The request id header: kept when the caller sends one, made up otherwise, and echoed on
/// the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Whether the request speaks gRPC.
pub fn is_grpc(request: &Request) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Gives every request an `x-request-id` and returns it on the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(REQUEST_ID) {
        Some(id) => id.clone(),
        None => {
            let id = HeaderValue::try_from(uuid::Uuid::new_v4().to_string()).unwrap_or(HeaderValue::from_static("-"));
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Runs each request in a server span named for it (`GET /api/v1/pods`, or the gRPC method),
/// a child of the caller's `traceparent` when it sends one.
pub async fn trace(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let method = request.method().as_str();
    let grpc_name;
    let rest_name;
    let name: &str = if is_grpc(&request) {
        grpc_name = path.trim_start_matches('/');
        grpc_name
    } else {
        rest_name = format!("{method} {path}");
        &rest_name
    };
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = name,
        otel.kind = "server",
        http.request.method = method,
        url.path = path,
        request_id,
        http.response.status_code = tracing::field::Empty,
    );
    if request.headers().contains_key("traceparent") {
        let _ = span.set_parent(propagation::extract(request.headers()));
    }
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// Which requests the guard leaves alone: health checks (never shed) and long-running
/// requests (watches, log follows, exec), which are neither counted nor timed out, as
/// Kubernetes exempts them from its in-flight limit.
pub type Exempt = fn(&Request) -> bool;

/// The concurrency limit, request timeout and panic catcher around a router.
#[derive(Clone)]
pub struct Guard {
    permits: Arc<Semaphore>,
    limit: usize,
    timeout: Duration,
    exempt: Exempt,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("limit", &self.limit)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Guard {
    /// At most `limit` requests at once (beyond that, 429); each may take `timeout`.
    pub fn new(limit: usize, timeout: Duration, exempt: Exempt) -> Self {
        Guard {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            timeout,
            exempt,
        }
    }
}

/// Sheds load beyond the guard's limit, times requests out and turns panics into 500s.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let grpc = is_grpc(&request);
    if (guard.exempt)(&request) {
        return catch_panic(next.run(request), grpc).await;
    }
    let Ok(_permit) = guard.permits.clone().try_acquire_owned() else {
        tracing::debug!(limit = guard.limit, "too many requests in flight; shedding");
        return too_many_requests(grpc);
    };
    match tokio::time::timeout(guard.timeout, catch_panic(next.run(request), grpc)).await {
        Ok(response) => response,
        Err(_) => timed_out(grpc, guard.timeout),
    }
}

async fn catch_panic(handler: impl Future<Output = Response>, grpc: bool) -> Response {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            tracing::error!(panic = %what, "a request handler panicked");
            failure(
                grpc,
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                tonic::Code::Internal,
                &format!("Internal error occurred: {what}"),
            )
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".to_owned())
}

fn too_many_requests(grpc: bool) -> Response {
    let mut response = failure(
        grpc,
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        tonic::Code::ResourceExhausted,
        "Too many requests, please try again later.",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn timed_out(grpc: bool, limit: Duration) -> Response {
    failure(
        grpc,
        StatusCode::GATEWAY_TIMEOUT,
        "Timeout",
        tonic::Code::DeadlineExceeded,
        &format!(
            "Timeout: request did not complete within the allowed duration ({}s)",
            limit.as_secs()
        ),
    )
}

/// A failure as a Kubernetes `Status` (REST) or a gRPC status.
pub fn failure(grpc: bool, code: StatusCode, reason: &str, grpc_code: tonic::Code, message: &str) -> Response {
    if grpc {
        let (parts, ()) = tonic::Status::new(grpc_code, message).into_http::<()>().into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": {"retryAfterSeconds": if code == StatusCode::TOO_MANY_REQUESTS { 1 } else { 0 }},
        "code": code.as_u16(),
    });
    (code, [(CONTENT_TYPE, "application/json")], status.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    use super::*;

    fn health_is_exempt(request: &Request) -> bool {
        request.uri().path() == "/healthz"
    }

    fn app(limit: usize, timeout: Duration, hold: Arc<Notify>) -> Router {
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let hold = hold.clone();
                    async move {
                        hold.notified().await;
                        "done"
                    }
                }),
            )
            .route("/panic", get(|| async { panic!("boom") as &'static str }))
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Guard::new(limit, timeout, health_is_exempt),
                guard,
            ))
            .layer(axum::middleware::from_fn(trace))
            .layer(axum::middleware::from_fn(request_id))
    }

    fn get_request(path: &str) -> Request {
        Request::builder().uri(path).body(Body::empty()).unwrap()
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }

    #[tokio::test]
    async fn beyond_the_limit_requests_get_429_while_health_answers() {
        let hold = Arc::new(Notify::new());
        let app = app(1, Duration::from_secs(60), hold.clone());
        let first = tokio::spawn(app.clone().oneshot(get_request("/slow")));
        tokio::task::yield_now().await;
        // Wait until the first request holds the only permit.
        let mut shed = None;
        for _ in 0..100 {
            let response = app.clone().oneshot(get_request("/slow")).await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                shed = Some(response);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let shed = shed.expect("a request beyond the limit is shed");
        assert_eq!(shed.headers()[RETRY_AFTER], "1");
        assert!(shed.headers().contains_key(REQUEST_ID));
        let status = body(shed).await;
        assert_eq!(status["reason"], "TooManyRequests");
        assert_eq!(status["code"], 429);
        let health = app.clone().oneshot(get_request("/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        hold.notify_waiters();
        let first = first.await.unwrap().unwrap();
        assert_eq!(first.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_and_the_server_goes_on() {
        let app = app(4, Duration::from_secs(60), Arc::new(Notify::new()));
        let response = app.clone().oneshot(get_request("/panic")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let status = body(response).await;
        assert_eq!(status["reason"], "InternalError");
        assert!(status["message"].as_str().unwrap().contains("boom"));
        let health = app.oneshot(get_request("/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out_with_504_and_free_their_slot() {
        let app = app(1, Duration::from_secs(5), Arc::new(Notify::new()));
        let response = app.clone().oneshot(get_request("/slow")).await.unwrap();
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(body(response).await["reason"], "Timeout");
        let again = app.oneshot(get_request("/slow")).await.unwrap();
        assert_eq!(again.status(), StatusCode::GATEWAY_TIMEOUT, "the slot was freed");
    }

    #[tokio::test]
    async fn grpc_callers_get_grpc_statuses() {
        let app = app(4, Duration::from_secs(60), Arc::new(Notify::new()));
        let request = Request::builder()
            .uri("/panic")
            .header(CONTENT_TYPE, "application/grpc")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "13");
    }

    #[tokio::test]
    async fn request_ids_are_kept_or_made() {
        let app = app(4, Duration::from_secs(60), Arc::new(Notify::new()));
        let request = Request::builder()
            .uri("/healthz")
            .header(REQUEST_ID, "abc")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.clone().oneshot(request).await.unwrap().headers()[REQUEST_ID], "abc");
        let made = app.oneshot(get_request("/healthz")).await.unwrap();
        assert_eq!(made.headers()[REQUEST_ID].len(), 36);
    }
}
