//! The default plugins, one module each, and the default profile that wires them with
//! Kubernetes' default weights.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod matching;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

use crate::framework::Profile;

/// Kubernetes' default profile (filters in its order; scores with its default weights).
pub fn default_profile() -> Profile {
    let node_affinity = Arc::new(node_affinity::NodeAffinity);
    let taints = Arc::new(taint_toleration::TaintToleration);
    let fit = Arc::new(node_resources_fit::NodeResourcesFit);
    let inter_pod = Arc::new(inter_pod_affinity::InterPodAffinity);
    let spread = Arc::new(pod_topology_spread::PodTopologySpread);
    Profile {
        pre_filter: vec![fit.clone(), inter_pod.clone(), spread.clone()],
        filter: vec![
            Arc::new(node_unschedulable::NodeUnschedulable),
            Arc::new(node_name::NodeName),
            taints.clone(),
            node_affinity.clone(),
            Arc::new(node_ports::NodePorts),
            fit.clone(),
            spread.clone(),
            inter_pod.clone(),
        ],
        pre_score: vec![
            inter_pod.clone(),
            spread.clone(),
            Arc::new(image_locality::ImageLocality),
        ],
        score: vec![
            taints,
            node_affinity,
            fit,
            spread,
            inter_pod,
            Arc::new(balanced_allocation::NodeResourcesBalancedAllocation),
            Arc::new(image_locality::ImageLocality),
        ],
    }
}
