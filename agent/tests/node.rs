//! The agent's Node and Lease against an in-process apiserver (with the fake runtime).

use std::sync::Arc;

use podium_agent::node::{AGENT_VERSION, LEASE_DURATION_SECONDS, LEASE_NAMESPACE, NodeAgent, NodeConfig, parse_taints};
use podium_agent::runtime::{FakeRuntime, Image};
use podium_apiserver::{Config, RunningServer, start};
use podium_client::Client;
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::Node;
use tokio_util::sync::CancellationToken;

async fn server(dir: &std::path::Path) -> (RunningServer, CancellationToken, Client) {
    let stop = CancellationToken::new();
    let server = start(
        Config::new("127.0.0.1:0".parse().unwrap(), dir.to_owned()),
        stop.clone(),
    )
    .await
    .unwrap();
    let client = Client::new(&format!("http://{}", server.local_addr)).unwrap();
    (server, stop, client)
}

fn config(dir: &std::path::Path) -> NodeConfig {
    NodeConfig {
        name: "node-1".into(),
        labels: [("zone".to_owned(), "a".to_owned())].into(),
        taints: parse_taints("dedicated=gpu:NoSchedule").unwrap(),
        max_pods: 110,
        root_dir: dir.to_owned(),
        port: 10250,
        node_ip: Some("10.1.2.3".parse().unwrap()),
    }
}

