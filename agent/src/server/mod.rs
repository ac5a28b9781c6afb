//! The agent's own endpoint (the kubelet's port, `daemonEndpoints.kubeletEndpoint`): health
//! checks over HTTP and the `AgentService` over gRPC on the same port, which the apiserver
//! calls for `pods/log` (`logs`) and `pods/exec` (`exec`).

mod exec;
mod logs;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use podium_proto::agent::v1::agent_service_server::AgentServiceServer;
use podium_proto::agent::v1::{ContainerRef, ExecInput, ExecOutput, LogChunk, LogsRequest};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::pod::labels;
use crate::runtime::ContainerRuntime;

/// How long open streams (a followed log, an exec) may hold shutdown up.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The gRPC service over the runtime, for this node's containers only.
pub struct AgentService<R> {
    runtime: Arc<R>,
    node: String,
}

impl<R: ContainerRuntime> AgentService<R> {
    pub fn new(runtime: Arc<R>, node: String) -> Self {
        AgentService { runtime, node }
    }

    /// The Docker id of the container `r` names: its newest instance, or with `previous` the
    /// one before.
    async fn find(&self, r: &ContainerRef, previous: bool) -> Result<String, tonic::Status> {
        let mut filter: std::collections::BTreeMap<String, String> = [
            (labels::NODE, self.node.as_str()),
            (labels::POD_NAMESPACE, r.namespace.as_str()),
            (labels::POD_NAME, r.pod.as_str()),
            (labels::CONTAINER_NAME, r.container.as_str()),
            (labels::CONTAINER_TYPE, labels::CONTAINER),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if !r.uid.is_empty() {
            filter.insert(labels::POD_UID.to_owned(), r.uid.clone());
        }
        let mut found = self
            .runtime
            .list_containers(&filter)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        found.sort_by_key(|c| std::cmp::Reverse(labels::attempt(&c.labels)));
        let wanted = found.into_iter().nth(usize::from(previous));
        wanted.map(|c| c.id).ok_or_else(|| {
            if previous {
                tonic::Status::not_found(format!(
                    "previous terminated container {:?} in pod {:?} not found",
                    r.container, r.pod
                ))
            } else {
                tonic::Status::not_found(format!("container {:?} in pod {:?} is not running", r.container, r.pod))
            }
        })
    }
}

#[tonic::async_trait]
impl<R: ContainerRuntime> podium_proto::agent::v1::agent_service_server::AgentService for AgentService<R> {
    type LogsStream = futures::stream::BoxStream<'static, Result<LogChunk, tonic::Status>>;
    type ExecStream = futures::stream::BoxStream<'static, Result<ExecOutput, tonic::Status>>;

    async fn logs(
        &self,
        request: tonic::Request<LogsRequest>,
    ) -> Result<tonic::Response<Self::LogsStream>, tonic::Status> {
        Ok(tonic::Response::new(self.stream_logs(request.into_inner()).await?))
    }

    async fn exec(
        &self,
        request: tonic::Request<tonic::Streaming<ExecInput>>,
    ) -> Result<tonic::Response<Self::ExecStream>, tonic::Status> {
        Ok(tonic::Response::new(self.start_exec(request.into_inner()).await?))
    }
}

fn router<R: ContainerRuntime>(service: AgentService<R>) -> Router {
    let grpc = tonic::service::Routes::new(AgentServiceServer::new(service)).into_axum_router();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .merge(podium_telemetry::metrics::routes())
        .merge(grpc)
        .layer(axum::middleware::from_fn(podium_telemetry::middleware::trace))
        .layer(axum::middleware::from_fn(podium_telemetry::middleware::request_id))
}

/// Serves on `listener` until `shutdown` (open streams get `DRAIN_GRACE` to end).
pub async fn serve<R: ContainerRuntime>(
    listener: TcpListener,
    service: AgentService<R>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let serve = axum::serve(listener, router(service)).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let serve = async move { serve.await };
    tokio::select! {
        result = serve => result,
        () = async { shutdown.cancelled().await; tokio::time::sleep(DRAIN_GRACE).await } => Ok(()),
    }
}
