//! `ImageLocality`: prefers nodes that already hold the pod's container images, weighing
//! each image by its size and by how widely it is spread (an image every node has gives no
//! reason to pick one node), as Kubernetes' `plugins/imagelocality` does. Start at
//! [`image_score`].
//!
//! Kubernetes matches an image name only after adding `:latest` to an untagged one, so
//! `nginx` in a pod misses `docker.io/library/nginx:latest` in the node status that
//! containerd reports. Here both sides are brought to the fully qualified form first
//! ([`normalized_image_name`]), so `nginx`, `library/nginx` and `docker.io/library/nginx`
//! are one image.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use podium_proto::k8s::core::v1::{Node, Pod};

use crate::framework::{CycleState, MAX_NODE_SCORE, NodeInfo, PreScorePlugin, ScorePlugin, Status};

pub const NAME: &str = "ImageLocality";

/// Kubernetes' default weight of this plugin's score.
pub const WEIGHT: i64 = 1;

const PRE_SCORE_STATE_KEY: &str = "PreScoreImageLocality";

const MB: i64 = 1024 * 1024;
/// Image bytes below which a node gets no score: pulling that little costs next to nothing.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Image bytes per container above which a node's score stops growing.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

const DEFAULT_DOMAIN: &str = "docker.io";

/// Scores nodes by the bytes of the pod's images they already hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageLocality;

/// What `pre_score` works out once over the whole cluster.
#[derive(Debug, Clone, Default)]
struct PreScoreState {
    /// How many nodes the cluster has.
    total_nodes: usize,
    /// For each of the pod's images (normalised), how many nodes hold it.
    nodes_with_image: HashMap<String, usize>,
}

/// An image name in its fully qualified form: `:latest` added when there is neither tag nor
/// digest (Kubernetes' `normalizedImageName`), and the implicit Docker Hub domain and
/// `library/` namespace spelt out, so `nginx` becomes `docker.io/library/nginx:latest`.
pub fn normalized_image_name(name: &str) -> String {
    let mut name = name.to_owned();
    // A ':' after the last '/' is a tag (or a digest's); one before it is a registry port.
    if name.rfind(':') <= name.rfind('/') {
        name.push_str(":latest");
    }
    let (domain, remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DEFAULT_DOMAIN, name.as_str()),
    };
    let domain = if domain == "index.docker.io" {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{DEFAULT_DOMAIN}/library/{remainder}")
    } else {
        format!("{domain}/{remainder}")
    }
}

/// The normalised images of the pod's init and app containers, one entry per container.
fn pod_images(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    spec.init_containers
        .iter()
        .chain(&spec.containers)
        .map(|c| normalized_image_name(&c.image))
        .collect()
}

/// The size of the image the node holds under this normalised name, if it holds it.
fn image_size_on(node: &Node, image: &str) -> Option<i64> {
    let images = node.status.as_ref().map_or(&[][..], |s| &s.images);
    images
        .iter()
        .find(|i| i.names.iter().any(|n| normalized_image_name(n) == image))
        .map(|i| i.size_bytes)
}

/// Sums, over the pod's containers, the size of each image the node holds scaled by the
/// share of nodes that hold it, then clamps the sum between 23 MiB and 1000 MiB per
/// container and scales it to `0..=MAX_NODE_SCORE` (Kubernetes' `sumImageScores` and
/// `calculatePriority`).
fn image_score(images: &[String], node: &Node, state: &PreScoreState) -> i64 {
    let mut sum = 0;
    for image in images {
        let Some(size) = image_size_on(node, image) else {
            continue;
        };
        let holders = state.nodes_with_image.get(image).copied().unwrap_or(0);
        let spread = if state.total_nodes == 0 {
            0.0
        } else {
            holders as f64 / state.total_nodes as f64
        };
        sum += (size as f64 * spread) as i64;
    }
    calculate_priority(sum, images.len() as i64)
}

/// Scales the summed image bytes to a score.
fn calculate_priority(sum: i64, containers: i64) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * containers;
    // `clamp` would panic for a pod without containers, where the maximum is below the minimum.
    let sum = if sum < MIN_THRESHOLD {
        MIN_THRESHOLD
    } else {
        sum.min(max_threshold)
    };
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

