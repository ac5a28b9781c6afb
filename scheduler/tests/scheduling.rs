//! The scheduler against an in-process apiserver with hand-registered nodes (no agents).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Cluster;
use podium_client::ListParams;
use podium_client::leader::LeaseTimings;
use podium_proto::k8s::core::v1::{
    Container, Event, Node, NodeSpec, NodeStatus, Pod, PodSpec, ResourceRequirements, Taint, Toleration,
};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta, Preconditions, Quantity};
use podium_proto::k8s::scheduling::v1::PriorityClass;

impl Cluster {
    async fn add_node(&self, name: &str, cpu: &str, labels: &[(&str, &str)], taints: Vec<Taint>) {
        let allocatable: BTreeMap<String, Quantity> = [
            ("cpu".to_owned(), Quantity::new(cpu)),
            ("memory".to_owned(), Quantity::new("8Gi")),
            ("pods".to_owned(), Quantity::new("110")),
        ]
        .into();
        let node = Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                taints,
                ..Default::default()
            }),
            status: Some(NodeStatus {
                capacity: allocatable.clone(),
                allocatable,
                ..Default::default()
            }),
            ..Default::default()
        };
        self.client.resource::<Node>("").create(node).await.unwrap();
    }

    async fn create(&self, pod: Pod) {
        self.client.resource::<Pod>("default").create(pod).await.unwrap();
    }

    async fn pod(&self, name: &str) -> Pod {
        self.client.resource::<Pod>("default").get(name).await.unwrap()
    }

    /// Waits until `check` holds for the pod.
    async fn wait_for(&self, name: &str, what: &str, check: impl Fn(&Pod) -> bool) -> Pod {
        for _ in 0..200 {
            if let Ok(Some(pod)) = self.client.resource::<Pod>("default").get_opt(name).await
                && check(&pod)
            {
                return pod;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pod {name}: {what} never happened: {:?}", self.pod(name).await.status);
    }

    async fn node_of(&self, name: &str) -> String {
        let pod = self.wait_for(name, "bound", |p| !node_name(p).is_empty()).await;
        node_name(&pod)
    }

    async fn events(&self, reason: &str) -> Vec<Event> {
        let list = self
            .client
            .resource::<Event>("default")
            .list(&ListParams::default())
            .await
            .unwrap();
        list.items.into_iter().filter(|e| e.reason == reason).collect()
    }
}

fn node_name(pod: &Pod) -> String {
    pod.spec.as_ref().map(|s| s.node_name.clone()).unwrap_or_default()
}

fn pod(name: &str, cpu: &str) -> Pod {
    let requests: BTreeMap<String, Quantity> = [("cpu".to_owned(), Quantity::new(cpu))].into();
    Pod {
        metadata: Some(ObjectMeta {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: "busybox:1.36".into(),
                resources: Some(ResourceRequirements {
                    requests,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn unschedulable_message(pod: &Pod) -> Option<String> {
    let conditions = &pod.status.as_ref()?.conditions;
    let c = conditions
        .iter()
        .find(|c| c.r#type == "PodScheduled" && c.status == "False")?;
    (c.reason == "Unschedulable").then(|| c.message.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_to_the_node_that_fits_and_records_it() {
    let cluster = Cluster::start().await;
    cluster.add_node("small", "1", &[("disk", "hdd")], vec![]).await;
    cluster.add_node("big", "4", &[("disk", "ssd")], vec![]).await;
    let stop = cluster.scheduler(|_| {});
    let mut wants_ssd = pod("ssd", "100m");
    wants_ssd.spec.as_mut().unwrap().node_selector = [("disk".to_owned(), "ssd".to_owned())].into();
    cluster.create(wants_ssd).await;
    assert_eq!(cluster.node_of("ssd").await, "big");
    cluster.create(pod("needs-2-cpus", "2")).await;
    assert_eq!(cluster.node_of("needs-2-cpus").await, "big", "only big has 2 CPUs free");
    let mut scheduled = Vec::new();
    for _ in 0..100 {
        scheduled = cluster.events("Scheduled").await;
        if scheduled.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        scheduled
            .iter()
            .any(|e| e.message == "Successfully assigned default/ssd to big"),
        "{scheduled:?}"
    );
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pods_say_why_and_are_retried_when_the_cluster_changes() {
    let cluster = Cluster::start().await;
    let gpu = Taint {
        key: "dedicated".into(),
        value: "gpu".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    cluster.add_node("gpu-1", "4", &[("zone", "a")], vec![gpu]).await;
    for name in ["n2", "n3", "n4"] {
        cluster.add_node(name, "4", &[("zone", "b")], vec![]).await;
    }
    let stop = cluster.scheduler(|_| {});
    let mut zone_a = pod("zone-a", "100m");
    zone_a.spec.as_mut().unwrap().node_selector = [("zone".to_owned(), "a".to_owned())].into();
    cluster.create(zone_a).await;
    let pending = cluster
        .wait_for("zone-a", "reported unschedulable", |p| {
            unschedulable_message(p).is_some()
        })
        .await;
    assert_eq!(
        unschedulable_message(&pending).unwrap(),
        "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 3 node(s) didn't match Pod's node affinity/selector."
    );
    assert!(!cluster.events("FailedScheduling").await.is_empty());

    // Tolerating the taint is a pod update: the pod is tried again and fits.
    let mut current = cluster.pod("zone-a").await;
    current.spec.as_mut().unwrap().tolerations.push(Toleration {
        key: "dedicated".into(),
        operator: "Equal".into(),
        value: "gpu".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    });
    cluster.client.resource::<Pod>("default").update(current).await.unwrap();
    assert_eq!(cluster.node_of("zone-a").await, "gpu-1");

    // A pod too big for every node waits until a node that fits is added.
    cluster.create(pod("huge", "16")).await;
    let pending = cluster
        .wait_for("huge", "reported unschedulable", |p| unschedulable_message(p).is_some())
        .await;
    assert!(unschedulable_message(&pending).unwrap().contains("Insufficient cpu"));
    cluster.add_node("giant", "32", &[], vec![]).await;
    assert_eq!(cluster.node_of("huge").await, "giant");
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freed_resources_let_a_waiting_pod_in() {
    let cluster = Cluster::start().await;
    cluster.add_node("only", "1", &[], vec![]).await;
    let stop = cluster.scheduler(|_| {});
    cluster.create(pod("first", "600m")).await;
    assert_eq!(cluster.node_of("first").await, "only");
    cluster.create(pod("second", "600m")).await;
    cluster
        .wait_for("second", "reported unschedulable", |p| {
            unschedulable_message(p).is_some()
        })
        .await;
    // The agent would confirm the deletion; do it by hand.
    let pods = cluster.client.resource::<Pod>("default");
    pods.delete(
        "first",
        DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(cluster.node_of("second").await, "only");
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_priority_pods_preempt_lower_priority_ones() {
    let cluster = Cluster::start().await;
    cluster.add_node("only", "1", &[], vec![]).await;
    let classes = cluster.client.resource::<PriorityClass>("");
    classes
        .create(PriorityClass {
            metadata: Some(ObjectMeta {
                name: "high".into(),
                ..Default::default()
            }),
            value: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let stop = cluster.scheduler(|_| {});
    cluster.create(pod("low", "800m")).await;
    assert_eq!(cluster.node_of("low").await, "only");
    let mut high = pod("high", "800m");
    high.spec.as_mut().unwrap().priority_class_name = "high".into();
    cluster.create(high).await;
    let nominated = cluster
        .wait_for("high", "nominated", |p| {
            p.status.as_ref().is_some_and(|s| s.nominated_node_name == "only")
        })
        .await;
    assert!(node_name(&nominated).is_empty());
    let victim = cluster
        .wait_for("low", "marked for deletion", |p| {
            p.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_some())
        })
        .await;
    // Play the agent: confirm the victim's graceful deletion.
    let uid = victim.metadata.unwrap().uid;
    let confirm = DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid),
            ..Default::default()
        }),
        ..Default::default()
    };
    cluster
        .client
        .resource::<Pod>("default")
        .delete("low", confirm)
        .await
        .unwrap();
    assert_eq!(cluster.node_of("high").await, "only");
    assert!(!cluster.events("Preempted").await.is_empty());
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_pods_for_this_scheduler_are_scheduled() {
    let cluster = Cluster::start().await;
    cluster.add_node("n1", "4", &[], vec![]).await;
    let stop = cluster.scheduler(|_| {});
    let mut other = pod("other", "100m");
    other.spec.as_mut().unwrap().scheduler_name = "someone-else".into();
    cluster.create(other).await;
    cluster.create(pod("ours", "100m")).await;
    assert_eq!(cluster.node_of("ours").await, "n1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(node_name(&cluster.pod("other").await).is_empty());
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_scheduler_takes_over_when_the_leader_stops() {
    let cluster = Cluster::start().await;
    cluster.add_node("n1", "4", &[], vec![]).await;
    let timings = LeaseTimings {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    let first = {
        let timings = timings.clone();
        cluster.scheduler(move |c| {
            c.leader_elect = true;
            c.identity = "first".into();
            c.lease_timings = timings;
        })
    };
    cluster.create(pod("a", "100m")).await;
    assert_eq!(cluster.node_of("a").await, "n1");
    let second = cluster.scheduler(move |c| {
        c.leader_elect = true;
        c.identity = "second".into();
        c.lease_timings = timings;
    });
    first.cancel();
    cluster.create(pod("b", "100m")).await;
    assert_eq!(cluster.node_of("b").await, "n1", "the standby took over");
    let lease = cluster
        .client
        .resource::<podium_proto::k8s::coordination::v1::Lease>("kube-system")
        .get("kube-scheduler")
        .await
        .unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("second"));
    second.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_one_event_with_a_count() {
    let cluster = Cluster::start().await;
    cluster.add_node("tiny", "1", &[], vec![]).await;
    let stop = cluster.scheduler(|_| {});
    cluster.create(pod("too-big", "8")).await;
    // Each node change retries the pod, and each failure repeats the same event.
    let nodes = cluster.client.resource::<Node>("");
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let mut node = nodes.get("tiny").await.unwrap();
        node.metadata
            .as_mut()
            .unwrap()
            .labels
            .insert("touched".into(), i.to_string());
        nodes.update(node).await.unwrap();
    }
    let mut events = Vec::new();
    for _ in 0..100 {
        events = cluster.events("FailedScheduling").await;
        if events.iter().any(|e| e.count > 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(events.iter().any(|e| e.count > 1), "{events:?}");
    let distinct: std::collections::BTreeSet<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(distinct.len(), events.len(), "one Event per distinct message");
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_affinity_spreads_replicas_over_nodes() {
    use podium_proto::k8s::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity};
    use podium_proto::k8s::meta::v1::LabelSelector;

    let cluster = Cluster::start().await;
    for name in ["n1", "n2", "n3"] {
        cluster
            .add_node(name, "4", &[("kubernetes.io/hostname", name)], vec![])
            .await;
    }
    let stop = cluster.scheduler(|_| {});
    let replica = |name: &str| {
        let mut p = pod(name, "100m");
        p.metadata.as_mut().unwrap().labels = [("app".to_owned(), "web".to_owned())].into();
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: vec![PodAffinityTerm {
                    label_selector: Some(LabelSelector {
                        match_labels: [("app".to_owned(), "web".to_owned())].into(),
                        ..Default::default()
                    }),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    };
    let mut nodes = Vec::new();
    for name in ["web-1", "web-2", "web-3"] {
        cluster.create(replica(name)).await;
        nodes.push(cluster.node_of(name).await);
    }
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
    cluster.create(replica("web-4")).await;
    let pending = cluster
        .wait_for("web-4", "reported unschedulable", |p| {
            unschedulable_message(p).is_some()
        })
        .await;
    assert_eq!(
        unschedulable_message(&pending).unwrap(),
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    );
    stop.cancel();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_carries_on_across_an_apiserver_restart() {
    let cluster = Cluster::start().await;
    cluster.add_node("n1", "4", &[], vec![]).await;
    let stop = cluster.scheduler(|_| {});
    cluster.create(pod("before", "100m")).await;
    assert_eq!(cluster.node_of("before").await, "n1");
    let cluster = cluster.restart().await;
    cluster.create(pod("after", "100m")).await;
    assert_eq!(
        cluster.node_of("after").await,
        "n1",
        "the scheduler reconnected and carried on"
    );
    stop.cancel();
    cluster.stop().await;
}
