//! The docker-compose cluster of the quick start (`deploy/up.sh`, from this build's debug
//! binaries), driven through kubectl as a user would. One test, in steps, because every step
//! works on the one compose project `podium`:
//! - three Ready nodes run `examples/`: two containers talking over localhost, an init
//!   container's data served to the app, a pod made Ready by its probes, three pods spread
//!   over the three nodes by podAntiAffinity;
//! - pods placed by nodeSelector on each node, and traffic from node-1's pod to node-3's by
//!   pod IP (exec through the apiserver to agents in containers);
//! - the apiserver's container restarted: every pod and node kept with its UID and a
//!   resourceVersion that only grows, the nodes Ready throughout, and the scheduler (a new pod runs) and
//!   the agents (a deleted pod's containers go) carry on through their reconnected watches;
//! - node-2's agent stopped and started again (Unknown, tainted, eviction after
//!   tolerationSeconds, replacements elsewhere, recovery), which also shows that the
//!   controller-manager came through the apiserver's restart;
//! - a second scheduler: the leader named by the `kube-scheduler` Lease is killed and the
//!   standby takes the Lease over and schedules;
//! - `deploy/down.sh` leaving no Podium container, network or volume behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use podium_e2e::{docker, kubectl, kubectl_apply, kubectl_ok, pod_manifest};

/// Seconds a silent node goes unnoticed: beyond the agents' 10 s Lease renewal, so live nodes
/// never look silent, and short enough that a stopped node shows within seconds.
const NODE_GRACE: &str = "15";
/// The status of a node's Ready condition.
const READY: &str = "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
/// What a pod listing shows of each pod: name, phase and node.
const PLACEMENT: &str = "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName}{\"\\n\"}{end}";

/// The holder of the scheduler's leader Lease.
const SCHEDULER_LEADER: [&str; 7] = [
    "get",
    "lease",
    "-n",
    "kube-system",
    "kube-scheduler",
    "-o",
    "jsonpath={.spec.holderIdentity}",
];

/// Pods by name: (phase, node).
type Placement = BTreeMap<String, (String, String)>;

/// Calls `check` every half second until it gives a value; fails after `limit` with the
/// last thing `check` saw.
fn poll<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) => assert!(start.elapsed() < limit, "waited {limit:?} for {what}; last:\n{last}"),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs one step of the test and says how long it took (shown with `--no-capture`).
fn step(name: &str, run: impl FnOnce()) {
    let start = Instant::now();
    run();
    eprintln!("[compose] {name}: {:.1?}", start.elapsed());
}

