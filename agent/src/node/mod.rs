//! The agent's Node: registration, status, and the heartbeat Lease.
//!
//! On start the agent creates its Node (or updates the one a previous run left) with
//! capacity, labels, addresses, nodeInfo and the images its runtime holds. Then it renews its
//! Lease in `kube-node-lease` every 10 s (the cheap heartbeat the node-lifecycle controller
//! watches) and writes the Node's status whenever it changes, and at least every minute.

pub mod host;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use podium_client::{Client, ClientError};
use podium_proto::k8s::coordination::v1::{Lease, LeaseSpec};
use podium_proto::k8s::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo, Taint,
};
use podium_proto::k8s::meta::v1::{ObjectMeta, OwnerReference, Quantity};
use tokio_util::sync::CancellationToken;

use crate::runtime::{ContainerRuntime, RuntimeError};
use host::HostFacts;

/// The version the agent reports as `kubeletVersion`.
pub const AGENT_VERSION: &str = concat!("v1.32.0-podium.", env!("CARGO_PKG_VERSION"));
/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How long a node Lease holds (Kubernetes' default).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// How often the Lease is renewed.
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// A failed renewal is retried after this long, doubling up to `LEASE_RETRY_MAX`.
pub const LEASE_RETRY_MIN: Duration = Duration::from_millis(200);
/// The longest wait between retries of a failed renewal (the kubelet's 7 s).
pub const LEASE_RETRY_MAX: Duration = Duration::from_secs(7);
/// How often the status is compared with what was last written.
pub const STATUS_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// The status is written at least this often, changed or not.
pub const STATUS_REPORT_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("apiserver: {0}")]
    Api(#[from] ClientError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("invalid {what} {value:?}: {reason}")]
    Flag {
        what: &'static str,
        value: String,
        reason: String,
    },
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;

/// How this node registers.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    /// Labels beyond the well-known ones (`--node-labels`).
    pub labels: BTreeMap<String, String>,
    /// Taints the node registers with (`--register-with-taints`).
    pub taints: Vec<Taint>,
    pub max_pods: u32,
    pub root_dir: PathBuf,
    /// The port of the agent's own API (logs, exec), as daemonEndpoints reports it.
    pub port: u16,
    /// The node's address; detected when not given.
    pub node_ip: Option<IpAddr>,
}

/// Parses `k=v,k2=v2`.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| NodeError::Flag {
            what: "node label",
            value: pair.to_owned(),
            reason: "expected key=value".into(),
        })?;
        let problems: Vec<String> = podium_api::names::is_qualified_name(key)
            .into_iter()
            .chain(podium_api::names::is_valid_label_value(value))
            .collect();
        if !problems.is_empty() {
            return Err(NodeError::Flag {
                what: "node label",
                value: pair.to_owned(),
                reason: problems.join("; "),
            });
        }
        labels.insert(key.to_owned(), value.to_owned());
    }
    Ok(labels)
}

/// Parses `key=value:Effect,key:Effect`, as kubelet's `--register-with-taints`.
pub fn parse_taints(text: &str) -> Result<Vec<Taint>> {
    let mut taints = Vec::new();
    for spec in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |reason: &str| NodeError::Flag {
            what: "taint",
            value: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (key_value, effect) = spec
            .rsplit_once(':')
            .ok_or_else(|| bad("expected key[=value]:Effect"))?;
        if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            return Err(bad("the effect must be NoSchedule, PreferNoSchedule or NoExecute"));
        }
        let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
        if !podium_api::names::is_qualified_name(key).is_empty() {
            return Err(bad("the key must be a qualified name"));
        }
        taints.push(Taint {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
            ..Default::default()
        });
    }
    Ok(taints)
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The agent's view of its Node.
pub struct NodeAgent<R> {
    client: Client,
    runtime: Arc<R>,
    config: NodeConfig,
    facts: HostFacts,
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> NodeCondition {
    NodeCondition {
        r#type: kind.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        ..Default::default()
    }
}

/// Whether two statuses differ in anything but heartbeat times.
fn status_changed(old: &NodeStatus, new: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_heartbeat_time = None;
            c.last_transition_time = None;
        }
        s
    };
    strip(old) != strip(new)
}

impl<R: ContainerRuntime> NodeAgent<R> {
    pub fn new(client: Client, runtime: Arc<R>, config: NodeConfig) -> Self {
        let facts = HostFacts::read(&config.root_dir);
        NodeAgent {
            client,
            runtime,
            config,
            facts,
        }
    }

