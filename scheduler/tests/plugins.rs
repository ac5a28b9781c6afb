//! Each default plugin, end to end: nodes and pods registered through the apiserver, the
//! scheduler running, and the pod's placement (or its Kubernetes message) checked.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Cluster;
use podium_proto::k8s::core::v1::{
    Affinity, Container, ContainerImage, ContainerPort, Node, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm,
    NodeSpec, NodeStatus, Pod, PodAffinity, PodAffinityTerm, PodSpec, PreferredSchedulingTerm, ResourceRequirements,
    Taint, TopologySpreadConstraint,
};
use podium_proto::k8s::meta::v1::{LabelSelector, ObjectMeta, Quantity};

fn node(name: &str, labels: &[(&str, &str)]) -> Node {
    let allocatable: BTreeMap<String, Quantity> = [
        ("cpu".to_owned(), Quantity::new("4")),
        ("memory".to_owned(), Quantity::new("16Gi")),
        ("pods".to_owned(), Quantity::new("110")),
    ]
    .into();
    let mut all_labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all_labels.insert("kubernetes.io/hostname".into(), name.into());
    Node {
        metadata: Some(ObjectMeta {
            name: name.into(),
            labels: all_labels,
            ..Default::default()
        }),
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            capacity: allocatable.clone(),
            allocatable,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
    Pod {
        metadata: Some(ObjectMeta {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: "busybox:1.36".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn on(mut p: Pod, node: &str) -> Pod {
    p.spec.as_mut().unwrap().node_name = node.into();
    p
}

fn cpu(mut p: Pod, amount: &str) -> Pod {
    let requests = [("cpu".to_owned(), Quantity::new(amount))].into();
    p.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        requests,
        ..Default::default()
    });
    p
}

fn selector(labels: &[(&str, &str)]) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    })
}