struct Compose {
    root: &'static Path,
    kubeconfig: PathBuf,
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
        };
        let out = Command::new("bash")
            .arg(root.join("deploy/up.sh"))
            .env("PODIUM_PROFILE", "debug")
            .env("PODIUM_PORT", port.to_string())
            .env("PODIUM_NODE_GRACE", NODE_GRACE)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "deploy/up.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        compose
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        kubectl(&self.kubeconfig, args)
    }

    fn kubectl_ok(&self, args: &[&str]) -> String {
        kubectl_ok(&self.kubeconfig, args)
    }

    fn apply(&self, manifest: &str) {
        kubectl_apply(&self.kubeconfig, manifest);
    }

    /// Runs `docker-compose` on the `podium` project.
    fn compose_output(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .current_dir(self.root)
            .args(["-p", "podium", "-f", "docker-compose.yml"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `docker-compose` on the `podium` project, failing the test when it fails.
    fn compose(&self, args: &[&str]) {
        let out = self.compose_output(args);
        assert!(
            out.status.success(),
            "docker-compose {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Polls `check` on the output of `kubectl args` until kubectl succeeds and the check
    /// holds, and returns the output.
    fn wait(&self, what: &str, limit: Duration, args: &[&str], check: impl Fn(&str) -> bool) -> String {
        poll(what, limit, || {
            let out = self.kubectl(args);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            } else if check(&stdout) {
                Ok(stdout)
            } else {
                Err(stdout)
            }
        })
    }

    /// Where the pods `selector` names are (`-l key=value`, or nothing for all).
    fn placement(&self, selector: &[&str]) -> Placement {
        let mut args = vec!["get", "pods", "-o", PLACEMENT];
        args.extend(selector);
        self.kubectl_ok(&args)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace().map(str::to_owned);
                let name = fields.next()?;
                Some((
                    name,
                    (fields.next().unwrap_or_default(), fields.next().unwrap_or_default()),
                ))
            })
            .collect()
    }

    /// Waits until the placement of the pods `selector` names satisfies `check`.
    fn wait_placement(&self, what: &str, selector: &[&str], check: impl Fn(&Placement) -> bool) -> Placement {
        poll(what, Duration::from_secs(60), || {
            let pods = self.placement(selector);
            if check(&pods) {
                Ok(pods)
            } else {
                Err(format!("{pods:#?}"))
            }
        })
    }

    /// Waits until the pod runs.
    fn wait_running(&self, pod: &str) {
        self.wait_placement(&format!("{pod} Running"), &[], |pods| {
            pods.get(pod).is_some_and(|(phase, _)| phase == "Running")
        });
    }

    /// `kubectl run` of a pod that sleeps, placed by the scheduler.
    fn run_sleeper(&self, name: &str) {
        self.kubectl_ok(&[
            "run",
            name,
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

    /// Every pod and node as `Kind/name` → (UID, resourceVersion).
    fn objects(&self) -> BTreeMap<String, (String, u64)> {
        let jsonpath = "jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{\"\\n\"}{end}";
        self.kubectl_ok(&["get", "pods,nodes", "-o", jsonpath])
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let [key, uid, rv] = fields[..] else {
                    panic!("not `Kind/name uid resourceVersion`: {line:?}");
                };
                (key.to_owned(), (uid.to_owned(), rv.parse().unwrap()))
            })
            .collect()
    }

    fn wait_nodes_ready(&self) {
        self.wait(
            "three Ready nodes",
            Duration::from_secs(60),
            &[
                "get",
                "nodes",
                "-o",
                "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
            ],
            |s| s == "True True True",
        );
    }

    fn down(&self) {
        let _ = Command::new("bash").arg(self.root.join("deploy/down.sh")).output();
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the components said last, before they go.
            let logs = self.compose_output(&["logs", "--no-color", "--tail", "40"]);
            eprintln!("--- docker-compose logs ---\n{}", String::from_utf8_lossy(&logs.stdout));
        }
        self.down();
    }
}

fn pod(name: &str, node: &str, script: &str) -> String {
    let selector = format!("  nodeSelector: {{kubernetes.io/hostname: {node}}}\n");
    pod_manifest(name, "podium/podium:dev", &selector, script)
}

/// The Docker IDs of a compose service's running containers.
fn service_containers(service: &str) -> Vec<String> {
    docker(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.compose.project=podium",
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ])
    .lines()
    .map(str::to_owned)
    .collect()
}

/// The host part of a leader identity (`<hostname>_<uuid>`): a container's short ID.
fn identity_host(identity: &str) -> &str {
    identity.rsplit_once('_').map_or("", |(host, _)| host)
}

/// `kubectl apply -f examples/`: every example does what its comment says.
fn examples_run(c: &Compose) {
    c.kubectl_ok(&["apply", "-f", c.root.join("examples").to_str().unwrap()]);
    let limit = Duration::from_secs(60);
    c.wait(
        "the fetcher to get the server's page over localhost",
        limit,
        &["logs", "localhost-pair", "-c", "fetcher"],
        |logs| logs.contains("hello from the server container"),
    );
    c.wait(
        "the app to print what its init container wrote",
        limit,
        &["logs", "init-demo", "-c", "app"],
        |logs| logs.contains("written by the init container"),
    );
    let init = c.kubectl_ok(&[
        "get",
        "pod",
        "init-demo",
        "-o",
        "jsonpath={.status.initContainerStatuses[0].state.terminated.exitCode} \
         {.status.initContainerStatuses[0].state.terminated.finishedAt} \
         {.status.containerStatuses[0].state.running.startedAt}",
    ]);
    // RFC 3339 times of one format compare as text.
    let fields: Vec<&str> = init.split_whitespace().collect();
    assert!(
        matches!(fields[..], ["0", finished, started] if finished <= started),
        "the init container succeeded before the app started: {init}"
    );
    c.wait(
        "probes-demo Running and Ready (1/1)",
        limit,
        &["get", "pod", "probes-demo", "--no-headers"],
        |row| row.split_whitespace().take(3).eq(["probes-demo", "1/1", "Running"]),
    );
    c.wait_placement(
        "the spread pods Running on three nodes",
        &["-l", "app=spread"],
        |pods| {
            let nodes: BTreeSet<&String> = pods.values().map(|(_, node)| node).collect();
            pods.len() == 3 && nodes.len() == 3 && pods.values().all(|(phase, _)| phase == "Running")
        },
    );
}

