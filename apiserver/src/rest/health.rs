//! `/livez`, `/readyz` and `/healthz` in Kubernetes' plain `ok` form.

use axum::Router;
use axum::routing::get;

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let ok = || async { "ok" };
    Router::new()
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/healthz", get(ok))
        .route("/livez/ping", get(ok))
        .route("/readyz/ping", get(ok))
        .route("/healthz/ping", get(ok))
}
