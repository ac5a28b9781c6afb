//! Wiring: open the store, build the API, serve it on one listener, shut down cleanly.
//!
//! One port carries every face: tonic's routes become an axum router, so the REST face can be
//! merged into the same router. Shutdown is one token: it ends watches, lets in-flight calls
//! finish (up to a grace period), then flushes and closes the store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use podium_telemetry::middleware::{self, Guard};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::registry::{Api, BOOKMARK_INTERVAL, run_namespace_finalizer};
use crate::store::{SledStore, SledStoreOptions, Store, StoreError};

/// How long in-flight calls may run after shutdown begins.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: SledStoreOptions,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Requests served at once (watches, log follows and exec aside); beyond, 429.
    pub max_requests_inflight: usize,
    /// How long a request (watches, log follows and exec aside) may take; beyond, 504.
    pub request_timeout: Duration,
}

/// Kubernetes' defaults: `--max-requests-inflight` 400 plus `--max-mutating-requests-inflight`
/// 200, and `--request-timeout` 60 s.
pub const MAX_REQUESTS_INFLIGHT: usize = 600;
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests the guard neither counts nor times: health checks and metrics (so a flooded
/// server still answers them) and long-running requests.
fn exempt(request: &axum::extract::Request) -> bool {
    matches!(request.uri().path(), "/healthz" | "/readyz" | "/livez" | "/metrics")
        || request.uri().path().starts_with("/grpc.health.")
        || crate::metrics::long_running(request)
}

impl Config {
    /// A configuration with default store and watch settings.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Config {
            listen,
            data_dir,
            store: SledStoreOptions::default(),
            bookmark_interval: BOOKMARK_INTERVAL,
            max_requests_inflight: MAX_REQUESTS_INFLIGHT,
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("opening the store in {path}: {source}")]
    Store { path: PathBuf, source: StoreError },
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("starting the API: {0}")]
    Api(#[from] podium_api::ApiError),
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}

/// A started server.
pub struct RunningServer {
    /// Where it listens (the real port when configured with port 0).
    pub local_addr: SocketAddr,
    pub api: Api,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Waits for the server to stop (after its shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .unwrap_or_else(|e| Err(ServerError::Serve(std::io::Error::other(e))))
    }
}

/// Opens the store, binds the listener and serves until `shutdown` is cancelled.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<RunningServer, ServerError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ServerError::Store {
        path: config.data_dir.clone(),
        source: StoreError::Aborted(Box::new(e)),
    })?;
    let store = Arc::new(
        SledStore::open(&config.data_dir, config.store.clone()).map_err(|source| ServerError::Store {
            path: config.data_dir.clone(),
            source,
        })?,
    );
    let api = Api::new(store.clone() as Arc<dyn Store>)
        .await?
        .with_bookmark_interval(config.bookmark_interval);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr()?;
    let guard = Guard::new(config.max_requests_inflight, config.request_timeout, exempt);
    // Outermost first: a request id, the request's span, its metrics (which see the guard's
    // 429s and 504s), then the guard around the routes.
    let router = crate::grpc::routes(api.clone())
        .into_axum_router()
        .fallback(crate::rest::fallback)
        .merge(crate::rest::routes(api.clone()))
        .merge(crate::metrics::routes(api.clone()))
        .layer(axum::middleware::from_fn_with_state(guard, middleware::guard))
        .layer(axum::middleware::from_fn(crate::metrics::record))
        .layer(axum::middleware::from_fn(middleware::trace))
        .layer(axum::middleware::from_fn(middleware::request_id));
    tokio::spawn(run_namespace_finalizer(api.clone(), shutdown.clone()));
    let task = {
        let api = api.clone();
        tokio::spawn(async move {
            let graceful = {
                let shutdown = shutdown.clone();
                let api = api.clone();
                async move {
                    shutdown.cancelled().await;
                    api.end_watches();
                }
            };
            // Without TCP_NODELAY, Nagle holds each gRPC reply's trailers back until the client's
            // delayed ACK: 40 ms per call.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let serve = axum::serve(listener, router).with_graceful_shutdown(graceful);
            let serve = async move { serve.await };
            tokio::pin!(serve);
            tokio::select! {
                result = &mut serve => result?,
                () = async { shutdown.cancelled().await; tokio::time::sleep(DRAIN_GRACE).await } => {
                    tracing::warn!("in-flight calls did not finish within {DRAIN_GRACE:?}; closing");
                }
            }
            let closing = store.clone();
            tokio::task::spawn_blocking(move || closing.close()).await.ok();
            tracing::info!("store flushed and closed");
            Ok(())
        })
    };
    Ok(RunningServer { local_addr, api, task })
}
