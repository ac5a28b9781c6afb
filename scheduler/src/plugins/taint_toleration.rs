//! `TaintToleration`: a node's `NoSchedule` and `NoExecute` taints keep out pods that do not
//! tolerate them, and its `PreferNoSchedule` taints make it less attractive to such pods
//! (Kubernetes' `plugins/tainttoleration`). Start at [`fits`] for the filter and
//! [`count_intolerable_prefer_no_schedule`] for the score.

use std::sync::Arc;

use podium_proto::k8s::core::v1::{Pod, Taint, Toleration};

use super::matching;
use crate::framework::{CycleState, FilterPlugin, NodeInfo, PreScorePlugin, ScorePlugin, Status, default_normalize};

pub const NAME: &str = "TaintToleration";

/// Kubernetes' default weight of this plugin's score.
pub const WEIGHT: i64 = 3;

const PRE_SCORE_STATE_KEY: &str = "PreScoreTaintToleration";

/// The taint effects a pod must tolerate to be placed on a node.
const DO_NOT_SCHEDULE_EFFECTS: &[&str] = &["NoSchedule", "NoExecute"];

const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// Filters out nodes with untolerated hard taints and prefers nodes with fewer untolerated
/// soft ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaintToleration;

/// What `pre_score` works out once for all nodes.
#[derive(Debug, Clone)]
struct PreScoreState {
    /// The pod's tolerations that can tolerate a `PreferNoSchedule` taint.
    tolerations_prefer_no_schedule: Vec<Toleration>,
}

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().map_or(&[], |s| &s.tolerations)
}

fn taints(node: &NodeInfo) -> &[Taint] {
    node.node.spec.as_ref().map_or(&[], |s| &s.taints)
}

/// The reason Kubernetes shows for a taint the pod does not tolerate.
pub fn untolerated_reason(taint: &Taint) -> String {
    format!("node(s) had untolerated taint {{{}: {}}}", taint.key, taint.value)
}

/// Whether the pod tolerates every `NoSchedule` and `NoExecute` taint of the node; if not,
/// the first taint it does not tolerate.
pub fn fits<'a>(pod: &Pod, node: &'a NodeInfo) -> Result<(), &'a Taint> {
    match matching::untolerated_taint(taints(node), tolerations(pod), DO_NOT_SCHEDULE_EFFECTS) {
        Some(taint) => Err(taint),
        None => Ok(()),
    }
}

/// The tolerations that matter for `PreferNoSchedule` taints: those with that effect, and
/// those with no effect (which tolerate every effect).
fn prefer_no_schedule_tolerations(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| t.effect.is_empty() || t.effect == PREFER_NO_SCHEDULE)
        .cloned()
        .collect()
}

/// How many of the node's `PreferNoSchedule` taints none of the tolerations tolerates.
pub fn count_intolerable_prefer_no_schedule(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    let intolerable = taints
        .iter()
        .filter(|t| t.effect == PREFER_NO_SCHEDULE && !matching::tolerated(tolerations, t));
    intolerable.count() as i64
}

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &CycleState, pod: &Pod, node: &NodeInfo) -> Status {
        match fits(pod, node) {
            Ok(()) => Status::success(),
            // The taint stays whatever runs on the node, so preemption cannot help.
            Err(taint) => Status::unresolvable(untolerated_reason(taint)),
        }
    }
}

