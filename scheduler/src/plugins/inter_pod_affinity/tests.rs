//! Table-driven tests for InterPodAffinity: each case builds a small cluster, runs the
//! pre-filter and the filter on every node (or pre-score, score and normalise), and checks
//! what a user would see: the codes, reasons and scores.

use podium_proto::k8s::core::v1::{Affinity, Node, PodAffinity, PodAntiAffinity};
use podium_proto::k8s::meta::v1::{LabelSelector, ObjectMeta};

use super::*;
use crate::framework::Code;
use crate::plugins::testing::{labels, pod_in};

const ZONE: &str = "zone";
const HOSTNAME: &str = "kubernetes.io/hostname";

fn pod(name: &str, pod_labels: &[(&str, &str)]) -> Pod {
    pod_in("default", name, pod_labels)
}

/// A term selecting pods with `selector` labels in the holder's namespace.
fn term(topology_key: &str, selector: &[(&str, &str)]) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: labels(selector),
            ..Default::default()
        }),
        topology_key: topology_key.into(),
        ..Default::default()
    }
}

fn weighted(weight: i32, term: PodAffinityTerm) -> WeightedPodAffinityTerm {
    WeightedPodAffinityTerm {
        weight,
        pod_affinity_term: Some(term),
    }
}

/// The pod's pod affinity and anti-affinity terms: (required, preferred) for each.
#[derive(Default)]
struct Terms {
    affinity: Vec<PodAffinityTerm>,
    preferred_affinity: Vec<WeightedPodAffinityTerm>,
    anti_affinity: Vec<PodAffinityTerm>,
    preferred_anti_affinity: Vec<WeightedPodAffinityTerm>,
}

fn with(mut pod: Pod, terms: Terms) -> Pod {
    let affinity = Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: terms.affinity,
            preferred_during_scheduling_ignored_during_execution: terms.preferred_affinity,
        }),
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: terms.anti_affinity,
            preferred_during_scheduling_ignored_during_execution: terms.preferred_anti_affinity,
        }),
        ..Default::default()
    };
    pod.spec.get_or_insert_default().affinity = Some(affinity);
    pod
}

/// A node named `name` with `kubernetes.io/hostname: name`, the given zone (if any), and pods.
fn node(name: &str, zone: Option<&str>, pods: Vec<Pod>) -> Arc<NodeInfo> {
    let mut node_labels = labels(&[(HOSTNAME, name)]);
    if let Some(zone) = zone {
        node_labels.insert(ZONE.into(), zone.into());
    }
    let node = Node {
        metadata: Some(ObjectMeta {
            name: name.into(),
            labels: node_labels,
            ..Default::default()
        }),
        ..Default::default()
    };
    crate::plugins::testing::node_info(node, pods)
}

