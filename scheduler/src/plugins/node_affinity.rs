//! `NodeAffinity`: a pod's `nodeSelector` and required node affinity decide which nodes it
//! may run on, and its preferred node affinity terms rank them (Kubernetes'
//! `plugins/nodeaffinity`). Start at [`fits`] for the filter and [`preferred_score`] for the
//! score.

use std::sync::Arc;

use podium_proto::k8s::core::v1::{Node, Pod, PreferredSchedulingTerm};

use super::matching;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, PreScorePlugin, ScorePlugin, Status, default_normalize};

pub const NAME: &str = "NodeAffinity";

/// Kubernetes' default weight of this plugin's score.
pub const WEIGHT: i64 = 2;

/// The reason shown when a node does not satisfy the pod's selector or required affinity.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

const PRE_SCORE_STATE_KEY: &str = "PreScoreNodeAffinity";

/// Filters nodes by the pod's node selector and required affinity, and scores them by its
/// preferred affinity.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeAffinity;

/// What `pre_score` works out once for all nodes.
#[derive(Debug, Clone)]
struct PreScoreState {
    /// The pod's preferred terms that can add to a score (weight not zero).
    preferred: Vec<PreferredSchedulingTerm>,
}

/// Whether the node satisfies the pod's `nodeSelector` and required node affinity.
pub fn fits(pod: &Pod, node: &NodeInfo) -> bool {
    matching::pod_matches_node_selector_and_affinity(pod, &node.node)
}

/// The pod's preferred node affinity terms, without those of weight zero (which Kubernetes
/// drops when it parses them).
fn preferred_terms(pod: &Pod) -> Vec<PreferredSchedulingTerm> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .map_or(&[][..], |n| &n.preferred_during_scheduling_ignored_during_execution);
    terms.iter().filter(|t| t.weight != 0).cloned().collect()
}