/// Where the scheduler puts `incoming` given `nodes` and already-running `existing` pods:
/// `Ok(node)` or `Err(the PodScheduled=False message)`.
async fn place(nodes: Vec<Node>, existing: Vec<Pod>, incoming: Pod) -> Result<String, String> {
    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    for n in nodes {
        client.resource::<Node>("").create(n).await.unwrap();
    }
    let pods = client.resource::<Pod>("default");
    for p in existing {
        pods.create(p).await.unwrap();
    }
    let stop = cluster.scheduler(|_| {});
    let name = incoming.metadata.as_ref().unwrap().name.clone();
    pods.create(incoming).await.unwrap();
    let mut outcome = Err("nothing happened".to_owned());
    for _ in 0..200 {
        let p = pods.get(&name).await.unwrap();
        let bound = p.spec.as_ref().map(|s| s.node_name.clone()).unwrap_or_default();
        if !bound.is_empty() {
            outcome = Ok(bound);
            break;
        }
        let failed = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.reason == "Unschedulable"));
        if let Some(c) = failed {
            outcome = Err(c.message.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    cluster.stop().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_unschedulable() {
    let mut cordoned = node("a", &[]);
    cordoned.spec.as_mut().unwrap().unschedulable = true;
    assert_eq!(
        place(vec![cordoned.clone(), node("b", &[])], vec![], pod("p", &[])).await,
        Ok("b".into())
    );
    assert_eq!(
        place(vec![cordoned], vec![], pod("p", &[])).await,
        Err("0/1 nodes are available: 1 node(s) were unschedulable.".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taint_toleration_prefers_untainted_nodes() {
    let mut tainted = node("a", &[]);
    tainted.spec.as_mut().unwrap().taints = vec![Taint {
        key: "noisy".into(),
        effect: "PreferNoSchedule".into(),
        ..Default::default()
    }];
    assert_eq!(
        place(vec![tainted, node("b", &[])], vec![], pod("p", &[])).await,
        Ok("b".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_affinity_preferred_terms() {
    let mut p = pod("p", &[]);
    p.spec.as_mut().unwrap().affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            preferred_during_scheduling_ignored_during_execution: vec![PreferredSchedulingTerm {
                weight: 50,
                preference: Some(NodeSelectorTerm {
                    match_expressions: vec![NodeSelectorRequirement {
                        key: "disk".into(),
                        operator: "In".into(),
                        values: vec!["ssd".into()],
                    }],
                    ..Default::default()
                }),
            }],
            ..Default::default()
        }),
        ..Default::default()
    });
    let nodes = vec![
        node("a", &[("disk", "hdd")]),
        node("b", &[("disk", "ssd")]),
        node("c", &[]),
    ];
    assert_eq!(place(nodes, vec![], p).await, Ok("b".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_ports_conflict() {
    let with_port = |name: &str| {
        let mut p = pod(name, &[]);
        p.spec.as_mut().unwrap().containers[0].ports = vec![ContainerPort {
            container_port: 80,
            host_port: 8080,
            protocol: "TCP".into(),
            ..Default::default()
        }];
        p
    };
    let existing = vec![on(with_port("web-1"), "a")];
    assert_eq!(
        place(
            vec![node("a", &[]), node("b", &[])],
            existing.clone(),
            with_port("web-2")
        )
        .await,
        Ok("b".into())
    );
    assert_eq!(
        place(vec![node("a", &[])], existing, with_port("web-2")).await,
        Err("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_allocated_prefers_the_emptier_node() {
    let existing = vec![cpu(on(pod("busy", &[]), "a"), "3")];
    assert_eq!(
        place(
            vec![node("a", &[]), node("b", &[])],
            existing,
            cpu(pod("p", &[]), "500m")
        )
        .await,
        Ok("b".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inter_pod_affinity_follows_the_target_zone() {
    let mut p = pod("p", &[]);
    p.spec.as_mut().unwrap().affinity = Some(Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                label_selector: selector(&[("app", "db")]),
                topology_key: "zone".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    });
    let nodes = vec![
        node("a", &[("zone", "east")]),
        node("b", &[("zone", "west")]),
        node("c", &[("zone", "west")]),
    ];
    let existing = vec![on(pod("db", &[("app", "db")]), "a")];
    assert_eq!(place(nodes.clone(), existing, p.clone()).await, Ok("a".into()));
    assert_eq!(
        place(nodes, vec![on(pod("other", &[("app", "web")]), "a")], p).await,
        Err("0/3 nodes are available: 3 node(s) didn't match pod affinity rules.".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_fills_the_emptier_zone() {
    let mut p = pod("p", &[("app", "web")]);
    p.spec.as_mut().unwrap().topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "zone".into(),
        when_unsatisfiable: "DoNotSchedule".into(),
        label_selector: selector(&[("app", "web")]),
        ..Default::default()
    }];
    let nodes = vec![node("a", &[("zone", "east")]), node("b", &[("zone", "west")])];
    let existing = vec![on(pod("web-1", &[("app", "web")]), "a")];
    assert_eq!(place(nodes, existing, p).await, Ok("b".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_locality_prefers_nodes_with_the_image() {
    let mut has_image = node("b", &[]);
    has_image.status.as_mut().unwrap().images = vec![ContainerImage {
        names: vec!["busybox:1.36".into()],
        size_bytes: 500 * 1024 * 1024,
    }];
    assert_eq!(
        place(vec![node("a", &[]), has_image, node("c", &[])], vec![], pod("p", &[])).await,
        Ok("b".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_affinity_namespace_selectors_match_namespace_labels() {
    use podium_proto::k8s::core::v1::{Namespace, PodAntiAffinity};

    let cluster = Cluster::start().await;
    let client = cluster.client.clone();
    for n in [node("a", &[]), node("b", &[])] {
        client.resource::<Node>("").create(n).await.unwrap();
    }
    let team = Namespace {
        metadata: Some(ObjectMeta {
            name: "team-a".into(),
            labels: [("team".to_owned(), "a".to_owned())].into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    client.resource::<Namespace>("").create(team).await.unwrap();
    client
        .resource::<Pod>("team-a")
        .create(on(pod("db", &[("app", "db")]), "a"))
        .await
        .unwrap();
    // Node b is the busier one: without the namespace selector the pod would prefer node a.
    client
        .resource::<Pod>("default")
        .create(cpu(on(pod("busy", &[]), "b"), "3"))
        .await
        .unwrap();
    let stop = cluster.scheduler(|_| {});
    // Away from db pods in any namespace labelled team=a: only node b qualifies.
    let mut p = pod("away", &[]);
    p.spec.as_mut().unwrap().affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                label_selector: selector(&[("app", "db")]),
                namespace_selector: selector(&[("team", "a")]),
                topology_key: "kubernetes.io/hostname".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    });
    let pods = client.resource::<Pod>("default");
    pods.create(p).await.unwrap();
    let mut bound = String::new();
    for _ in 0..200 {
        bound = pods.get("away").await.unwrap().spec.unwrap().node_name;
        if !bound.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bound, "b");
    stop.cancel();
    cluster.stop().await;
}