/// Pods placed on each node by nodeSelector; node-1's pod reaches node-3's by pod IP.
fn pods_reach_each_other_across_nodes(c: &Compose) {
    let manifests = [
        pod(
            "server",
            "node-3",
            "echo pong > /tmp/index.html; /bin/busybox httpd -f -p 8080 -h /tmp",
        ),
        pod("idle-1", "node-1", "sleep 3600"),
        pod("idle-2", "node-2", "sleep 3600"),
    ];
    c.apply(&manifests.join("---\n"));
    let wanted = [("server", "node-3"), ("idle-1", "node-1"), ("idle-2", "node-2")];
    c.wait_placement("the pods on their nodes", &[], |pods| {
        wanted.iter().all(|(pod, node)| {
            pods.get(*pod)
                .is_some_and(|(phase, on)| phase == "Running" && on == node)
        })
    });
    let ip = c.kubectl_ok(&["get", "pod", "server", "-o", "jsonpath={.status.podIP}"]);
    let url = format!("http://{ip}:8080/index.html");
    c.wait(
        "an answer from node-3's pod",
        Duration::from_secs(30),
        &["exec", "idle-1", "--", "/bin/wget", "-qO-", &url],
        |out| out.contains("pong"),
    );
}

/// The apiserver's container restarts: nothing is lost and every component carries on.
fn apiserver_restart_loses_nothing(c: &Compose) {
    let ready_since = || {
        c.kubectl_ok(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].lastTransitionTime}",
        ])
    };
    c.wait_nodes_ready();
    let (before, ready_before) = (c.objects(), ready_since());
    c.compose(&["restart", "apiserver"]);
    c.wait(
        "the apiserver back",
        Duration::from_secs(60),
        &["get", "--raw", "/readyz"],
        |s| s == "ok",
    );
    let after = c.objects();
    for (key, (uid, rv)) in &before {
        let Some((uid_after, rv_after)) = after.get(key) else {
            panic!("{key} was lost in the restart");
        };
        assert_eq!(uid_after, uid, "{key} has another UID");
        assert!(rv_after >= rv, "{key}: resourceVersion {rv} became {rv_after}");
    }
    // The agents heartbeat on (their nodes never went Unknown), the scheduler places a new pod.
    c.wait_nodes_ready();
    assert_eq!(
        ready_since(),
        ready_before,
        "a node's Ready condition changed in the restart"
    );
    c.run_sleeper("after-restart");
    c.wait_running("after-restart");
    let newest = c.objects()["Pod/after-restart"].1;
    let oldest = before.values().map(|(_, rv)| *rv).max().unwrap();
    assert!(
        newest > oldest,
        "a write after the restart got resourceVersion {newest} <= {oldest}"
    );
    // node-1's agent, watching again, removes a deleted pod's containers.
    let containers = || {
        docker(&[
            "ps",
            "-aq",
            "--filter",
            "label=io.podium.node=node-1",
            "--filter",
            "label=io.kubernetes.pod.name=idle-1",
        ])
    };
    assert!(!containers().is_empty(), "idle-1 has containers on node-1");
    c.kubectl_ok(&["delete", "pod", "idle-1", "--wait=false"]);
    c.wait(
        "idle-1 deleted",
        Duration::from_secs(60),
        &["get", "pods", "-o", "name"],
        |names| !names.lines().any(|n| n == "pod/idle-1"),
    );
    poll("idle-1's containers removed", Duration::from_secs(30), || {
        let left = containers();
        if left.is_empty() { Ok(()) } else { Err(left) }
    });
}