/// The pre-filter's code, then the filter's (code, reason) on every node.
fn filter_all(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> (Code, Vec<(Code, String)>) {
    crate::plugins::testing::filter_all(&InterPodAffinity, pod, nodes)
}

/// Normalised scores with every node feasible.
fn scores(pod: &Pod, nodes: &[Arc<NodeInfo>]) -> Vec<i64> {
    let mut state = CycleState::default();
    let pre = InterPodAffinity.pre_score(&mut state, pod, nodes, nodes);
    assert!(matches!(pre.code, Code::Success | Code::Skip), "{pre:?}");
    let mut scores: Vec<i64> = nodes.iter().map(|n| InterPodAffinity.score(&state, pod, n)).collect();
    InterPodAffinity.normalize(&state, pod, &mut scores);
    scores
}

const OK: (Code, &str) = (Code::Success, "");
const AFFINITY: (Code, &str) = (Code::UnschedulableAndUnresolvable, ERR_REASON_AFFINITY_RULES_NOT_MATCH);
const ANTI: (Code, &str) = (Code::Unschedulable, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
const EXISTING: (Code, &str) = (Code::Unschedulable, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);

#[test]
fn filter_follows_kubernetes_rules() {
    let db = || pod("db", &[("app", "db")]);
    let web = || pod("web", &[("app", "web")]);
    let affinity_to_db = |p: Pod| {
        with(
            p,
            Terms {
                affinity: vec![term(ZONE, &[("app", "db")])],
                ..Default::default()
            },
        )
    };
    let anti_web_on_host = |p: Pod| {
        with(
            p,
            Terms {
                anti_affinity: vec![term(HOSTNAME, &[("app", "web")])],
                ..Default::default()
            },
        )
    };
    let anti_web_in_zone = |p: Pod| {
        with(
            p,
            Terms {
                anti_affinity: vec![term(ZONE, &[("app", "web")])],
                ..Default::default()
            },
        )
    };
    let mut all_namespaces = term(ZONE, &[("app", "web")]);
    all_namespaces.namespace_selector = Some(LabelSelector::default());
    let mut labelled_namespaces = term(ZONE, &[("app", "db")]);
    labelled_namespaces.namespace_selector = Some(LabelSelector {
        match_labels: labels(&[("team", "x")]),
        ..Default::default()
    });
    let mut listed_namespaces = term(ZONE, &[("app", "db")]);
    listed_namespaces.namespaces = vec!["other".into()];
    let mut no_selector = term(ZONE, &[]);
    no_selector.label_selector = None;

    type Case = (&'static str, Pod, Vec<Arc<NodeInfo>>, Code, Vec<(Code, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "affinity to an existing pod's zone; a node without the zone label fails",
            affinity_to_db(web()),
            vec![
                node("n1", Some("a"), vec![db()]),
                node("n2", Some("a"), vec![]),
                node("n3", Some("b"), vec![web()]),
                node("n4", None, vec![]),
            ],
            Code::Success,
            vec![OK, OK, AFFINITY, AFFINITY],
        ),
        (
            "the first pod of a group may match its own affinity",
            affinity_to_db(db()),
            vec![
                node("n1", Some("a"), vec![web()]),
                node("n2", Some("b"), vec![]),
                node("n3", None, vec![]),
            ],
            Code::Success,
            vec![OK, OK, AFFINITY],
        ),
        (
            "once a pod of the group runs, the others must join its zone",
            affinity_to_db(db()),
            vec![node("n1", Some("a"), vec![db()]), node("n2", Some("b"), vec![])],
            Code::Success,
            vec![OK, AFFINITY],
        ),
        (
            "no pod matches and the pod does not match its own term",
            affinity_to_db(web()),
            vec![node("n1", Some("a"), vec![web()]), node("n2", Some("b"), vec![])],
            Code::Success,
            vec![AFFINITY, AFFINITY],
        ),
        (
            "affinity only counts pods in the term's namespaces (the pod's own by default)",
            affinity_to_db(web()),
            vec![
                node("n1", Some("a"), vec![pod_in("other", "db", &[("app", "db")])]),
                node("n2", Some("b"), vec![]),
            ],
            Code::Success,
            vec![AFFINITY, AFFINITY],
        ),
        (
            "a term's namespaces list replaces the pod's namespace",
            with(
                web(),
                Terms {
                    affinity: vec![listed_namespaces],
                    ..Default::default()
                },
            ),
            vec![
                node("n1", Some("a"), vec![pod_in("other", "db", &[("app", "db")])]),
                node("n2", Some("b"), vec![db()]),
            ],
            Code::Success,
            vec![OK, AFFINITY],
        ),
        (
            "a namespaceSelector with labels selects no namespace here",
            with(
                web(),
                Terms {
                    affinity: vec![labelled_namespaces],
                    ..Default::default()
                },
            ),
            vec![node("n1", Some("a"), vec![db()])],
            Code::Success,
            vec![AFFINITY],
        ),
        (
            "a term without labelSelector matches no pod, not even the pod itself",
            with(
                web(),
                Terms {
                    affinity: vec![no_selector],
                    ..Default::default()
                },
            ),
            vec![node("n1", Some("a"), vec![db(), web()])],
            Code::Success,
            vec![AFFINITY],
        ),
        (
            "anti-affinity on hostname keeps replicas on different nodes",
            anti_web_on_host(web()),
            vec![node("n1", Some("a"), vec![web()]), node("n2", Some("a"), vec![db()])],
            Code::Success,
            vec![ANTI, OK],
        ),
        (
            "an existing pod's anti-affinity rejects the incoming pod in its whole zone",
            web(),
            vec![
                node("n1", Some("a"), vec![anti_web_in_zone(db())]),
                node("n2", Some("a"), vec![]),
                node("n3", Some("b"), vec![]),
                node("n4", None, vec![]),
            ],
            Code::Success,
            vec![EXISTING, EXISTING, OK, OK],
        ),
        (
            "an existing pod's anti-affinity only sees its own namespace by default",
            web(),
            vec![node(
                "n1",
                Some("a"),
                vec![anti_web_in_zone(pod_in("other", "db", &[("app", "db")]))],
            )],
            Code::Skip,
            vec![OK],
        ),
        (
            "namespaceSelector {} selects every namespace",
            web(),
            vec![node(
                "n1",
                Some("a"),
                vec![with(
                    pod_in("other", "db", &[("app", "db")]),
                    Terms {
                        anti_affinity: vec![all_namespaces],
                        ..Default::default()
                    },
                )],
            )],
            Code::Success,
            vec![EXISTING],
        ),
        (
            "an affinity failure is reported before an anti-affinity one",
            with(
                web(),
                Terms {
                    affinity: vec![term(ZONE, &[("app", "db")])],
                    anti_affinity: vec![term(ZONE, &[("app", "web")])],
                    ..Default::default()
                },
            ),
            vec![
                node("n1", Some("a"), vec![db(), web()]),
                node("n2", Some("b"), vec![web()]),
            ],
            Code::Success,
            vec![ANTI, AFFINITY],
        ),
        (
            "nothing to check",
            web(),
            vec![node("n1", Some("a"), vec![db()])],
            Code::Skip,
            vec![OK],
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
    let status = InterPodAffinity.filter(&CycleState::default(), &pod("p", &[]), &node("n1", None, vec![]));
    assert_eq!(status.code, Code::Error);
}

#[test]
fn scores_follow_preferred_terms_of_both_sides() {
    let db = || pod("db", &[("app", "db")]);
    let cache = || pod("cache", &[("app", "cache")]);
    let web = || pod("web", &[("app", "web")]);
    let prefers = with(
        web(),
        Terms {
            preferred_affinity: vec![weighted(10, term(ZONE, &[("app", "db")]))],
            preferred_anti_affinity: vec![weighted(5, term(ZONE, &[("app", "cache")]))],
            ..Default::default()
        },
    );
    let wants_web = with(
        db(),
        Terms {
            affinity: vec![term(ZONE, &[("app", "web")])],
            preferred_affinity: vec![weighted(3, term(ZONE, &[("app", "web")]))],
            ..Default::default()
        },
    );
    let avoids_web = with(
        cache(),
        Terms {
            preferred_anti_affinity: vec![weighted(7, term(HOSTNAME, &[("app", "web")]))],
            ..Default::default()
        },
    );

    type Case = (&'static str, Pod, Vec<Arc<NodeInfo>>, Vec<i64>);
    let cases: Vec<Case> = vec![
        (
            // Raw scores 10, 10, -5, 0 (min -5, max 10): the zone of the db pod first, the
            // zone of the cache pod last, a node without zone in between (0 - -5) * 100 / 15.
            "the incoming pod's preferred affinity and anti-affinity",
            prefers.clone(),
            vec![
                node("n1", Some("a"), vec![db()]),
                node("n2", Some("a"), vec![]),
                node("n3", Some("b"), vec![cache()]),
                node("n4", None, vec![]),
            ],
            vec![100, 100, 0, 33],
        ),
        (
            // An existing pod's required affinity counts 1 (hardPodAffinityWeight) and its
            // preferred one 3 in its zone; another's preferred anti-affinity -7 on its host.
            "existing pods' terms that match the incoming pod",
            web(),
            vec![
                node("n1", Some("a"), vec![wants_web]),
                node("n2", Some("a"), vec![]),
                node("n3", Some("b"), vec![avoids_web]),
                node("n4", Some("b"), vec![]),
            ],
            vec![100, 100, 0, 63],
        ),
        (
            "preferred terms that match no pod leave every score 0",
            prefers.clone(),
            vec![node("n1", Some("a"), vec![web()])],
            vec![0],
        ),
        (
            "no terms at all",
            web(),
            vec![node("n1", Some("a"), vec![db()]), node("n2", Some("b"), vec![])],
            vec![0, 0],
        ),
    ];
    for (name, pod, nodes, expected) in cases {
        assert_eq!(scores(&pod, &nodes), expected, "{name}");
    }
}

#[test]
fn pre_score_skips_when_no_term_applies() {
    let mut state = CycleState::default();
    let nodes = vec![node("n1", Some("a"), vec![pod("db", &[("app", "db")])])];
    let status = InterPodAffinity.pre_score(&mut state, &pod("web", &[]), &nodes, &nodes);
    assert_eq!(status.code, Code::Skip);
    let status = InterPodAffinity.pre_score(&mut state, &pod("web", &[]), &[], &nodes);
    assert_eq!(status.code, Code::Skip);
}