impl PreScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &Pod,
        _feasible: &[Arc<NodeInfo>],
        _all: &[Arc<NodeInfo>],
    ) -> Status {
        let tolerations_prefer_no_schedule = prefer_no_schedule_tolerations(tolerations(pod));
        state.write(
            PRE_SCORE_STATE_KEY,
            PreScoreState {
                tolerations_prefer_no_schedule,
            },
        );
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn weight(&self) -> i64 {
        WEIGHT
    }

    /// The raw score is the number of intolerable `PreferNoSchedule` taints: lower is better
    /// until `normalize` reverses it.
    fn score(&self, state: &CycleState, pod: &Pod, node: &NodeInfo) -> i64 {
        match state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) {
            Some(s) => count_intolerable_prefer_no_schedule(taints(node), &s.tolerations_prefer_no_schedule),
            // Without pre_score, work the tolerations out here rather than fail the cycle.
            None => {
                count_intolerable_prefer_no_schedule(taints(node), &prefer_no_schedule_tolerations(tolerations(pod)))
            }
        }
    }

    fn normalize(&self, _state: &CycleState, _pod: &Pod, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{Node, NodeSpec, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{taint, toleration};
    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                tolerations,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(name: &str, taints: Vec<Taint>) -> Arc<NodeInfo> {
        Arc::new(NodeInfo::new(Arc::new(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                taints,
                ..Default::default()
            }),
            ..Default::default()
        })))
    }

    #[test]
    fn hard_taints_must_be_tolerated() {
        let cases = [
            ("no taints", pod(vec![]), vec![], None),
            (
                "untolerated NoSchedule",
                pod(vec![]),
                vec![taint("dedicated", "user1", "NoSchedule")],
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                "tolerated with Equal",
                pod(vec![toleration("dedicated", "Equal", "user1", "NoSchedule")]),
                vec![taint("dedicated", "user1", "NoSchedule")],
                None,
            ),
            (
                "toleration with another value",
                pod(vec![toleration("dedicated", "Equal", "user2", "NoSchedule")]),
                vec![taint("dedicated", "user1", "NoSchedule")],
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                "tolerated with Exists",
                pod(vec![toleration("foo", "Exists", "", "NoSchedule")]),
                vec![taint("foo", "bar", "NoSchedule")],
                None,
            ),
            (
                "untolerated NoExecute with an empty value",
                pod(vec![toleration("foo", "Exists", "", "NoSchedule")]),
                vec![taint("foo", "bar", "NoSchedule"), taint("evict", "", "NoExecute")],
                Some("node(s) had untolerated taint {evict: }"),
            ),
            (
                "PreferNoSchedule does not filter",
                pod(vec![]),
                vec![taint("foo", "bar", "PreferNoSchedule")],
                None,
            ),
            (
                "a toleration for another effect",
                pod(vec![toleration("foo", "Equal", "bar", "PreferNoSchedule")]),
                vec![taint("foo", "bar", "NoSchedule")],
                Some("node(s) had untolerated taint {foo: bar}"),
            ),
            (
                "the first untolerated taint is reported",
                pod(vec![]),
                vec![
                    taint("a", "1", "PreferNoSchedule"),
                    taint("b", "2", "NoExecute"),
                    taint("c", "3", "NoSchedule"),
                ],
                Some("node(s) had untolerated taint {b: 2}"),
            ),
        ];
        for (name, pod, taints, reason) in cases {
            let status = TaintToleration.filter(&CycleState::default(), &pod, &node("n1", taints));
            match reason {
                None => assert_eq!(status, Status::success(), "{name}"),
                Some(reason) => {
                    assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                    assert_eq!(status.reasons, vec![reason.to_owned()], "{name}");
                }
            }
        }
    }

    /// Runs pre_score, score and normalize over the nodes, as the framework does.
    fn scores(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Vec<i64> {
        let mut state = CycleState::default();
        assert!(TaintToleration.pre_score(&mut state, pod, nodes, nodes).is_success());
        let mut scores: Vec<i64> = nodes.iter().map(|n| TaintToleration.score(&state, pod, n)).collect();
        TaintToleration.normalize(&state, pod, &mut scores);
        scores
    }

    #[test]
    fn nodes_with_fewer_intolerable_soft_taints_score_higher() {
        let cases = [
            (
                "a tolerated soft taint is as good as none",
                pod(vec![toleration("foo", "Equal", "bar", "PreferNoSchedule")]),
                vec![
                    node("tolerated", vec![taint("foo", "bar", "PreferNoSchedule")]),
                    node("untainted", vec![]),
                    node("intolerable", vec![taint("cpu-type", "arm64", "PreferNoSchedule")]),
                ],
                vec![100, 100, 0],
            ),
            (
                "scores fall with the number of intolerable taints",
                pod(vec![]),
                vec![
                    node("none", vec![]),
                    node("one", vec![taint("a", "1", "PreferNoSchedule")]),
                    node(
                        "two",
                        vec![taint("a", "1", "PreferNoSchedule"), taint("b", "2", "PreferNoSchedule")],
                    ),
                ],
                vec![100, 50, 0],
            ),
            (
                "only PreferNoSchedule taints count",
                pod(vec![]),
                vec![
                    node("hard", vec![taint("a", "1", "NoSchedule")]),
                    node("soft", vec![taint("a", "1", "PreferNoSchedule")]),
                ],
                vec![100, 0],
            ),
            (
                "a toleration with an empty effect tolerates soft taints",
                pod(vec![toleration("a", "Exists", "", "")]),
                vec![
                    node("soft", vec![taint("a", "1", "PreferNoSchedule")]),
                    node("none", vec![]),
                ],
                vec![100, 100],
            ),
            (
                "a NoSchedule toleration does not tolerate a soft taint",
                pod(vec![toleration("a", "Exists", "", "NoSchedule")]),
                vec![
                    node("soft", vec![taint("a", "1", "PreferNoSchedule")]),
                    node("none", vec![]),
                ],
                vec![0, 100],
            ),
        ];
        for (name, pod, nodes, want) in cases {
            assert_eq!(scores(&pod, &nodes), want, "{name}");
        }
    }

    #[test]
    fn score_works_without_pre_score() {
        let pod = pod(vec![toleration("a", "Exists", "", "")]);
        let node = node(
            "n",
            vec![taint("a", "1", "PreferNoSchedule"), taint("b", "2", "PreferNoSchedule")],
        );
        assert_eq!(TaintToleration.score(&CycleState::default(), &pod, &node), 1);
        assert_eq!(TaintToleration.weight(), 3);
    }
}