impl PreScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Counts, over every node (not just the feasible ones), the nodes holding each of the
    /// pod's images.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        _feasible: &[Arc<NodeInfo>],
        all: &[Arc<NodeInfo>],
    ) -> Status {
        let mut nodes_with_image: HashMap<String, usize> = HashMap::new();
        for image in pod_images(pod) {
            if let Entry::Vacant(entry) = nodes_with_image.entry(image) {
                let holders = all
                    .iter()
                    .filter(|n| image_size_on(&n.node, entry.key()).is_some())
                    .count();
                entry.insert(holders);
            }
        }
        state.write(
            PRE_SCORE_STATE_KEY,
            PreScoreState {
                total_nodes: all.len(),
                nodes_with_image,
            },
        );
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        WEIGHT
    }

    /// Without `pre_score` nothing is known about the spread of images, so every node scores 0.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(s) => image_score(&pod_images(pod), &node.node, s),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{Container, ContainerImage, NodeStatus, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;

    fn pod(init: &[&str], app: &[&str]) -> Pod {
        let containers = |images: &[&str]| -> Vec<Container> {
            images
                .iter()
                .map(|i| Container {
                    name: "c".into(),
                    image: i.to_string(),
                    ..Default::default()
                })
                .collect()
        };
        Pod {
            spec: Some(PodSpec {
                init_containers: containers(init),
                containers: containers(app),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A node holding images, each given as its names and its size in MiB.
    fn node(name: &str, images: &[(&[&str], i64)]) -> Arc<NodeInfo> {
        let images = images
            .iter()
            .map(|(names, mib)| ContainerImage {
                names: names.iter().map(|n| n.to_string()).collect(),
                size_bytes: mib * MB,
            })
            .collect();
        Arc::new(NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                images,
                ..Default::default()
            }),
            ..Default::default()
        })))
    }

    fn scores(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Vec<i64> {
        let mut state = CycleState::default();
        assert!(ImageLocality.pre_score(&mut state, pod, nodes, nodes).is_success());
        nodes.iter().map(|n| ImageLocality.score(&state, pod, n)).collect()
    }

    #[test]
    fn image_names_are_normalised() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.25", "docker.io/library/nginx:1.25"),
            ("library/nginx", "docker.io/library/nginx:latest"),
            ("docker.io/nginx", "docker.io/library/nginx:latest"),
            ("docker.io/library/nginx:latest", "docker.io/library/nginx:latest"),
            ("index.docker.io/library/nginx", "docker.io/library/nginx:latest"),
            ("myorg/app", "docker.io/myorg/app:latest"),
            ("gcr.io/project/app", "gcr.io/project/app:latest"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("localhost/app", "localhost/app:latest"),
            ("nginx@sha256:abcd", "docker.io/library/nginx@sha256:abcd"),
        ];
        for (name, want) in cases {
            assert_eq!(normalized_image_name(name), want, "{name}");
        }
    }

    #[test]
    fn nodes_holding_big_rarely_spread_images_score_higher() {
        let cases = vec![
            // node1: 40 MiB * 1/2 + 300 MiB * 2/2 = 320 MiB; 100 * (320 - 23) / (2000 - 23) = 15.
            // node2: 300 MiB; 100 * (300 - 23) / 1977 = 14.
            (
                "size scaled by spread",
                pod(&[], &["gcr.io/40", "gcr.io/300"]),
                vec![
                    node("node1", &[(&["gcr.io/40:latest"], 40), (&["gcr.io/300:latest"], 300)]),
                    node("node2", &[(&["gcr.io/300:latest"], 300)]),
                ],
                vec![15, 14],
            ),
            (
                "below the minimum threshold",
                pod(&[], &["busybox"]),
                vec![node("node1", &[(&["busybox:latest"], 10)]), node("node2", &[])],
                vec![0, 0],
            ),
            // 3000 MiB * 1/2 = 1500 MiB, clamped at 1000 MiB for one container.
            (
                "above the maximum threshold",
                pod(&[], &["big:v1"]),
                vec![node("node1", &[(&["big:v1"], 3000)]), node("node2", &[])],
                vec![100, 0],
            ),
            // 600 MiB * 1/2 = 300 MiB of 2 containers: 100 * (300 - 23) / 1977 = 14.
            (
                "init containers count",
                pod(&["setup:v1"], &["app:v1"]),
                vec![node("node1", &[(&["setup:v1"], 600)]), node("node2", &[])],
                vec![14, 0],
            ),
            // Every node holds it: 500 MiB * 2/2 = 500 MiB; 100 * (500 - 23) / 977 = 48.
            (
                "an image every node holds",
                pod(&[], &["common"]),
                vec![
                    node("node1", &[(&["common:latest"], 500)]),
                    node("node2", &[(&["common:latest"], 500)]),
                ],
                vec![48, 48],
            ),
            // Docker Hub names match in any spelling; other tags do not.
            (
                "docker.io/library variants match",
                pod(&[], &["nginx", "docker.io/library/redis:7"]),
                vec![
                    node(
                        "node1",
                        &[(
                            &["docker.io/library/nginx:latest", "docker.io/library/nginx@sha256:1"],
                            2000,
                        )],
                    ),
                    node("node2", &[(&["redis:7"], 2000)]),
                    node("node3", &[(&["nginx:1.25"], 2000), (&["redis:6"], 2000)]),
                ],
                // 2000 MiB * 1/3 = 666 MiB of 2 containers: 100 * (666.67 - 23) / 1977 = 32.
                vec![32, 32, 0],
            ),
            (
                "no containers",
                pod(&[], &[]),
                vec![node("node1", &[(&["a:latest"], 100)])],
                vec![0],
            ),
        ];
        for (name, pod, nodes, want) in cases {
            assert_eq!(scores(&pod, &nodes), want, "{name}");
        }
    }

    #[test]
    fn spread_counts_every_node_not_only_feasible_ones() {
        let pod = pod(&[], &["app:v1"]);
        let all = [
            node("node1", &[(&["app:v1"], 1023)]),
            node("node2", &[(&["app:v1"], 1023)]),
            node("node3", &[]),
        ];
        let mut state = CycleState::default();
        ImageLocality.pre_score(&mut state, &pod, &all[..1], &all);
        // 1023 MiB * 2/3 = 682 MiB: 100 * (682 - 23) / 977 = 67.
        assert_eq!(ImageLocality.score(&state, &pod, &all[0]), 67);
        assert_eq!(
            ImageLocality.score(&CycleState::default(), &pod, &all[0]),
            0,
            "no pre_score"
        );
        assert_eq!(ImageLocality.weight(), 1);
    }
}
