//! The controllers against an in-process apiserver, on short timings: a silent node goes
//! Unknown, is tainted and its pods marked not ready; pods are evicted per their tolerations;
//! pods on missing nodes and surplus terminated pods are collected; nodes get distinct pod
//! CIDRs; a node that speaks again loses its taints.

use std::time::Duration;

use podium_apiserver::{Config as ServerConfig, RunningServer, start};
use podium_client::Client;
use podium_controllers::pod_cidr::Cidr;
use podium_controllers::{Config, run};
use podium_proto::k8s::coordination::v1::{Lease, LeaseSpec};
use podium_proto::k8s::core::v1::{
    Container, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodCondition, PodSpec, PodStatus, Taint, Toleration,
};
use podium_proto::k8s::meta::v1::ObjectMeta;
use tokio_util::sync::CancellationToken;

fn meta(name: &str, namespace: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        name: name.into(),
        namespace: namespace.into(),
        ..Default::default()
    })
}

async fn ready_node(client: &Client, name: &str, taints: Vec<Taint>) {
    let nodes = client.resource::<Node>("");
    let node = nodes
        .create(Node {
            metadata: meta(name, ""),
            spec: Some(NodeSpec {
                taints,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    set_ready(client, node).await;
    renew(client, name).await;
}

async fn set_ready(client: &Client, mut node: Node) {
    node.status = Some(NodeStatus {
        conditions: vec![NodeCondition {
            r#type: "Ready".into(),
            status: "True".into(),
            reason: "KubeletReady".into(),
            last_heartbeat_time: Some(podium_proto::now()),
            ..Default::default()
        }],
        ..Default::default()
    });
    client.resource::<Node>("").update_status(node).await.unwrap();
}

async fn renew(client: &Client, node: &str) {
    let leases = client.resource::<Lease>("kube-node-lease");
    let spec = Some(LeaseSpec {
        holder_identity: Some(node.into()),
        lease_duration_seconds: Some(40),
        renew_time: Some(podium_proto::now_micro()),
        ..Default::default()
    });
    match leases.get_opt(node).await.unwrap() {
        Some(mut lease) => {
            lease.spec = spec;
            leases.update(lease).await.unwrap();
        }
        None => {
            leases
                .create(Lease {
                    metadata: meta(node, "kube-node-lease"),
                    spec,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    }
}

async fn pod_on(client: &Client, name: &str, node: &str, tolerations: Vec<Toleration>) {
    let pods = client.resource::<Pod>("default");
    let pod = pods
        .create(Pod {
            metadata: meta(name, "default"),
            spec: Some(PodSpec {
                node_name: node.into(),
                tolerations,
                containers: vec![Container {
                    name: "app".into(),
                    image: "busybox:1".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut pod = pod;
    pod.status = Some(PodStatus {
        phase: "Running".into(),
        conditions: vec![PodCondition {
            r#type: "Ready".into(),
            status: "True".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    pods.update_status(pod).await.unwrap();
}

/// Whether pod `name` exists with a deletionTimestamp.
async fn being_deleted(pods: &podium_client::Objects<Pod>, name: &str) -> bool {
    pods.get_opt(name)
        .await
        .unwrap()
        .is_some_and(|p| p.metadata.is_some_and(|m| m.deletion_timestamp.is_some()))
}

/// This process's metrics, as `/metrics` would serve them.
fn scrape() -> std::collections::BTreeMap<String, f64> {
    podium_telemetry::metrics::parse_text(&podium_telemetry::metrics::render()).unwrap()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An in-process apiserver and a client of it.
async fn apiserver() -> (tempfile::TempDir, CancellationToken, RunningServer, Client) {
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let server = start(
        ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data")),
        stop.clone(),
    )
    .await
    .unwrap();
    let client = Client::new(&format!("http://{}", server.local_addr)).unwrap();
    (dir, stop, server, client)
}

fn unreachable_toleration(seconds: Option<i64>) -> Toleration {
    Toleration {
        key: "node.kubernetes.io/unreachable".into(),
        operator: "Exists".into(),
        effect: "NoExecute".into(),
        toleration_seconds: seconds,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_nodes_are_tainted_and_their_pods_evicted_per_toleration() {
    let (_dir, stop, server, client) = apiserver().await;
    ready_node(&client, "alive", vec![]).await;
    ready_node(&client, "silent", vec![]).await;
    pod_on(&client, "quick", "silent", vec![unreachable_toleration(Some(2))]).await;
    pod_on(&client, "patient", "silent", vec![unreachable_toleration(None)]).await;
    pod_on(&client, "safe", "alive", vec![]).await;
    let controllers = CancellationToken::new();
    let config = Config {
        period: Duration::from_millis(200),
        node_monitor_grace: Duration::from_secs(2),
        cluster_cidr: Some(Cidr::parse("10.244.0.0/16").unwrap()),
        ..Default::default()
    };
    tokio::spawn(run(client.clone(), config, controllers.clone()));
    // Keep "alive" renewing.
    let renewer = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                renew(&client, "alive").await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let nodes = client.resource::<Node>("");
    let pods = client.resource::<Pod>("default");
    let taint_keys = |n: &Node| -> Vec<(String, String)> {
        n.spec
            .as_ref()
            .map(|s| s.taints.iter().map(|t| (t.key.clone(), t.effect.clone())).collect())
            .unwrap_or_default()
    };
    wait_for(
        "the silent node to be Unknown and tainted",
        Duration::from_secs(10),
        || async {
            let n = nodes.get("silent").await.unwrap();
            let ready = n
                .status
                .as_ref()
                .unwrap()
                .conditions
                .iter()
                .find(|c| c.r#type == "Ready")
                .cloned();
            ready.is_some_and(|r| r.status == "Unknown" && r.message == "Kubelet stopped posting node status.")
                && taint_keys(&n).len() == 2
        },
    )
    .await;
    assert!(
        taint_keys(&nodes.get("silent").await.unwrap())
            .contains(&("node.kubernetes.io/unreachable".to_owned(), "NoExecute".to_owned()))
    );
    assert!(taint_keys(&nodes.get("alive").await.unwrap()).is_empty());
    // Its pods are marked not ready.
    let ready_of = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.r#type == "Ready"))
            .map(|c| c.status.clone())
    };
    wait_for(
        "the silent node's pods to be not ready",
        Duration::from_secs(5),
        || async { ready_of(&pods.get("patient").await.unwrap()).as_deref() == Some("False") },
    )
    .await;
    // "quick" tolerates the taint for 2 s, then is evicted (graceful deletion: no agent confirms it).
    wait_for("quick to be evicted", Duration::from_secs(10), || async {
        being_deleted(&pods, "quick").await
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!being_deleted(&pods, "patient").await);
    assert!(!being_deleted(&pods, "safe").await);
    // A node with a taint no pod tolerates: its pod goes at once.
    ready_node(
        &client,
        "dedicated",
        vec![Taint {
            key: "dedicated".into(),
            value: "db".into(),
            effect: "NoExecute".into(),
            time_added: Some(podium_proto::now()),
        }],
    )
    .await;
    pod_on(&client, "intruder", "dedicated", vec![]).await;
    wait_for("intruder to be evicted", Duration::from_secs(5), || async {
        being_deleted(&pods, "intruder").await
    })
    .await;
    // The silent node speaks again: Ready, untainted.
    renew(&client, "silent").await;
    set_ready(&client, nodes.get("silent").await.unwrap()).await;
    let renew_silent = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                renew(&client, "silent").await;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    wait_for("the node's taints to go", Duration::from_secs(5), || async {
        taint_keys(&nodes.get("silent").await.unwrap()).is_empty()
    })
    .await;
    // Every node has its own pod CIDR.
    let all_cidrs = || async {
        nodes
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|n| n.spec.as_ref().unwrap().pod_cidr.clone())
            .collect::<Vec<String>>()
    };
    wait_for("pod CIDRs", Duration::from_secs(5), || async {
        all_cidrs().await.iter().all(|c| !c.is_empty())
    })
    .await;
    let mut cidrs = all_cidrs().await;
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 3, "{cidrs:?}");
    assert!(cidrs.iter().all(|c| c.starts_with("10.244.") && c.ends_with(".0/24")));
    // What /metrics says: the evictions ("quick" and "intruder") and the zone's nodes.
    let metrics = scrape();
    assert!(
        metrics[r#"node_collector_evictions_total{zone=""}"#] >= 2.0,
        "{metrics:?}"
    );
    assert_eq!(metrics[r#"node_collector_zone_size{zone=""}"#], 3.0);
    assert!(metrics.contains_key(r#"node_collector_unhealthy_nodes_in_zone{zone=""}"#));
    renewer.abort();
    renew_silent.abort();
    controllers.cancel();
    stop.cancel();
    server.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_missing_nodes_and_surplus_terminated_pods_are_collected() {
    let (_dir, stop, server, client) = apiserver().await;
    ready_node(&client, "real", vec![]).await;
    pod_on(&client, "orphan", "ghost", vec![]).await;
    let pods = client.resource::<Pod>("default");
    for name in ["done-1", "done-2", "done-3"] {
        pod_on(&client, name, "real", vec![]).await;
        let mut pod = pods.get(name).await.unwrap();
        pod.status.as_mut().unwrap().phase = "Succeeded".into();
        pods.update_status(pod).await.unwrap();
        // Distinct creation times, oldest first.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let controllers = CancellationToken::new();
    let config = Config {
        period: Duration::from_millis(200),
        terminated_pod_gc_threshold: 1,
        ..Default::default()
    };
    tokio::spawn(run(client.clone(), config, controllers.clone()));
    wait_for("the orphan to be force-deleted", Duration::from_secs(5), || async {
        pods.get_opt("orphan").await.unwrap().is_none()
    })
    .await;
    wait_for(
        "the two oldest terminated pods to be deleted",
        Duration::from_secs(5),
        || async {
            let gone_or_going = |name: &'static str| {
                let pods = pods.clone();
                async move { pods.get_opt(name).await.unwrap().is_none() || being_deleted(&pods, name).await }
            };
            gone_or_going("done-1").await && gone_or_going("done-2").await
        },
    )
    .await;
    let newest = pods.get("done-3").await.unwrap();
    assert!(newest.metadata.unwrap().deletion_timestamp.is_none());
    let metrics = scrape();
    let deleted = |reason: &str| {
        metrics
            .get(&format!(
                r#"pod_gc_collector_force_delete_pods_total{{namespace="default",reason="{reason}"}}"#
            ))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(deleted("orphaned"), 1.0, "{metrics:?}");
    assert_eq!(deleted("terminated"), 2.0, "each deleted once: {metrics:?}");
    controllers.cancel();
    stop.cancel();
    server.wait().await.unwrap();
}
