//! The agent with `--host-gw` on the real Docker Engine: pods wait for the node's podCIDR,
//! then the pod network is made on that subnet and pods get addresses from it, and the host
//! lets traffic to and from them through. (Routes between hosts are proved with network
//! namespaces in agent/tests/host_gw.rs.)

use std::process::Command;
use std::time::Duration;

use podium_e2e::{Cluster, Options, docker, sleeper};

/// Removes the agent's packet-filter chains from this host when the test ends.
struct Chains;

impl Drop for Chains {
    fn drop(&mut self) {
        for (table, parent, chain) in [
            ("filter", "FORWARD", "PODIUM-FORWARD"),
            ("nat", "POSTROUTING", "PODIUM-POSTROUTING"),
        ] {
            for args in [vec!["-D", parent, "-j", chain], vec!["-F", chain], vec!["-X", chain]] {
                let _ = Command::new("iptables").args(["-w", "-t", table]).args(args).output();
            }
        }
    }
}

#[test]
fn pods_get_addresses_from_the_nodes_pod_cidr() {
    let _chains = Chains;
    let c = Cluster::start_with(
        "hostgw",
        Options {
            agent_args: vec!["--host-gw".into()],
            ..Options::default()
        },
    );
    c.apply(&sleeper("web"));
    // Bound, but nothing runs before the node has a podCIDR.
    c.wait_pod("web", "bound", Duration::from_secs(30), |p| {
        p["spec"]["nodeName"].is_string()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        c.containers().is_empty(),
        "containers before the podCIDR: {:?}",
        c.containers()
    );
    assert!(c.pod("web")["status"]["podIP"].is_null());

    // What the controller-manager does from its --cluster-cidr.
    let prefix = format!("10.214.{}", std::process::id() % 250);
    let subnet = format!("{prefix}.0/24");
    c.kubectl_ok(&[
        "patch",
        "node",
        &c.node,
        "--type",
        "merge",
        "-p",
        &format!(r#"{{"spec":{{"podCIDR":"{subnet}","podCIDRs":["{subnet}"]}}}}"#),
    ]);
    let pod = c.wait_phase("web", "Running", Duration::from_secs(60));
    let ip = pod["status"]["podIP"].as_str().unwrap_or_default();
    assert!(ip.starts_with(&format!("{prefix}.")), "pod IP {ip} outside {subnet}");
    let network_subnet = docker(&[
        "network",
        "inspect",
        &c.network,
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ]);
    assert_eq!(network_subnet.trim(), subnet);
    let forward = Command::new("iptables")
        .args(["-w", "-S", "PODIUM-FORWARD"])
        .output()
        .unwrap();
    let forward = String::from_utf8_lossy(&forward.stdout);
    assert!(
        forward.contains(&format!("-A PODIUM-FORWARD -d {subnet} -j ACCEPT")),
        "{forward}"
    );
}