    /// What the host offers (CPUs, memory, addresses).
    pub fn facts(&self) -> &HostFacts {
        &self.facts
    }

    /// The node's InternalIP: the configured one, else the detected one.
    pub fn internal_ip(&self) -> Option<IpAddr> {
        self.config.node_ip.or(self.facts.internal_ip)
    }

    fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.config.labels.clone();
        labels.insert("kubernetes.io/hostname".into(), self.config.name.clone());
        labels.insert("kubernetes.io/os".into(), "linux".into());
        labels.insert("kubernetes.io/arch".into(), go_arch().into());
        labels.insert("beta.kubernetes.io/os".into(), "linux".into());
        labels.insert("beta.kubernetes.io/arch".into(), go_arch().into());
        labels
    }

    /// The status the node should report now; times of unchanged conditions are carried over.
    pub async fn desired_status(&self, previous: Option<&NodeStatus>) -> Result<NodeStatus> {
        let version = self.runtime.version().await?;
        let mut images: Vec<_> = self
            .runtime
            .list_images()
            .await?
            .into_iter()
            .filter(|i| !i.names.is_empty())
            .map(|i| ContainerImage {
                names: i.names,
                size_bytes: i.size_bytes,
            })
            .collect();
        images.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then(a.names.cmp(&b.names)));
        let facts = &self.facts;
        let capacity: BTreeMap<String, Quantity> = [
            ("cpu".to_owned(), Quantity::new(facts.cpus.to_string())),
            (
                "memory".to_owned(),
                Quantity::new(format!("{}Ki", facts.memory_bytes / 1024)),
            ),
            ("pods".to_owned(), Quantity::new(self.config.max_pods.to_string())),
            (
                "ephemeral-storage".to_owned(),
                Quantity::new(format!("{}Ki", facts.ephemeral_storage_bytes / 1024)),
            ),
        ]
        .into();
        let mut addresses = Vec::new();
        if let Some(ip) = self.config.node_ip.or(facts.internal_ip) {
            addresses.push(NodeAddress {
                r#type: "InternalIP".into(),
                address: ip.to_string(),
            });
        }
        addresses.push(NodeAddress {
            r#type: "Hostname".into(),
            address: self.config.name.clone(),
        });
        let now = podium_proto::now();
        let mut conditions = vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ];
        for c in &mut conditions {
            c.last_heartbeat_time = Some(now);
            let before = previous.and_then(|p| p.conditions.iter().find(|o| o.r#type == c.r#type));
            c.last_transition_time = match before {
                Some(old) if old.status == c.status => old.last_transition_time.or(Some(now)),
                _ => Some(now),
            };
        }
        Ok(NodeStatus {
            allocatable: capacity.clone(),
            capacity,
            conditions,
            addresses,
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(self.config.port),
                }),
            }),
            node_info: Some(NodeSystemInfo {
                machine_id: facts.machine_id.clone(),
                system_uuid: facts.system_uuid.clone(),
                boot_id: facts.boot_id.clone(),
                kernel_version: facts.kernel_version.clone(),
                os_image: facts.os_image.clone(),
                container_runtime_version: version.for_node_info(),
                kubelet_version: AGENT_VERSION.into(),
                kube_proxy_version: String::new(),
                operating_system: "linux".into(),
                architecture: go_arch().into(),
                ..Default::default()
            }),
            images,
            ..Default::default()
        })
    }

    /// Creates the Node, or brings the existing one up to date (labels, status); taints are
    /// only set on first registration, as kubelet does, so later edits by users stay.
    pub async fn register(&self) -> Result<Node> {
        let nodes = self.client.resource::<Node>("");
        let existing = nodes.get_opt(&self.config.name).await?;
        let status = self
            .desired_status(existing.as_ref().and_then(|n| n.status.as_ref()))
            .await?;
        let node = match existing {
            None => {
                let node = Node {
                    metadata: Some(ObjectMeta {
                        name: self.config.name.clone(),
                        labels: self.labels(),
                        ..Default::default()
                    }),
                    spec: Some(NodeSpec {
                        taints: self.config.taints.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let created = match nodes.create(node).await {
                    Ok(node) => node,
                    Err(e) if e.api().is_some_and(|a| a.is_already_exists()) => nodes.get(&self.config.name).await?,
                    Err(e) => return Err(e.into()),
                };
                tracing::info!(node = %self.config.name, "registered the node");
                created
            }
            Some(mut node) => {
                let meta = node.metadata.get_or_insert_with(Default::default);
                let mut labels = meta.labels.clone();
                labels.extend(self.labels());
                if labels != meta.labels {
                    meta.labels = labels;
                    node = nodes.update(node).await?;
                }
                tracing::info!(node = %self.config.name, "the node was already registered");
                node
            }
        };
        let mut with_status = node;
        with_status.status = Some(status);
        Ok(nodes.update_status(with_status).await?)
    }

    /// Writes the status if it changed, or always with `heartbeat`. True when it wrote.
    pub async fn sync_status(&self, heartbeat: bool) -> Result<bool> {
        let nodes = self.client.resource::<Node>("");
        let mut node = nodes.get(&self.config.name).await?;
        let desired = self.desired_status(node.status.as_ref()).await?;
        let changed = node.status.as_ref().is_none_or(|old| status_changed(old, &desired));
        if !changed && !heartbeat {
            return Ok(false);
        }
        node.status = Some(desired);
        nodes.update_status(node).await?;
        Ok(true)
    }

    /// Creates or renews the node's Lease.
    pub async fn renew_lease(&self) -> Result<()> {
        let leases = self.client.resource::<Lease>(LEASE_NAMESPACE);
        let now = podium_proto::now_micro();
        match leases.get_opt(&self.config.name).await? {
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                spec.holder_identity = Some(self.config.name.clone());
                spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
                spec.renew_time = Some(now);
                leases.update(lease).await?;
            }
            None => {
                let owner = self
                    .client
                    .resource::<Node>("")
                    .get(&self.config.name)
                    .await
                    .ok()
                    .and_then(|n| {
                        let m = n.metadata?;
                        Some(OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: m.name,
                            uid: m.uid,
                            ..Default::default()
                        })
                    });
                let lease = Lease {
                    metadata: Some(ObjectMeta {
                        name: self.config.name.clone(),
                        owner_references: owner.into_iter().collect(),
                        ..Default::default()
                    }),
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.config.name.clone()),
                        lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                        renew_time: Some(now),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                leases.create(lease).await?;
            }
        }
        Ok(())
    }

    /// Registers (retrying until it works), then heartbeats until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.register().await {
                Ok(_) => break,
                Err(e) => tracing::warn!(error = %e, "registering the node failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        let mut lease_tick = tokio::time::interval(LEASE_RENEW_INTERVAL);
        let mut lease_retry = LEASE_RETRY_MIN;
        let mut status_tick = tokio::time::interval(STATUS_CHECK_INTERVAL);
        let mut last_report = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = lease_tick.tick() => match self.renew_lease().await {
                    Ok(()) => lease_retry = LEASE_RETRY_MIN,
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?lease_retry, "renewing the node lease failed");
                        // As the kubelet's lease controller: retry with back-off rather than a
                        // whole interval later, so after an apiserver restart the node is heard
                        // from within moments and not declared Unknown.
                        lease_tick.reset_after(lease_retry);
                        lease_retry = (lease_retry * 2).min(LEASE_RETRY_MAX);
                    }
                },
                _ = status_tick.tick() => {
                    let heartbeat = last_report.elapsed() >= STATUS_REPORT_INTERVAL;
                    match self.sync_status(heartbeat).await {
                        Ok(true) => last_report = tokio::time::Instant::now(),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "updating the node status failed"),
                    }
                }
                () = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_taints_parse_like_kubelet_flags() {
        let labels = parse_labels("zone=a, example.com/role=db").unwrap();
        assert_eq!(labels["zone"], "a");
        assert_eq!(labels["example.com/role"], "db");
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels("bad key=x").is_err());
        let taints = parse_taints("dedicated=gpu:NoSchedule,maintenance:NoExecute").unwrap();
        assert_eq!(
            (
                taints[0].key.as_str(),
                taints[0].value.as_str(),
                taints[0].effect.as_str()
            ),
            ("dedicated", "gpu", "NoSchedule")
        );
        assert_eq!((taints[1].key.as_str(), taints[1].value.as_str()), ("maintenance", ""));
        assert!(parse_taints("k=v:Sometimes").is_err());
        assert!(parse_taints("k=v").is_err());
    }
}
