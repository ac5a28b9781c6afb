//! The docker-compose cluster of the quick start (`deploy/up.sh`, from this build's debug
//! binaries): three Ready nodes, pods placed by nodeSelector on each, traffic from a pod on
//! node-1 to a pod on node-3 by pod IP (exec through the apiserver to agents in containers),
//! node-2's agent stopped and started again (Unknown, tainted, eviction after
//! tolerationSeconds, replacements elsewhere, recovery), and `deploy/down.sh` leaving no
//! Podium container, network or volume behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use podium_e2e::docker;

struct Compose {
    root: &'static Path,
    kubeconfig: std::path::PathBuf,
    port: u16,
}

impl Compose {
    fn up() -> Self {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let compose = Compose {
            root,
            kubeconfig: root.join("kubeconfig"),
            port,
        };
        let out = Command::new("bash")
            .arg(root.join("deploy/up.sh"))
            .env("PODIUM_PROFILE", "debug")
            .env("PODIUM_PORT", port.to_string())
            // Node failures show within seconds.
            .env("PODIUM_NODE_GRACE", "5")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "deploy/up.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        compose
    }

    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .unwrap()
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn compose(&self, args: &[&str]) {
        let out = Command::new("docker-compose")
            .current_dir(self.root)
            .args(["-p", "podium", "-f", "docker-compose.yml"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Polls `check` on `kubectl args` output every half second.
    fn wait(&self, what: &str, limit: Duration, args: &[&str], check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let out = String::from_utf8_lossy(&self.kubectl(args).stdout).into_owned();
            if check(&out) {
                return out;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {what}; last:\n{out}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn down(&self) {
        let _ = Command::new("bash").arg(self.root.join("deploy/down.sh")).output();
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        self.down();
    }
}

fn pod(name: &str, node: &str, script: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: podium/podium:dev
    command: [/bin/sh, -c, '{script}']
"
    )
}

#[test]
fn the_compose_cluster_runs_pods_on_three_nodes_and_goes_away_cleanly() {
    let c = Compose::up();
    assert_ne!(c.port, 0);
    let nodes = c.kubectl_ok(&["get", "nodes", "--no-headers"]);
    assert_eq!(nodes.lines().filter(|l| l.contains(" Ready ")).count(), 3, "{nodes}");
    let manifests = [
        pod(
            "server",
            "node-3",
            "echo pong > /tmp/index.html; /bin/busybox httpd -f -p 8080 -h /tmp",
        ),
        pod("idle-1", "node-1", "sleep 3600"),
        pod("idle-2", "node-2", "sleep 3600"),
    ]
    .join("---\n");
    let path = std::env::temp_dir().join(format!("podium-compose-{}.yaml", std::process::id()));
    std::fs::write(&path, manifests).unwrap();
    c.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let start = Instant::now();
    loop {
        let table = c.kubectl_ok(&["get", "pods", "-o", "wide", "--no-headers"]);
        let placed = [("server", "node-3"), ("idle-1", "node-1"), ("idle-2", "node-2")]
            .iter()
            .all(|(pod, node)| {
                table
                    .lines()
                    .any(|l| l.starts_with(pod) && l.contains("Running") && l.contains(node))
            });
        if placed {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "pods not placed:\n{table}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // From node-1's pod to node-3's, by pod IP.
    let ip = c.kubectl_ok(&["get", "pod", "server", "-o", "jsonpath={.status.podIP}"]);
    let start = Instant::now();
    loop {
        let out = c.kubectl(&[
            "exec",
            "idle-1",
            "--",
            "/bin/wget",
            "-qO-",
            &format!("http://{ip}:8080/index.html"),
        ]);
        if String::from_utf8_lossy(&out.stdout).contains("pong") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no answer from node-3's pod: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // node-2's agent stops: the node goes Unknown and is tainted, a pod tolerating that for
    // 3 s is evicted, and new pods go elsewhere; the agent comes back: Ready, untainted, and
    // the evicted pod's containers are cleaned up.
    let evictee = pod("evictee", "node-2", "sleep 3600").replace(
        "  terminationGracePeriodSeconds: 1\n",
        "  terminationGracePeriodSeconds: 1\n  tolerations:\n  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}\n",
    );
    let path = std::env::temp_dir().join(format!("podium-evictee-{}.yaml", std::process::id()));
    std::fs::write(&path, evictee).unwrap();
    c.kubectl_ok(&["apply", "-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    c.wait(
        "evictee Running",
        Duration::from_secs(60),
        &["get", "pod", "evictee", "--no-headers"],
        |t| t.contains("Running"),
    );
    c.compose(&["stop", "node-2"]);
    let ready = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
    c.wait(
        "node-2 Unknown",
        Duration::from_secs(60),
        &["get", "node", "node-2", "-o", ready],
        |s| s == "Unknown",
    );
    c.wait(
        "node-2 tainted",
        Duration::from_secs(30),
        &["get", "node", "node-2", "-o", "jsonpath={.spec.taints[*].key}"],
        |keys| keys.contains("node.kubernetes.io/unreachable"),
    );
    c.wait(
        "evictee evicted",
        Duration::from_secs(30),
        &["get", "pod", "evictee", "-o", "jsonpath={.metadata.deletionTimestamp}"],
        |t| !t.is_empty(),
    );
    for i in 0..3 {
        c.kubectl_ok(&[
            "run",
            &format!("fresh-{i}"),
            "--image",
            "podium/podium:dev",
            "--image-pull-policy",
            "IfNotPresent",
            "--",
            "/bin/sh",
            "-c",
            "sleep 3600",
        ]);
    }
    let placed = c.wait(
        "replacements placed",
        Duration::from_secs(60),
        &["get", "pods", "-o", "wide", "--no-headers"],
        |t| {
            t.lines()
                .filter(|l| l.starts_with("fresh-") && l.contains("Running"))
                .count()
                == 3
        },
    );
    assert!(
        placed
            .lines()
            .filter(|l| l.starts_with("fresh-"))
            .all(|l| !l.contains("node-2")),
        "{placed}"
    );
    c.compose(&["start", "node-2"]);
    c.wait(
        "node-2 Ready again",
        Duration::from_secs(60),
        &["get", "node", "node-2", "-o", ready],
        |s| s == "True",
    );
    c.wait(
        "node-2 untainted",
        Duration::from_secs(30),
        &["get", "node", "node-2", "-o", "jsonpath={.spec.taints[*].key}"],
        |keys| !keys.contains("node.kubernetes.io/"),
    );
    c.wait(
        "the evicted pod gone",
        Duration::from_secs(60),
        &["get", "pods", "--no-headers"],
        |t| !t.contains("evictee"),
    );
    c.down();
    for (what, listed) in [
        (
            "containers",
            docker(&["ps", "-aq", "--filter", "label=com.docker.compose.project=podium"]),
        ),
        (
            "pod containers",
            docker(&["ps", "-aq", "--filter", "label=io.podium.node=node-1"]),
        ),
        (
            "networks",
            docker(&["network", "ls", "-q", "--filter", "name=^podium(_control)?$"]),
        ),
        ("volumes", docker(&["volume", "ls", "-q", "--filter", "name=podium_"])),
    ] {
        assert!(listed.is_empty(), "{what} left behind: {listed}");
    }
}