/// node-2's agent stops: the node goes Unknown and is tainted, a pod tolerating that for 3 s
/// is evicted, and new pods go elsewhere; the agent comes back: Ready, untainted, and the
/// evicted pod's containers are cleaned up.
fn node_failure_and_recovery(c: &Compose) {
    let evictee = pod("evictee", "node-2", "sleep 3600").replace(
        "  terminationGracePeriodSeconds: 1\n",
        "  terminationGracePeriodSeconds: 1\n  tolerations:\n  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}\n",
    );
    c.apply(&evictee);
    c.wait_running("evictee");
    c.compose(&["stop", "node-2"]);
    let limit = Duration::from_secs(60);
    c.wait("node-2 Unknown", limit, &["get", "node", "node-2", "-o", READY], |s| {
        s == "Unknown"
    });
    let taints = ["get", "node", "node-2", "-o", "jsonpath={.spec.taints[*].key}"];
    c.wait("node-2 tainted", limit, &taints, |keys| {
        keys.contains("node.kubernetes.io/unreachable")
    });
    c.wait(
        "evictee evicted",
        Duration::from_secs(30),
        &["get", "pod", "evictee", "-o", "jsonpath={.metadata.deletionTimestamp}"],
        |t| !t.is_empty(),
    );
    for i in 0..3 {
        c.run_sleeper(&format!("fresh-{i}"));
    }
    let placed = c.wait_placement("replacements placed", &[], |pods| {
        pods.iter()
            .filter(|(name, (phase, _))| name.starts_with("fresh-") && phase == "Running")
            .count()
            == 3
    });
    let on_node_2: Vec<&String> = placed
        .iter()
        .filter(|(name, (_, node))| name.starts_with("fresh-") && node == "node-2")
        .map(|(name, _)| name)
        .collect();
    assert!(on_node_2.is_empty(), "placed on the dead node-2: {on_node_2:?}");
    c.compose(&["start", "node-2"]);
    c.wait(
        "node-2 Ready again",
        limit,
        &["get", "node", "node-2", "-o", READY],
        |s| s == "True",
    );
    c.wait("node-2 untainted", Duration::from_secs(30), &taints, |keys| {
        !keys.contains("node.kubernetes.io/")
    });
    c.wait("the evicted pod gone", limit, &["get", "pods", "-o", "name"], |names| {
        !names.contains("pod/evictee")
    });
}

/// Two schedulers: the one holding the Lease is killed and the other takes over.
fn scheduler_failover(c: &Compose) {
    c.compose(&["up", "-d", "--no-recreate", "--scale", "scheduler=2", "scheduler"]);
    let schedulers = poll("two schedulers running", Duration::from_secs(30), || {
        let ids = service_containers("scheduler");
        if ids.len() == 2 {
            Ok(ids)
        } else {
            Err(format!("{ids:?}"))
        }
    });
    // Container by hostname, which leads the leader's identity.
    let by_host: BTreeMap<String, String> = schedulers
        .iter()
        .map(|id| (docker(&["inspect", "-f", "{{.Config.Hostname}}", id]), id.clone()))
        .collect();
    let leader = c.kubectl_ok(&SCHEDULER_LEADER);
    let Some(leader_container) = by_host.get(identity_host(&leader)) else {
        panic!("the Lease holder {leader:?} is none of the schedulers {by_host:?}");
    };
    let standby = by_host
        .keys()
        .find(|host| *host != identity_host(&leader))
        .unwrap()
        .clone();
    docker(&["kill", leader_container]);
    c.wait(
        "the standby scheduler to take the Lease",
        Duration::from_secs(60),
        &SCHEDULER_LEADER,
        |holder| identity_host(holder) == standby,
    );
    c.run_sleeper("after-failover");
    c.wait_running("after-failover");
}

/// `deploy/down.sh` leaves no container, network or volume of the cluster behind.
fn down_leaves_nothing(c: &Compose) {
    c.down();
    let pod_containers = ["node-1", "node-2", "node-3"]
        .map(|node| docker(&["ps", "-aq", "--filter", &format!("label=io.podium.node={node}")]))
        .join(" ");
    for (what, listed) in [
        (
            "containers",
            docker(&["ps", "-aq", "--filter", "label=com.docker.compose.project=podium"]),
        ),
        ("pod containers", pod_containers.trim().to_owned()),
        (
            "networks",
            docker(&["network", "ls", "-q", "--filter", "name=^podium(_control)?$"]),
        ),
        ("volumes", docker(&["volume", "ls", "-q", "--filter", "name=podium_"])),
    ] {
        assert!(listed.is_empty(), "{what} left behind: {listed}");
    }
}

#[test]
fn the_compose_cluster_runs_the_examples_survives_failures_and_goes_away_cleanly() {
    let c = Compose::up();
    step("three Ready nodes", || c.wait_nodes_ready());
    step("examples", || examples_run(&c));
    step("pod to pod across nodes", || pods_reach_each_other_across_nodes(&c));
    step("apiserver restart", || apiserver_restart_loses_nothing(&c));
    step("node-2 failure and recovery", || node_failure_and_recovery(&c));
    step("scheduler failover", || scheduler_failover(&c));
    step("down", || down_leaves_nothing(&c));
}
