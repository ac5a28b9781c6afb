//! kubectl v1.32 against the REST face: the commands users type, and what they see.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::TestServer;

const KUBECTL: &str = "/usr/bin/kubectl";

fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests").join(name)
}

/// kubectl with its own kubeconfig and discovery cache.
struct Kubectl {
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(server: &TestServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://{}", server.addr);
        podium_apiserver::kubeconfig::write_kubeconfig(&dir.path().join("config"), &url).unwrap();
        Kubectl { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(KUBECTL);
        command
            .arg("--kubeconfig")
            .arg(self.dir.path().join("config"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::from(self.command(args));
        tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("kubectl finishes")
            .unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "kubectl {args:?} failed:\n{stdout}\n{stderr}");
        stdout.into_owned()
    }

    /// Runs a command that must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

async fn setup() -> (tempfile::TempDir, TestServer, Kubectl) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path()).await;
    let kubectl = Kubectl::new(&server);
    (dir, server, kubectl)
}

#[tokio::test]
async fn version_and_api_resources() {
    let (_dir, server, k) = setup().await;
    let version: serde_json::Value = serde_json::from_str(&k.ok(&["version", "-o", "json"]).await).unwrap();
    assert_eq!(version["serverVersion"]["major"], "1");
    assert_eq!(version["serverVersion"]["minor"], "32");
    let resources = k.ok(&["api-resources"]).await;
    for (name, short) in [
        ("pods", "po"),
        ("nodes", "no"),
        ("namespaces", "ns"),
        ("events", "ev"),
        ("priorityclasses", "pc"),
    ] {
        let line = resources
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| {
                panic!("{name} missing from\n{resources}");
            });
        assert!(line.split_whitespace().any(|w| w == short), "{line}");
    }
    assert!(resources.lines().any(|l| l.starts_with("leases ")), "{resources}");
    server.stop().await;
}

#[tokio::test]
async fn create_get_describe_and_output_formats() {
    let (_dir, server, k) = setup().await;
    let pod = manifest("pod.yaml");
    assert_eq!(
        k.ok(&["create", "-f", pod.to_str().unwrap()]).await.trim(),
        "pod/web created"
    );
    let table = k.ok(&["get", "pods"]).await;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "0/1", "Pending", "0"]);
    let wide = k.ok(&["get", "pods", "-o", "wide"]).await;
    assert!(wide.lines().next().unwrap().contains("NOMINATED NODE"), "{wide}");
    let json: serde_json::Value = serde_json::from_str(&k.ok(&["get", "pod", "web", "-o", "json"]).await).unwrap();
    assert_eq!(json["spec"]["restartPolicy"], "Always");
    let yaml = k.ok(&["get", "pod", "web", "-o", "yaml"]).await;
    assert!(yaml.contains("dnsPolicy: ClusterFirst"), "{yaml}");
    assert_eq!(
        k.ok(&["get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image}"])
            .await,
        "busybox:1.36"
    );
    assert_eq!(k.ok(&["get", "pods", "-o", "name"]).await.trim(), "pod/web");
    let describe = k.ok(&["describe", "pod", "web"]).await;
    assert!(
        describe.contains("Name:") && describe.contains("web") && describe.contains("busybox:1.36"),
        "{describe}"
    );
    let all = k.ok(&["get", "pods", "-A"]).await;
    assert!(all.lines().next().unwrap().starts_with("NAMESPACE"), "{all}");
    server.stop().await;
}

