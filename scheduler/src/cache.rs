//! The scheduler's cache: every node with the pods bound (or assumed) to it.
//!
//! Filled from the node and pod reflectors; the scheduling cycle adds "assumed" pods the
//! moment it picks a node, so the next cycle already counts them while the binding is in
//! flight. A binding that fails is forgotten; one that succeeds is confirmed when the pod
//! watch shows the pod bound. Node infos are shared copy-on-write, so a snapshot is cheap.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use podium_proto::k8s::core::v1::{Node, Pod};

use crate::framework::{NodeInfo, PodInfo};

/// Where a pod the cache knows is placed.
#[derive(Debug, Clone)]
struct Placement {
    node: String,
    assumed: bool,
    info: Arc<PodInfo>,
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, Placement>,
    /// Node name → the UIDs of the pods placed there, so a node update finds its pods
    /// without scanning every pod.
    by_node: HashMap<String, BTreeSet<String>>,
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.as_ref().map_or("", |m| m.uid.as_str())
}

/// Whether a pod has finished and no longer uses its node's resources.
pub fn is_terminal(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .is_some_and(|s| s.phase == "Succeeded" || s.phase == "Failed")
}

impl Cache {
    pub fn add_or_update_node(&mut self, node: Node) {
        let name = node.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
        let node = Arc::new(node);
        let mut info = NodeInfo::new(node);
        for id in self.by_node.get(&name).into_iter().flatten() {
            if let Some(placement) = self.pods.get(id) {
                info.add_pod(placement.info.clone());
            }
        }
        self.nodes.insert(name, Arc::new(info));
    }

    pub fn remove_node(&mut self, name: &str) {
        self.nodes.remove(name);
    }

    /// Records a bound pod (confirming an assumed one); terminal pods are dropped.
    pub fn add_or_update_pod(&mut self, pod: Pod) {
        let id = uid(&pod).to_owned();
        self.remove_pod(&id);
        let node = pod.spec.as_ref().map(|s| s.node_name.clone()).unwrap_or_default();
        if node.is_empty() || is_terminal(&pod) {
            return;
        }
        self.place(id, node, Arc::new(pod), false);
    }

    fn place(&mut self, id: String, node: String, pod: Arc<Pod>, assumed: bool) {
        let info = Arc::new(PodInfo::new(pod));
        if let Some(node_info) = self.nodes.get_mut(&node) {
            Arc::make_mut(node_info).add_pod(info.clone());
        }
        self.by_node.entry(node.clone()).or_default().insert(id.clone());
        self.pods.insert(id, Placement { node, assumed, info });
    }

    pub fn remove_pod(&mut self, id: &str) {
        let Some(placement) = self.pods.remove(id) else { return };
        if let Some(ids) = self.by_node.get_mut(&placement.node) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_node.remove(&placement.node);
            }
        }
        if let Some(node_info) = self.nodes.get_mut(&placement.node) {
            Arc::make_mut(node_info).remove_pod(id);
        }
    }

    /// Counts a pod on a node before its binding is confirmed.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let mut bound = pod.clone();
        bound.spec.get_or_insert_with(Default::default).node_name = node.to_owned();
        let id = uid(pod).to_owned();
        self.remove_pod(&id);
        self.place(id, node.to_owned(), Arc::new(bound), true);
    }

    /// Drops an assumption whose binding failed.
    pub fn forget(&mut self, id: &str) {
        if self.pods.get(id).is_some_and(|p| p.assumed) {
            self.remove_pod(id);
        }
    }

    /// Whether the cache places this pod (bound or assumed).
    pub fn is_placed(&self, id: &str) -> bool {
        self.pods.contains_key(id)
    }

    /// Every node, with its pods, as of now.
    pub fn snapshot(&self) -> Vec<Arc<NodeInfo>> {
        self.nodes.values().cloned().collect()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::PodSpec;
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;

    fn node(name: &str) -> Node {
        Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(uid: &str, node: &str) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: uid.into(),
                uid: uid.into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                node_name: node.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pods_on(cache: &Cache, name: &str) -> usize {
        cache
            .snapshot()
            .iter()
            .find(|n| n.name() == name)
            .map_or(0, |n| n.pods.len())
    }

    #[test]
    fn assumed_pods_count_until_forgotten_or_confirmed() {
        let mut cache = Cache::default();
        cache.add_or_update_node(node("n1"));
        cache.assume(&pod("a", ""), "n1");
        assert_eq!(pods_on(&cache, "n1"), 1);
        cache.forget("a");
        assert_eq!(pods_on(&cache, "n1"), 0);
        cache.assume(&pod("b", ""), "n1");
        cache.add_or_update_pod(pod("b", "n1"));
        cache.forget("b");
        assert_eq!(pods_on(&cache, "n1"), 1, "a confirmed pod is not forgotten");
    }

    #[test]
    fn pods_seen_before_their_node_are_placed_when_it_arrives() {
        let mut cache = Cache::default();
        cache.add_or_update_pod(pod("a", "n1"));
        cache.add_or_update_node(node("n1"));
        assert_eq!(pods_on(&cache, "n1"), 1);
        cache.add_or_update_node(node("n1"));
        assert_eq!(pods_on(&cache, "n1"), 1, "a node update keeps its pods");
        cache.remove_pod("a");
        assert_eq!(pods_on(&cache, "n1"), 0);
    }
}