/// The sum of the weights of the terms whose preference the node satisfies.
pub fn preferred_score(terms: &[PreferredSchedulingTerm], node: &Node) -> i64 {
    terms
        .iter()
        .filter(|t| t.preference.as_ref().is_some_and(|p| matching::term_matches(p, node)))
        .map(|t| i64::from(t.weight))
        .sum()
}

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        // Labels do not change when pods leave a node, so preemption cannot help.
        if fits(pod, node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

impl PreScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Skips scoring when the pod prefers nothing, as Kubernetes does.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        feasible: &[Arc<NodeInfo>],
        _all: &[Arc<NodeInfo>],
    ) -> Status {
        if feasible.is_empty() {
            return Status::success();
        }
        let preferred = preferred_terms(pod);
        if preferred.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_STATE_KEY, PreScoreState { preferred });
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        WEIGHT
    }

    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(s) => preferred_score(&s.preferred, &node.node),
            // Without pre_score (or after a skip), work the terms out here.
            None => preferred_score(&preferred_terms(pod), &node.node),
        }
    }

    fn normalize(&self, _state: &CycleState, _pod: &Pod, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {

    use podium_proto::k8s::core::v1::{
        Affinity, NodeAffinity as NodeAffinitySpec, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    };
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::labels;

    fn node(name: &str, node_labels: &[(&str, &str)]) -> Arc<NodeInfo> {
        Arc::new(NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                labels: labels(node_labels),
                ..Default::default()
            }),
            ..Default::default()
        })))
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn term(expressions: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: expressions,
            match_fields: vec![],
        }
    }

    fn pod(
        selector: &[(&str, &str)],
        required: Option<Vec<NodeSelectorTerm>>,
        preferred: Vec<(i32, NodeSelectorTerm)>,
    ) -> Pod {
        let node_affinity = NodeAffinitySpec {
            required_during_scheduling_ignored_during_execution: required.map(|terms| NodeSelector {
                node_selector_terms: terms,
            }),
            preferred_during_scheduling_ignored_during_execution: preferred
                .into_iter()
                .map(|(weight, preference)| PreferredSchedulingTerm {
                    weight,
                    preference: Some(preference),
                })
                .collect(),
        };
        Pod {
            spec: Some(PodSpec {
                node_selector: labels(selector),
                affinity: Some(Affinity {
                    node_affinity: Some(node_affinity),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn selector_and_required_affinity_filter_nodes() {
        let zone_a = [("zone", "a")];
        let cases = [
            ("no constraints", pod(&[], None, vec![]), true),
            ("matching selector", pod(&[("zone", "a")], None, vec![]), true),
            ("selector on another value", pod(&[("zone", "b")], None, vec![]), false),
            (
                "selector on a missing label",
                pod(&[("disk", "ssd")], None, vec![]),
                false,
            ),
            (
                "required In",
                pod(
                    &[],
                    Some(vec![term(vec![requirement("zone", "In", &["a", "b"])])]),
                    vec![],
                ),
                true,
            ),
            (
                "required NotIn",
                pod(
                    &[],
                    Some(vec![term(vec![requirement("zone", "NotIn", &["a"])])]),
                    vec![],
                ),
                false,
            ),
            (
                "terms are ORed",
                pod(
                    &[],
                    Some(vec![
                        term(vec![requirement("zone", "In", &["b"])]),
                        term(vec![requirement("zone", "Exists", &[])]),
                    ]),
                    vec![],
                ),
                true,
            ),
            ("no terms match nothing", pod(&[], Some(vec![]), vec![]), false),
            (
                "an empty term matches nothing",
                pod(&[], Some(vec![term(vec![])]), vec![]),
                false,
            ),
            (
                "selector and affinity must both match",
                pod(
                    &[("zone", "b")],
                    Some(vec![term(vec![requirement("zone", "In", &["a"])])]),
                    vec![],
                ),
                false,
            ),
            (
                "preferred terms do not filter",
                pod(&[], None, vec![(10, term(vec![requirement("zone", "In", &["b"])]))]),
                true,
            ),
        ];
        for (name, pod, fits) in cases {
            let status = NodeAffinity.filter(&CycleState::default(), &pod, &node("n1", &zone_a));
            if fits {
                assert_eq!(status, Status::success(), "{name}");
            } else {
                assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                assert_eq!(status.reasons, vec![ERR_REASON_POD.to_owned()], "{name}");
            }
        }
    }

    /// Runs pre_score, score (unless skipped) and normalize over the nodes, as the framework
    /// does; a skipped plugin scores nothing.
    fn scores(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> (Code, Vec<i64>) {
        let mut state = CycleState::default();
        let status = NodeAffinity.pre_score(&mut state, pod, nodes, nodes);
        if status.code == Code::Skip {
            return (Code::Skip, vec![0; nodes.len()]);
        }
        let mut scores: Vec<i64> = nodes.iter().map(|n| NodeAffinity.score(&state, pod, n)).collect();
        NodeAffinity.normalize(&state, pod, &mut scores);
        (status.code, scores)
    }

    #[test]
    fn preferred_terms_rank_nodes_by_weight() {
        let nodes = || {
            vec![
                node("machine1", &[("foo", "bar")]),
                node("machine2", &[("key", "value")]),
                node("machine3", &[("foo", "bar"), ("key", "value"), ("az", "az1")]),
            ]
        };
        let foo = || term(vec![requirement("foo", "In", &["bar"])]);
        let key = || term(vec![requirement("key", "In", &["value"])]);
        let az = || term(vec![requirement("az", "In", &["az1"])]);
        let cases = [
            ("no preferences", pod(&[], None, vec![]), Code::Skip, vec![0, 0, 0]),
            (
                "nothing matches",
                pod(&[], None, vec![(2, term(vec![requirement("x", "Exists", &[])]))]),
                Code::Success,
                vec![0, 0, 0],
            ),
            (
                "one term",
                pod(&[], None, vec![(2, foo())]),
                Code::Success,
                vec![100, 0, 100],
            ),
            (
                "weights add up",
                pod(&[], None, vec![(2, foo()), (4, key()), (5, az())]),
                Code::Success,
                vec![18, 36, 100],
            ),
            (
                "weight zero is ignored",
                pod(&[], None, vec![(0, foo())]),
                Code::Skip,
                vec![0, 0, 0],
            ),
        ];
        for (name, pod, code, want) in cases {
            assert_eq!(scores(&pod, &nodes()), (code, want), "{name}");
        }
    }

    #[test]
    fn score_works_without_pre_score() {
        let pod = pod(&[], None, vec![(3, term(vec![requirement("foo", "Exists", &[])]))]);
        assert_eq!(
            NodeAffinity.score(&CycleState::default(), &pod, &node("n", &[("foo", "x")])),
            3
        );
        assert_eq!(NodeAffinity.weight(), 2);
    }
}
