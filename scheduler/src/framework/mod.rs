//! The scheduling framework: the plugin interfaces and the data they see, as Kubernetes'
//! `kube-scheduler/framework` defines them.
//!
//! A scheduling cycle runs, for one pod: every `PreFilterPlugin` once (over all nodes), every
//! `FilterPlugin` per node (a node passes when all say Success or Skip), every
//! `PreScorePlugin` once (over the feasible nodes), then every `ScorePlugin` per feasible
//! node, normalised to `0..=MAX_NODE_SCORE` and weighted. Plugins keep what they computed in
//! the `CycleState` between these steps.

pub mod node_info;
pub mod resources;
pub mod status;

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use podium_proto::k8s::core::v1::Pod;

pub use node_info::{NodeInfo, PodInfo};
pub use resources::Resources;
pub use status::{Code, Status};

/// The highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// Every namespace's labels, for terms with a `namespaceSelector`.
pub type NamespaceLabels = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// The `CycleState` key under which the algorithm puts `Arc<NamespaceLabels>`.
pub const NAMESPACES_KEY: &str = "Namespaces";

/// The namespaces' labels of this cycle (none in plugin unit tests that do not set them).
pub fn namespace_labels(state: &CycleState) -> Arc<NamespaceLabels> {
    state
        .read::<Arc<NamespaceLabels>>(NAMESPACES_KEY)
        .cloned()
        .unwrap_or_default()
}

/// Per-cycle data plugins share between their steps, keyed by plugin name.
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Box::new(value));
    }

    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|v| v.downcast_ref::<T>())
    }
}

/// Runs once per cycle before the filters, over every node.
pub trait PreFilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn pre_filter(&self, state: &mut CycleState, pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Status;
}

/// Says whether a pod can run on a node.
pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn filter(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status;
}

/// Runs once per cycle before scoring: `feasible` passed the filters, `all` is every node.
pub trait PreScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn pre_score(&self, state: &mut CycleState, pod: &Pod, feasible: &[Arc<NodeInfo>], all: &[Arc<NodeInfo>])
    -> Status;
}

/// Ranks the feasible nodes for a pod.
pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Kubernetes' default weight of this plugin.
    fn weight(&self) -> i64;
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64;
    /// Rescales the raw scores (in the order of the feasible nodes) to `0..=MAX_NODE_SCORE`.
    fn normalize(&self, _state: &CycleState, _pod: &Pod, _scores: &mut [i64]) {}
}

/// The plugins of one scheduler profile, in the order they run.
#[derive(Clone, Default)]
pub struct Profile {
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pub score: Vec<Arc<dyn ScorePlugin>>,
}

/// Scales raw scores so the highest becomes `MAX_NODE_SCORE` (Kubernetes'
/// `DefaultNormalizeScore`); with `reverse`, lower raw scores are better.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for score in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *score / max;
        *score = if reverse { MAX_NODE_SCORE - scaled } else { scaled };
    }
}
