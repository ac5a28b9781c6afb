//! host-gw routing between hosts, with network namespaces standing in for two hosts on one
//! link (10.250.0.0/24) and one pod on each (a namespace behind a veth: 10.251.1.0/24 on
//! host a, 10.251.2.0/24 on host b), and an in-process apiserver holding their Nodes. The
//! agents' `HostGw` with `LinuxHost` in each host namespace must make the pods reach each
//! other, follow Nodes that come and go, and touch nothing it did not make. Needs root,
//! iproute2, iptables and busybox (bash .ci/run installs them).

use std::process::Command;
use std::time::{Duration, Instant};

use podium_agent::network::{HostGw, LinuxHost};
use podium_apiserver::{Config, start};
use podium_client::Client;
use podium_proto::k8s::core::v1::{Node, NodeAddress, NodeSpec, NodeStatus};
use podium_proto::k8s::meta::v1::ObjectMeta;
use tokio_util::sync::CancellationToken;

fn sh(args: &[&str]) -> std::process::Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap()
}

fn sh_ok(args: &[&str]) -> String {
    let out = sh(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two hosts and their pods; the namespaces go when dropped.
struct Hosts {
    names: Vec<String>,
}

impl Hosts {
    fn new() -> Self {
        let id = std::process::id();
        let hosts = Hosts {
            names: ["ha", "hb", "pa", "pb"]
                .iter()
                .map(|n| format!("podium-gw-{n}-{id}"))
                .collect(),
        };
        for ns in &hosts.names {
            sh_ok(&["ip", "netns", "add", ns]);
            sh_ok(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let (ha, hb) = (hosts.host(0), hosts.host(1));
        sh_ok(&[
            "ip", "link", "add", "eth1", "netns", ha, "type", "veth", "peer", "name", "eth1", "netns", hb,
        ]);
        for (host, address) in [(ha, "10.250.0.1/24"), (hb, "10.250.0.2/24")] {
            sh_ok(&["ip", "-n", host, "addr", "add", address, "dev", "eth1"]);
            sh_ok(&["ip", "-n", host, "link", "set", "eth1", "up"]);
        }
        for (host, pod, subnet) in [(ha, hosts.host(2), "10.251.1"), (hb, hosts.host(3), "10.251.2")] {
            sh_ok(&[
                "ip", "link", "add", "pods", "netns", host, "type", "veth", "peer", "name", "eth0", "netns", pod,
            ]);
            sh_ok(&[
                "ip",
                "-n",
                host,
                "addr",
                "add",
                &format!("{subnet}.1/24"),
                "dev",
                "pods",
            ]);
            sh_ok(&["ip", "-n", host, "link", "set", "pods", "up"]);
            sh_ok(&["ip", "-n", pod, "addr", "add", &format!("{subnet}.2/24"), "dev", "eth0"]);
            sh_ok(&["ip", "-n", pod, "link", "set", "eth0", "up"]);
            sh_ok(&[
                "ip",
                "-n",
                pod,
                "route",
                "add",
                "default",
                "via",
                &format!("{subnet}.1"),
            ]);
        }
        hosts
    }

    fn host(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Whether a ping from pod a reaches `ip`.
    fn ping_from_pod_a(&self, ip: &str) -> bool {
        sh(&["ip", "netns", "exec", self.host(2), "busybox", "ping", "-c1", "-W1", ip])
            .status
            .success()
    }

    /// Host a's routes made by the agent.
    fn routes_on_a(&self) -> String {
        sh_ok(&["ip", "-n", self.host(0), "-4", "route", "show", "proto", "200"])
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
    }
}

async fn node(client: &Client, name: &str, pod_cidr: &str, ip: &str) {
    let nodes = client.resource::<Node>("");
    let mut node = nodes
        .create(Node {
            metadata: Some(ObjectMeta {
                name: name.into(),
                ..Default::default()
            }),
            spec: Some(NodeSpec {
                pod_cidr: pod_cidr.into(),
                pod_cidrs: vec![pod_cidr.into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    node.status = Some(NodeStatus {
        addresses: vec![NodeAddress {
            r#type: "InternalIP".into(),
            address: ip.into(),
        }],
        ..Default::default()
    });
    nodes.update_status(node).await.unwrap();
}

async fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "waited 20 s for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pods_on_two_hosts_reach_each_other_through_host_gw_routes() {
    let hosts = Hosts::new();
    // Someone else's route on host a, which the agent must leave alone.
    sh_ok(&[
        "ip",
        "-n",
        hosts.host(0),
        "route",
        "add",
        "10.252.0.0/24",
        "via",
        "10.250.0.2",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let server = start(
        Config::new("127.0.0.1:0".parse().unwrap(), dir.path().to_owned()),
        stop.clone(),
    )
    .await
    .unwrap();
    let client = Client::new(&format!("http://{}", server.local_addr)).unwrap();
    node(&client, "a", "10.251.1.0/24", "10.250.0.1").await;
    node(&client, "b", "10.251.2.0/24", "10.250.0.2").await;
    assert!(!hosts.ping_from_pod_a("10.251.2.2"), "no route yet");

    for (name, host) in [("a", hosts.host(0)), ("b", hosts.host(1))] {
        let gw = HostGw::new(client.clone(), name, LinuxHost::in_netns(host));
        tokio::spawn(gw.run(stop.clone()));
    }
    wait("pod a to reach pod b", || hosts.ping_from_pod_a("10.251.2.2")).await;
    assert_eq!(hosts.routes_on_a().trim(), "10.251.2.0/24 via 10.250.0.2 dev eth1");
    let nat = sh_ok(&[
        "ip",
        "netns",
        "exec",
        hosts.host(0),
        "iptables",
        "-t",
        "nat",
        "-S",
        "PODIUM-POSTROUTING",
    ]);
    assert!(
        nat.contains("-A PODIUM-POSTROUTING -s 10.251.1.0/24 -d 10.251.2.0/24 -j ACCEPT"),
        "{nat}"
    );
    let forward = sh_ok(&["ip", "netns", "exec", hosts.host(0), "iptables", "-S", "FORWARD"]);
    assert!(forward.contains("-A FORWARD -j PODIUM-FORWARD"), "{forward}");

    // A third node comes, and goes.
    node(&client, "c", "10.251.3.0/24", "10.250.0.3").await;
    wait("a route to node c's pods", || {
        hosts.routes_on_a().contains("10.251.3.0/24 via 10.250.0.3")
    })
    .await;
    client
        .resource::<Node>("")
        .delete("c", Default::default())
        .await
        .unwrap();
    wait("node c's route removed", || {
        !hosts.routes_on_a().contains("10.251.3.0/24")
    })
    .await;
    assert!(hosts.ping_from_pod_a("10.251.2.2"));
    let all = sh_ok(&["ip", "-n", hosts.host(0), "route", "show"]);
    assert!(all.contains("10.252.0.0/24 via 10.250.0.2"), "{all}");
    stop.cancel();
}