#[tokio::test]
async fn registration_reports_what_the_node_is() {
    let dir = tempfile::tempdir().unwrap();
    let (server, stop, client) = server(dir.path()).await;
    let runtime = Arc::new(FakeRuntime::with_images(vec![Image {
        names: vec!["busybox:1.36".into()],
        size_bytes: 4_000_000,
    }]));
    let agent = NodeAgent::new(client.clone(), runtime, config(dir.path()));
    agent.register().await.unwrap();

    let node = client.resource::<Node>("").get("node-1").await.unwrap();
    let labels = &node.metadata.as_ref().unwrap().labels;
    assert_eq!(labels["kubernetes.io/hostname"], "node-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels.contains_key("kubernetes.io/arch"));
    assert_eq!(labels["zone"], "a");
    let taints = &node.spec.as_ref().unwrap().taints;
    assert_eq!(
        (taints[0].key.as_str(), taints[0].effect.as_str()),
        ("dedicated", "NoSchedule")
    );
    let status = node.status.as_ref().unwrap();
    for resource in ["cpu", "memory", "pods", "ephemeral-storage"] {
        assert!(status.capacity.contains_key(resource), "capacity {resource}");
        assert!(status.allocatable.contains_key(resource), "allocatable {resource}");
    }
    assert_eq!(status.capacity["pods"].string, "110");
    let addresses: Vec<(&str, &str)> = status
        .addresses
        .iter()
        .map(|a| (a.r#type.as_str(), a.address.as_str()))
        .collect();
    assert_eq!(addresses, [("InternalIP", "10.1.2.3"), ("Hostname", "node-1")]);
    let info = status.node_info.as_ref().unwrap();
    assert_eq!(info.container_runtime_version, "fake://1.0.0");
    assert_eq!(info.kubelet_version, AGENT_VERSION);
    assert!(!info.kernel_version.is_empty());
    assert_eq!(
        status
            .daemon_endpoints
            .as_ref()
            .unwrap()
            .kubelet_endpoint
            .as_ref()
            .unwrap()
            .port,
        10250
    );
    assert_eq!(status.images[0].names, ["busybox:1.36"]);
    let ready = status.conditions.iter().find(|c| c.r#type == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("True", "KubeletReady"));
    for kind in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            status.conditions.iter().find(|c| c.r#type == kind).unwrap().status,
            "False",
            "{kind}"
        );
    }

    // A restarted agent finds its Node and keeps the taints users changed.
    let mut edited = node.clone();
    edited.spec.as_mut().unwrap().taints.clear();
    client.resource::<Node>("").update(edited).await.unwrap();
    let again = NodeAgent::new(client.clone(), Arc::new(FakeRuntime::default()), config(dir.path()));
    again.register().await.unwrap();
    let node = client.resource::<Node>("").get("node-1").await.unwrap();
    assert!(node.spec.unwrap().taints.is_empty());
    stop.cancel();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn status_is_written_on_change_or_as_a_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let (server, stop, client) = server(dir.path()).await;
    let runtime = Arc::new(FakeRuntime::default());
    let agent = NodeAgent::new(client.clone(), runtime.clone(), config(dir.path()));
    agent.register().await.unwrap();
    let rv = |n: Node| n.metadata.unwrap().resource_version;
    let before = rv(client.resource::<Node>("").get("node-1").await.unwrap());
    assert!(
        !agent.sync_status(false).await.unwrap(),
        "nothing changed: nothing written"
    );
    assert_eq!(rv(client.resource::<Node>("").get("node-1").await.unwrap()), before);
    runtime.set_images(vec![Image {
        names: vec!["new:1".into()],
        size_bytes: 1,
    }]);
    assert!(agent.sync_status(false).await.unwrap(), "a new image is a change");
    assert!(agent.sync_status(true).await.unwrap(), "a heartbeat always writes");
    stop.cancel();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn the_lease_is_created_then_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, stop, client) = server(dir.path()).await;
    let agent = NodeAgent::new(client.clone(), Arc::new(FakeRuntime::default()), config(dir.path()));
    agent.register().await.unwrap();
    agent.renew_lease().await.unwrap();
    let leases = client.resource::<Lease>(LEASE_NAMESPACE);
    let first = leases.get("node-1").await.unwrap();
    let spec = first.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("node-1"));
    assert_eq!(spec.lease_duration_seconds, Some(LEASE_DURATION_SECONDS));
    let owner = &first.metadata.as_ref().unwrap().owner_references[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", "node-1"));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    agent.renew_lease().await.unwrap();
    let renewed = leases.get("node-1").await.unwrap();
    let micros = |l: &Lease| {
        let t = l.spec.as_ref().unwrap().renew_time.unwrap();
        t.seconds * 1_000_000 + i64::from(t.nanos / 1000)
    };
    assert!(micros(&renewed) > micros(&first));
    stop.cancel();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn a_failed_lease_renewal_is_retried_within_moments_of_the_apiservers_return() {
    use std::time::Duration;

    use podium_agent::node::LEASE_RENEW_INTERVAL;
    use podium_proto::k8s::meta::v1::MicroTime;

    let dir = tempfile::tempdir().unwrap();
    let (server, stop, client) = server(dir.path()).await;
    let addr = server.local_addr;
    let agent = Arc::new(NodeAgent::new(
        client.clone(),
        Arc::new(FakeRuntime::default()),
        config(dir.path()),
    ));
    let agent_stop = CancellationToken::new();
    tokio::spawn(agent.run(agent_stop.clone()));
    let leases = client.resource::<Lease>(LEASE_NAMESPACE);
    let renewed = |l: Lease| -> MicroTime { l.spec.unwrap().renew_time.unwrap() };
    let first = loop {
        if let Ok(Some(lease)) = leases.get_opt("node-1").await {
            break renewed(lease);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The apiserver is away when the next renewal is due, and back half a second later.
    stop.cancel();
    server.wait().await.unwrap();
    tokio::time::sleep(LEASE_RENEW_INTERVAL + Duration::from_millis(500)).await;
    let stop = CancellationToken::new();
    let server = start(Config::new(addr, dir.path().to_owned()), stop.clone())
        .await
        .unwrap();
    let back = tokio::time::Instant::now();
    loop {
        let lease = leases.get("node-1").await.unwrap();
        if renewed(lease) != first {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(4),
            "the lease was not renewed within 4 s of the apiserver's return"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent_stop.cancel();
    stop.cancel();
    server.wait().await.unwrap();
}
