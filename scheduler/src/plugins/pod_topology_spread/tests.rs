//! Table-driven tests for PodTopologySpread: each case builds a small cluster, runs the
//! pre-filter and the filter on every node (or pre-score, score and normalise), and checks
//! the codes, reasons and scores a user would see.

use podium_proto::k8s::core::v1::{NodeSpec, Taint, Toleration};
use podium_proto::k8s::meta::v1::{LabelSelector, ObjectMeta, Time};

use super::*;
use crate::framework::Code;
use crate::plugins::testing::{labels, pod_in};

const ZONE: &str = "zone";

fn web() -> Pod {
    pod_in("default", "web", &[("app", "web")])
}

fn webs(n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| pod_in("default", &format!("web-{i}"), &[("app", "web")]))
        .collect()
}

fn terminating(mut pod: Pod) -> Pod {
    pod.metadata.get_or_insert_default().deletion_timestamp = Some(Time::default());
    pod
}

/// A constraint spreading `app=web` pods.
fn spread(topology_key: &str, max_skew: i32, when_unsatisfiable: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew,
        topology_key: topology_key.into(),
        when_unsatisfiable: when_unsatisfiable.into(),
        label_selector: Some(LabelSelector {
            match_labels: labels(&[("app", "web")]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with(mut pod: Pod, constraints: Vec<TopologySpreadConstraint>) -> Pod {
    pod.spec.get_or_insert_default().topology_spread_constraints = constraints;
    pod
}

/// A node named `name` with `kubernetes.io/hostname: name`, the extra labels, and pods.
fn node(name: &str, extra: &[(&str, &str)], pods: Vec<Pod>) -> Arc<NodeInfo> {
    tainted(name, extra, &[], pods)
}

fn tainted(name: &str, extra: &[(&str, &str)], taints: &[Taint], pods: Vec<Pod>) -> Arc<NodeInfo> {
    let mut node_labels = labels(extra);
    node_labels.insert(LABEL_HOSTNAME.into(), name.into());
    let node = Node {
        metadata: Some(ObjectMeta {
            name: name.into(),
            labels: node_labels,
            ..Default::default()
        }),
        spec: Some(NodeSpec {
            taints: taints.to_vec(),
            ..Default::default()
        }),
        ..Default::default()
    };
    crate::plugins::testing::node_info(node, pods)
}

/// The pre-filter's code, then the filter's (code, reason) on every node.
fn filter_all(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> (Code, Vec<(Code, String)>) {
    crate::plugins::testing::filter_all(&PodTopologySpread, pod, nodes)
}

/// Normalised scores of the `feasible` nodes (indexes into `all`).
fn scores(pod: &Pod, all: &[Arc<NodeInfo>], feasible: &[usize]) -> Vec<i64> {
    let feasible: Vec<Arc<NodeInfo>> = feasible.iter().map(|&i| all[i].clone()).collect();
    let mut state = CycleState::default();
    let pre = PodTopologySpread.pre_score(&mut state, pod, &feasible, all);
    assert!(matches!(pre.code, Code::Success | Code::Skip), "{pre:?}");
    let mut scores: Vec<i64> = feasible
        .iter()
        .map(|n| PodTopologySpread.score(&state, pod, n))
        .collect();
    PodTopologySpread.normalize(&state, pod, &mut scores);
    scores
}

const OK: (Code, &str) = (Code::Success, "");
const SKEW: (Code, &str) = (Code::Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH);
const MISSING: (Code, &str) = (Code::UnschedulableAndUnresolvable, ERR_REASON_NODE_LABEL_NOT_MATCH);

#[test]
fn filter_keeps_skew_within_max_skew() {
    let zone_spread = || spread(ZONE, 1, "DoNotSchedule");
    let min_domains = |n: i32| TopologySpreadConstraint {
        min_domains: Some(n),
        ..zone_spread()
    };
    let ignore_affinity = TopologySpreadConstraint {
        node_affinity_policy: Some("Ignore".into()),
        ..zone_spread()
    };
    let honor_taints = TopologySpreadConstraint {
        node_taints_policy: Some("Honor".into()),
        ..zone_spread()
    };
    let match_version = TopologySpreadConstraint {
        match_label_keys: vec!["version".into()],
        ..zone_spread()
    };
    let ssd = |mut pod: Pod| {
        pod.spec.get_or_insert_default().node_selector = labels(&[("disk", "ssd")]);
        pod
    };
    let tolerating = |mut pod: Pod| {
        pod.spec.get_or_insert_default().tolerations = vec![Toleration {
            key: "dedicated".into(),
            operator: "Exists".into(),
            ..Default::default()
        }];
        pod
    };
    let dedicated = [Taint {
        key: "dedicated".into(),
        value: "x".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    }];
    let versioned = |name: &str, version: &str| pod_in("default", name, &[("app", "web"), ("version", version)]);
    // Zone a holds 2 matching pods, b 1 and c 1: only c's other pods (terminating, in another
    // namespace, or not selected) would tip it, and they do not count.
    let three_zones = || {
        vec![
            node("n1", &[(ZONE, "a")], webs(2)),
            node("n2", &[(ZONE, "b")], webs(1)),
            node(
                "n3",
                &[(ZONE, "c")],
                vec![
                    web(),
                    terminating(pod_in("default", "old", &[("app", "web")])),
                    pod_in("other", "web", &[("app", "web")]),
                    pod_in("default", "db", &[("app", "db")]),
                ],
            ),
            node("n4", &[], vec![]),
        ]
    };
    // Zone b's node lacks disk=ssd and is empty, so it holds the global minimum only when the
    // pod's node selector is ignored.
    let ssd_zones = || {
        vec![
            node("n1", &[(ZONE, "a"), ("disk", "ssd")], webs(1)),
            node("n2", &[(ZONE, "b")], vec![]),
            node("n3", &[(ZONE, "c"), ("disk", "ssd")], webs(2)),
        ]
    };
    // Zone b's node is tainted and empty.
    let tainted_zones = || {
        vec![
            node("n1", &[(ZONE, "a")], webs(1)),
            tainted("n2", &[(ZONE, "b")], &dedicated, vec![]),
            node("n3", &[(ZONE, "c")], webs(2)),
        ]
    };

    type Case = (&'static str, Pod, Vec<Arc<NodeInfo>>, Code, Vec<(Code, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "maxSkew 1 across 3 zones; a node without the zone label is unresolvable",
            with(web(), vec![zone_spread()]),
            three_zones(),
            Code::Success,
            vec![SKEW, OK, OK, MISSING],
        ),
        (
            "a pod the selector does not match adds nothing to the skew",
            with(pod_in("default", "db", &[("app", "db")]), vec![zone_spread()]),
            three_zones(),
            Code::Success,
            vec![OK, OK, OK, MISSING],
        ),
        (
            "fewer domains than minDomains: the global minimum is 0",
            with(web(), vec![min_domains(3)]),
            vec![node("n1", &[(ZONE, "a")], webs(1)), node("n2", &[(ZONE, "b")], webs(1))],
            Code::Success,
            vec![SKEW, SKEW],
        ),
        (
            "enough domains for minDomains",
            with(web(), vec![min_domains(2)]),
            vec![node("n1", &[(ZONE, "a")], webs(1)), node("n2", &[(ZONE, "b")], webs(1))],
            Code::Success,
            vec![OK, OK],
        ),
        (
            "nodeAffinityPolicy Honor (default): nodes outside the node selector do not count",
            ssd(with(web(), vec![zone_spread()])),
            ssd_zones(),
            Code::Success,
            vec![OK, OK, SKEW],
        ),
        (
            "nodeAffinityPolicy Ignore: every node counts",
            ssd(with(web(), vec![ignore_affinity])),
            ssd_zones(),
            Code::Success,
            vec![SKEW, OK, SKEW],
        ),
        (
            "nodeTaintsPolicy Ignore (default): tainted nodes count",
            with(web(), vec![zone_spread()]),
            tainted_zones(),
            Code::Success,
            vec![SKEW, OK, SKEW],
        ),
        (
            "nodeTaintsPolicy Honor: untolerated tainted nodes do not count",
            with(web(), vec![honor_taints.clone()]),
            tainted_zones(),
            Code::Success,
            vec![OK, OK, SKEW],
        ),
        (
            "nodeTaintsPolicy Honor: tolerated tainted nodes count",
            tolerating(with(web(), vec![honor_taints])),
            tainted_zones(),
            Code::Success,
            vec![SKEW, OK, SKEW],
        ),
        (
            "without matchLabelKeys every version counts",
            with(versioned("new", "v2"), vec![zone_spread()]),
            vec![
                node("n1", &[(ZONE, "a")], vec![versioned("a", "v1"), versioned("b", "v1")]),
                node("n2", &[(ZONE, "b")], vec![versioned("c", "v2")]),
            ],
            Code::Success,
            vec![SKEW, OK],
        ),
        (
            "matchLabelKeys only counts pods with the pod's own version",
            with(versioned("new", "v2"), vec![match_version]),
            vec![
                node("n1", &[(ZONE, "a")], vec![versioned("a", "v1"), versioned("b", "v1")]),
                node("n2", &[(ZONE, "b")], vec![versioned("c", "v2")]),
            ],
            Code::Success,
            vec![OK, SKEW],
        ),
        (
            "every constraint must hold: zone and hostname",
            with(web(), vec![zone_spread(), spread(LABEL_HOSTNAME, 1, "DoNotSchedule")]),
            vec![
                node("n1", &[(ZONE, "a")], webs(1)),
                node("n2", &[(ZONE, "a")], vec![]),
                node("n3", &[(ZONE, "b")], vec![]),
            ],
            Code::Success,
            vec![SKEW, SKEW, OK],
        ),
        (
            "only ScheduleAnyway constraints: nothing to filter",
            with(web(), vec![spread(ZONE, 1, "ScheduleAnyway")]),
            three_zones(),
            Code::Skip,
            vec![OK, OK, OK, OK],
        ),
    ];
    for (name, pod, nodes, pre_code, expected) in cases {
        let (pre, results) = filter_all(&pod, &nodes);
        assert_eq!(pre, pre_code, "{name}: pre-filter");
        let expected: Vec<(Code, String)> = expected.into_iter().map(|(c, r)| (c, r.to_owned())).collect();
        assert_eq!(results, expected, "{name}");
    }
}

#[test]
fn filter_without_pre_filter_is_an_error() {
    let status = PodTopologySpread.filter(&CycleState::default(), &web(), &node("n1", &[], vec![]));
    assert_eq!(status.code, Code::Error);
}

#[test]
fn scores_prefer_emptier_domains() {
    let zone_spread = with(web(), vec![spread(ZONE, 1, "ScheduleAnyway")]);
    let host_spread = with(web(), vec![spread(LABEL_HOSTNAME, 2, "ScheduleAnyway")]);
    type Case = (&'static str, Pod, Vec<Arc<NodeInfo>>, Vec<usize>, Vec<i64>);
    let cases: Vec<Case> = vec![
        (
            // 3 zones weigh ln(5) each: raw scores 3, 0 and 2; the node without zone gets 0.
            "the emptier zone scores highest",
            zone_spread.clone(),
            vec![
                node("n1", &[(ZONE, "a")], webs(2)),
                node("n2", &[(ZONE, "b")], vec![]),
                node("n3", &[(ZONE, "c")], webs(1)),
                node("n4", &[], vec![]),
            ],
            vec![0, 1, 2, 3],
            vec![0, 100, 33, 0],
        ),
        (
            // Zone a counts n2's pod although n2 is not feasible; 2 zones weigh ln(4).
            "pods on infeasible nodes count in their domain",
            zone_spread.clone(),
            vec![
                node("n1", &[(ZONE, "a")], webs(1)),
                node("n2", &[(ZONE, "a")], webs(1)),
                node("n3", &[(ZONE, "b")], vec![]),
            ],
            vec![0, 2],
            vec![0, 100],
        ),
        (
            // 3 hosts weigh ln(5); maxSkew 2 adds 1: raw scores 4, 3 and 1.
            "hostname domains are counted per node",
            host_spread,
            vec![
                node("n1", &[], webs(2)),
                node("n2", &[], webs(1)),
                node("n3", &[], vec![]),
            ],
            vec![0, 1, 2],
            vec![25, 50, 100],
        ),
        (
            "no matching pod: every node scores 100",
            zone_spread,
            vec![node("n1", &[(ZONE, "a")], vec![]), node("n2", &[(ZONE, "b")], vec![])],
            vec![0, 1],
            vec![100, 100],
        ),
        (
            "only DoNotSchedule constraints: no score",
            with(web(), vec![spread(ZONE, 1, "DoNotSchedule")]),
            vec![node("n1", &[(ZONE, "a")], webs(1)), node("n2", &[(ZONE, "b")], vec![])],
            vec![0, 1],
            vec![0, 0],
        ),
    ];
    for (name, pod, nodes, feasible, expected) in cases {
        assert_eq!(scores(&pod, &nodes, &feasible), expected, "{name}");
    }
}
