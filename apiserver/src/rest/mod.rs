//! The REST face: Kubernetes' HTTP API for kubectl, the official Python client and any other
//! REST client, over the same `registry::Api` as gRPC, on the same port.
//!
//! # Layout
//! - `resources`: every verb on every kind (`dispatch` is the entry point).
//! - `request`, `body`: reading paths, queries, Accept headers and bodies (field validation,
//!   protobuf envelopes, the size limit).
//! - `watch`: streaming watch events.
//! - `logs`, `exec`: `pods/log` and `pods/exec`, relayed to the pod's agent.
//! - `discovery`, `openapi`, `health`: what clients read before they read resources.
//! - `error`: every failure as a Kubernetes `Status`.

mod body;
mod discovery;
mod error;
mod exec;
mod health;
mod logs;
mod openapi;
mod request;
mod resources;
mod watch;

use axum::Router;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

pub use body::MAX_BODY_BYTES;
pub use error::RestError;

use crate::agents::Agents;
use crate::registry::Api;

/// The REST handlers' shared state.
#[derive(Clone)]
pub struct RestState {
    pub api: Api,
    pub agents: Agents,
}

/// The REST routes (no fallback: `serve` adds the one that also answers gRPC).
pub fn routes(api: Api) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/api", get(discovery::api_versions))
        .route("/api/v1", get(discovery::core_v1))
        .route("/apis", get(discovery::api_groups))
        .route("/apis/{group}", get(discovery::api_group))
        .route("/apis/{group}/{version}", get(discovery::group_version))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::index))
        .route("/openapi/v3/{*path}", get(openapi::group_document))
        .route("/api/v1/namespaces/{namespace}/pods/{name}/log", get(logs::logs))
        .route("/api/v1/namespaces/{namespace}/pods/{name}/exec", any(exec::exec))
        .route("/api/v1/{*rest}", any(resources::dispatch))
        .route("/apis/{group}/{version}/{*rest}", any(resources::dispatch))
        .merge(health::routes())
        .method_not_allowed_fallback(|| async { RestError(error::method_not_allowed()) })
        .with_state(RestState {
            api,
            agents: Agents::default(),
        })
}

/// Answers what no route matched: an unimplemented gRPC method for gRPC clients, a Kubernetes
/// 404 `Status` for everyone else.
pub async fn fallback(request: Request) -> Response {
    let grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented(format!("no such method: {}", request.uri().path())).into_http();
    }
    RestError(error::not_found()).into_response()
}
