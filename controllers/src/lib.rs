//! Podium's controller-manager: the controllers that keep the cluster's state honest when
//! nodes come and go. It talks to the apiserver through the client crate like any other
//! component.
//!
//! Every controller is level-based: each `Config::period` it looks at the current nodes,
//! Leases and pods (from reflectors) and makes one step towards what should be, so a restarted
//! controller-manager simply carries on.
//!
//! # Layout
//! - `node_lifecycle`: Ready=Unknown for nodes whose Lease went stale, the not-ready and
//!   unreachable taints, and pods on lost nodes marked not ready.
//! - `taint_eviction`: deleting pods that do not tolerate a node's NoExecute taints, at once or
//!   after their tolerationSeconds.
//! - `pod_gc`: force-deleting pods bound to nodes that no longer exist, and the oldest
//!   terminated pods beyond a threshold.
//! - `pod_cidr`: a podCIDR for every node from the cluster CIDR.
//! - `metrics`: kube-controller-manager's metrics for these controllers.
//! - `manager`: the loop that runs them, with leader election.

pub mod manager;
pub mod metrics;
pub mod node_lifecycle;
pub mod pod_cidr;
pub mod pod_gc;
pub mod taint_eviction;

use std::collections::HashMap;
use std::time::Duration;

use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Node, Pod};

pub use manager::{Config, run};

/// What the controllers see in one pass.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    /// Node Leases by node name.
    pub leases: HashMap<String, Lease>,
    /// Unix time of this pass, in seconds (fractional).
    pub now: f64,
}

/// The errors a pass can meet; each is logged and the next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("apiserver: {0}")]
    Api(#[from] podium_client::ClientError),
    #[error("invalid cluster CIDR {0:?}")]
    Cidr(String),
}

pub type Result<T, E = ControllerError> = std::result::Result<T, E>;

/// The name of a node or pod.
pub fn name_of(meta: &Option<podium_proto::k8s::meta::v1::ObjectMeta>) -> &str {
    meta.as_ref().map(|m| m.name.as_str()).unwrap_or_default()
}

/// Seconds as a `Duration` (negative is zero).
pub fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
