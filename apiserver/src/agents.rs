//! The way to a pod's agent (its node's kubelet endpoint), for `pods/log` and `pods/exec`:
//! which container a request means, the node's address, and one lazily connected gRPC channel
//! per agent address.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use podium_api::ApiError;
use podium_proto::agent::v1::ContainerRef;
use podium_proto::agent::v1::agent_service_client::AgentServiceClient;
use podium_proto::k8s::core::v1::{Node, Pod};
use podium_telemetry::propagation::trace_interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::registry::Api;

type TraceInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;

/// A client of one agent, sending the caller's trace context with each call.
pub type AgentClient = AgentServiceClient<InterceptedService<Channel, TraceInterceptor>>;

/// Channels to agents, by address.
#[derive(Clone, Default)]
pub struct Agents {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

/// The container a logs or exec request on `pod` means: the one named, or the only one.
pub fn choose_container(pod: &Pod, requested: &str) -> Result<String, ApiError> {
    let name = pod.metadata.as_ref().map(|m| m.name.as_str()).unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let names = |cs: &[podium_proto::k8s::core::v1::Container]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (apps, inits) = (names(&spec.containers), names(&spec.init_containers));
    if requested.is_empty() {
        if apps.len() == 1 {
            return Ok(apps[0].clone());
        }
        let mut message = format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            apps.join(" ")
        );
        if !inits.is_empty() {
            message.push_str(&format!(" or one of the init containers: [{}]", inits.join(" ")));
        }
        return Err(ApiError::bad_request(message));
    }
    if apps.iter().chain(&inits).any(|c| c == requested) {
        Ok(requested.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "container {requested} is not valid for pod {name}"
        )))
    }
}

/// Fails as Kubernetes does when the container has not started yet (nothing to read or run).
pub fn check_started(pod: &Pod, container: &str) -> Result<(), ApiError> {
    let status = pod.status.clone().unwrap_or_default();
    let found = status
        .container_statuses
        .iter()
        .chain(&status.init_container_statuses)
        .find(|s| s.name == container);
    let waiting = found.and_then(|s| s.state.as_ref()).and_then(|s| s.waiting.as_ref());
    let never_ran = found.is_none_or(|s| s.container_id.is_empty());
    if never_ran {
        let name = pod.metadata.as_ref().map(|m| m.name.as_str()).unwrap_or_default();
        let reason = waiting.map_or("ContainerCreating", |w| w.reason.as_str());
        return Err(ApiError::bad_request(format!(
            "container {container:?} in pod {name:?} is waiting to start: {reason}"
        )));
    }
    Ok(())
}

/// What the agent is asked about.
pub fn container_ref(pod: &Pod, container: &str) -> ContainerRef {
    let meta = pod.metadata.clone().unwrap_or_default();
    ContainerRef {
        namespace: meta.namespace,
        pod: meta.name,
        uid: meta.uid,
        container: container.to_owned(),
    }
}

/// An agent's failure as the API's: what the agent could not find is the caller's 400.
pub fn agent_error(status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
            ApiError::bad_request(status.message().to_owned())
        }
        _ => ApiError::service_unavailable(format!("the node's agent: {}", status.message())),
    }
}

impl Agents {
    /// The client for the agent that runs `pod`.
    pub async fn for_pod(&self, api: &Api, pod: &Pod) -> Result<AgentClient, ApiError> {
        let name = pod.metadata.as_ref().map(|m| m.name.as_str()).unwrap_or_default();
        let node_name = pod.spec.as_ref().map(|s| s.node_name.as_str()).unwrap_or_default();
        if node_name.is_empty() {
            return Err(ApiError::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let node: Node = api.get("", node_name).await?;
        let status = node.status.unwrap_or_default();
        let address = ["InternalIP", "ExternalIP", "Hostname"]
            .iter()
            .find_map(|kind| status.addresses.iter().find(|a| a.r#type == *kind))
            .map(|a| a.address.clone())
            .ok_or_else(|| ApiError::service_unavailable(format!("node {node_name} has no address")))?;
        let port = status
            .daemon_endpoints
            .and_then(|d| d.kubelet_endpoint)
            .map(|e| e.port)
            .filter(|p| *p > 0)
            .ok_or_else(|| ApiError::service_unavailable(format!("node {node_name} has no agent endpoint")))?;
        let host = if address.contains(':') {
            format!("[{address}]")
        } else {
            address
        };
        let url = format!("http://{host}:{port}");
        let channel = {
            let mut channels = self.channels.lock();
            match channels.get(&url) {
                Some(channel) => channel.clone(),
                None => {
                    let channel = Endpoint::from_shared(url.clone())
                        .map_err(|e| ApiError::internal(format!("agent address {url}: {e}")))?
                        .connect_timeout(std::time::Duration::from_secs(5))
                        .connect_lazy();
                    channels.insert(url, channel.clone());
                    channel
                }
            }
        };
        Ok(AgentServiceClient::with_interceptor(
            channel,
            trace_interceptor as TraceInterceptor,
        ))
    }
}
