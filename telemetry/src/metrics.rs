//! Prometheus metrics: the process-wide registry (the `prometheus` crate's default, which
//! includes Go-style process metrics: `process_resident_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, ...), its text exposition, and the
//! `/metrics` route every component serves.
//!
//! Components define their metrics as statics registered on first use with the re-exported
//! `prometheus` macros, named as Kubernetes names them where it has one.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
pub use prometheus;
use prometheus::{Encoder, TextEncoder};

/// The buckets of Kubernetes' request latency histograms, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0,
    45.0, 60.0,
];

/// Buckets for fast internal operations (store writes, runtime calls), in seconds.
pub const FAST_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every registered metric in Prometheus' text format (version 0.0.4).
pub fn render() -> String {
    let mut out = Vec::new();
    // Encoding into a Vec cannot fail on I/O; a collector with clashing names would, and is
    // a programming error that the tests catch.
    if let Err(e) = TextEncoder::new().encode(&prometheus::gather(), &mut out) {
        tracing::warn!(error = %e, "encoding metrics failed");
    }
    String::from_utf8(out).unwrap_or_default()
}

async fn metrics() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render())
}

/// The samples of a Prometheus text exposition, by series as written (`name{labels}`, labels
/// in the order the encoder writes them, which is sorted); comments skipped. For tests and
/// tools that read `/metrics`.
pub fn parse_text(text: &str) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("bad sample line {line:?}"))?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value in {line:?}"))?,
        };
        samples.insert(series.to_owned(), value);
    }
    Ok(samples)
}

/// `GET /metrics`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(metrics))
}

/// The endpoint of components with no other HTTP face (the scheduler, the
/// controller-manager): `/metrics` and the health checks (`/healthz`, `/livez`, `/readyz`).
#[derive(Debug)]
pub struct Endpoint {
    listener: tokio::net::TcpListener,
    /// Where it listens (the real port when bound to port 0).
    pub addr: std::net::SocketAddr,
}

impl Endpoint {
    pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Endpoint { listener, addr })
    }

    /// Serves until `shutdown`, saying where on a start-up line.
    pub fn spawn(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let addr = self.addr;
        tracing::info!(address = %addr, "health and Prometheus /metrics on http://{addr}");
        let ok = || async { "ok" };
        let router: Router = routes()
            .route("/healthz", get(ok))
            .route("/livez", get(ok))
            .route("/readyz", get(ok))
            .layer(axum::middleware::from_fn(crate::middleware::trace))
            .layer(axum::middleware::from_fn(crate::middleware::request_id));
        tokio::spawn(async move {
            axum::serve(self.listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_parses_back() {
        let samples = parse_text("# HELP x y\n# TYPE x counter\nx{a=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n").unwrap();
        assert_eq!(samples["x{a=\"1\"}"], 3.0);
        assert_eq!(samples["h_bucket{le=\"+Inf\"}"], 2.0);
        assert!(parse_text("garbage").is_err());
        assert!(parse_text(&render()).unwrap().contains_key("process_open_fds"));
    }

    #[test]
    fn process_metrics_are_exposed() {
        let text = render();
        for name in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "process_open_fds",
        ] {
            assert!(
                text.contains(&format!("\n{name} ")) || text.starts_with(&format!("{name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