#[tokio::test]
async fn lists_apply_and_create_and_round_trip() {
    let (_dir, server, k) = setup().await;
    let list = manifest("list.yaml");
    let applied = k.ok(&["apply", "-f", list.to_str().unwrap()]).await;
    assert_eq!(applied.trim(), "pod/listed-1 created\npod/listed-2 created");
    let again = k.ok(&["apply", "-f", list.to_str().unwrap()]).await;
    assert_eq!(again.trim(), "pod/listed-1 unchanged\npod/listed-2 unchanged");
    // What `get -o yaml` writes is a List that goes back in.
    let yaml = k.ok(&["get", "pods", "-o", "yaml"]).await;
    let path = k.dir.path().join("got.yaml");
    std::fs::write(&path, yaml).unwrap();
    k.ok(&["delete", "pods", "--all"]).await;
    let created = k.ok(&["create", "-f", path.to_str().unwrap()]).await;
    assert!(
        created.contains("pod/listed-1 created") && created.contains("pod/listed-2 created"),
        "{created}"
    );
    // The server still refuses unknown fields in the items.
    let bad = k.dir.path().join("bad-list.yaml");
    let text = std::fs::read_to_string(&list)
        .unwrap()
        .replace("name: listed-2", "name: listed-3\n    bogus: 1");
    std::fs::write(&bad, text).unwrap();
    let err = k.fails(&["create", "-f", bad.to_str().unwrap()]).await;
    assert!(err.contains("bogus"), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn apply_twice_then_replace_with_a_stale_version() {
    let (_dir, server, k) = setup().await;
    let v1 = manifest("pod.yaml");
    let v2 = manifest("pod-v2.yaml");
    assert_eq!(
        k.ok(&["apply", "-f", v1.to_str().unwrap()]).await.trim(),
        "pod/web created"
    );
    assert_eq!(
        k.ok(&["apply", "-f", v1.to_str().unwrap()]).await.trim(),
        "pod/web unchanged"
    );
    assert_eq!(
        k.ok(&["apply", "-f", v2.to_str().unwrap()]).await.trim(),
        "pod/web configured"
    );
    assert_eq!(
        k.ok(&["get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image}"])
            .await,
        "busybox:1.37"
    );

    let current = k.ok(&["get", "pod", "web", "-o", "json"]).await;
    let mut stale: serde_json::Value = serde_json::from_str(&current).unwrap();
    stale["metadata"]["resourceVersion"] = serde_json::json!("1");
    stale["metadata"]["labels"]["extra"] = serde_json::json!("x");
    let path = k.dir.path().join("stale.json");
    std::fs::write(&path, stale.to_string()).unwrap();
    let err = k.fails(&["replace", "-f", path.to_str().unwrap()]).await;
    assert!(
        err.contains("Operation cannot be fulfilled on pods \"web\": the object has been modified"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn labels_annotations_and_selectors() {
    let (_dir, server, k) = setup().await;
    for (name, labels) in [
        ("a", "app=web,env=prod"),
        ("b", "app=web,env=dev,canary=yes"),
        ("c", "app=db,env=qa"),
    ] {
        k.ok(&["run", name, "--image=busybox:1.36", &format!("--labels={labels}")])
            .await;
    }
    assert_eq!(k.ok(&["label", "pod", "c", "team=data"]).await.trim(), "pod/c labeled");
    assert_eq!(
        k.ok(&["annotate", "pod", "c", "note=hello"]).await.trim(),
        "pod/c annotated"
    );
    assert_eq!(
        k.ok(&["get", "pod", "c", "-o", "jsonpath={.metadata.annotations.note}"])
            .await,
        "hello"
    );
    let names = |out: String| -> Vec<String> {
        out.split_whitespace()
            .map(|s| s.trim_start_matches("pod/").to_owned())
            .collect()
    };
    let cases = [
        ("app=web", vec!["a", "b"]),
        ("app==web", vec!["a", "b"]),
        ("app!=web", vec!["c"]),
        ("env in (prod,qa)", vec!["a", "c"]),
        ("env notin (prod)", vec!["b", "c"]),
        ("canary", vec!["b"]),
        ("!canary", vec!["a", "c"]),
        ("team=data,app=db", vec!["c"]),
    ];
    for (selector, expected) in cases {
        assert_eq!(
            names(k.ok(&["get", "pods", "-l", selector, "-o", "name"]).await),
            expected,
            "{selector}"
        );
    }
    let by_field = k
        .ok(&["get", "pods", "--field-selector", "metadata.name=b", "-o", "name"])
        .await;
    assert_eq!(by_field.trim(), "pod/b");
    let pending = k
        .ok(&[
            "get",
            "pods",
            "--field-selector",
            "status.phase=Pending,spec.nodeName=",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(names(pending), ["a", "b", "c"]);
    assert!(
        k.ok(&["delete", "pods", "-l", "app=web"])
            .await
            .contains("pod \"a\" deleted")
    );
    assert_eq!(names(k.ok(&["get", "pods", "-o", "name"]).await), ["c"]);
    server.stop().await;
}

#[tokio::test]
async fn nodes_cordon_uncordon_and_taint() {
    let (_dir, server, k) = setup().await;
    let node = manifest("node.yaml");
    k.ok(&["create", "-f", node.to_str().unwrap()]).await;
    assert_eq!(k.ok(&["cordon", "node-1"]).await.trim(), "node/node-1 cordoned");
    let nodes = k.ok(&["get", "nodes"]).await;
    let row: Vec<&str> = nodes.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], "node-1");
    assert!(row[1].ends_with(",SchedulingDisabled"), "{nodes}");
    assert_eq!(row[2], "worker");
    assert_eq!(k.ok(&["uncordon", "node-1"]).await.trim(), "node/node-1 uncordoned");
    assert_eq!(
        k.ok(&["taint", "nodes", "node-1", "dedicated=gpu:NoSchedule"])
            .await
            .trim(),
        "node/node-1 tainted"
    );
    let taints = k
        .ok(&[
            "get",
            "node",
            "node-1",
            "-o",
            "jsonpath={.spec.taints[0].key}={.spec.taints[0].value}:{.spec.taints[0].effect}",
        ])
        .await;
    assert_eq!(taints, "dedicated=gpu:NoSchedule");
    let describe = k.ok(&["describe", "node", "node-1"]).await;
    assert!(describe.contains("dedicated=gpu:NoSchedule"), "{describe}");
    server.stop().await;
}

#[tokio::test]
async fn other_kinds_get_and_describe() {
    let (_dir, server, k) = setup().await;
    k.ok(&["create", "-f", manifest("others.yaml").to_str().unwrap()]).await;
    assert_eq!(
        k.ok(&["create", "namespace", "team"]).await.trim(),
        "namespace/team created"
    );
    let namespaces = k.ok(&["get", "ns"]).await;
    assert!(
        namespaces
            .lines()
            .any(|l| l.starts_with("team ") && l.contains("Active")),
        "{namespaces}"
    );
    let classes = k.ok(&["get", "pc"]).await;
    assert!(
        classes.lines().any(|l| l.starts_with("gold ") && l.contains("1000")),
        "{classes}"
    );
    assert!(classes.contains("system-node-critical"), "{classes}");
    let leases = k.ok(&["get", "leases"]).await;
    assert!(
        leases
            .lines()
            .any(|l| l.starts_with("holder ") && l.contains("someone")),
        "{leases}"
    );
    let events = k.ok(&["get", "events"]).await;
    assert!(events.contains("Testing") && events.contains("pod/web"), "{events}");
    for (kind, name) in [("ns", "team"), ("pc", "gold"), ("lease", "holder"), ("ev", "web.1")] {
        let out = k.ok(&["describe", kind, name]).await;
        assert!(out.contains(name), "describe {kind} {name}: {out}");
    }
    server.stop().await;
}

#[tokio::test]
async fn errors_read_as_on_kubernetes() {
    let (_dir, server, k) = setup().await;
    let err = k.fails(&["get", "pod", "missing"]).await;
    assert_eq!(err.trim(), "Error from server (NotFound): pods \"missing\" not found");
    let pod = manifest("pod.yaml");
    k.ok(&["create", "-f", pod.to_str().unwrap()]).await;
    let err = k.fails(&["create", "-f", pod.to_str().unwrap()]).await;
    assert!(
        err.contains("Error from server (AlreadyExists)") && err.contains("pods \"web\" already exists"),
        "{err}"
    );
    let err = k
        .fails(&["create", "-f", manifest("invalid.yaml").to_str().unwrap()])
        .await;
    assert!(
        err.contains("The Pod \"invalid\" is invalid: spec.containers[0].image: Required value"),
        "{err}"
    );
    let err = k
        .fails(&["create", "-f", manifest("bad-field.yaml").to_str().unwrap()])
        .await;
    assert!(err.contains("unknown field \"spec.containers[0].imagee\""), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn delete_and_watch() {
    let (_dir, server, k) = setup().await;
    let mut watch = tokio::process::Command::from(k.command(&["get", "pods", "-w", "--request-timeout=30s"]))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    k.ok(&["run", "later", "--image=busybox:1.36"]).await;
    let stdout = watch.stdout.take().unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("later ") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("the watch shows the new pod");
    assert!(seen.contains("Pending"), "{seen}");
    let _ = watch.kill().await;
    assert_eq!(k.ok(&["delete", "pod", "later"]).await.trim(), "pod \"later\" deleted");
    let err = k.fails(&["get", "pod", "later"]).await;
    assert!(err.contains("NotFound"), "{err}");
    server.stop().await;
}
