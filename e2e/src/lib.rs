//! Podium's end-to-end harness: a real cluster (the `apiserver`, `scheduler` and `agent`
//! binaries of this build) on the real Docker Engine, driven with the real `kubectl`.
//!
//! Each `Cluster` has its own data directory, apiserver port, node name and pod network, so
//! tests run side by side. Dropping it (also when a test fails) stops the processes and
//! removes the node's containers and the network; a failing test prints the components' logs.
//! The binaries must be built first (`cargo build --workspace`, which `bash .ci/run` does as
//! part of `cargo nextest run --workspace`), and pause in release (`pause/target/release`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod otlp;

/// The test image: Debian's static busybox with its applets linked in `/bin`. The tag changes
/// whenever what goes into the image does (an existing image of this tag is reused).
pub const BUSYBOX: &str = "podium-test/busybox:e2e-3";

/// The directory holding this build's binaries.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("a target directory")
        .to_owned()
}

fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

fn pause_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pause/target/release/pause");
    assert!(
        path.exists(),
        "build pause first: cargo build --release --manifest-path pause/Cargo.toml"
    );
    path
}

/// Runs `docker` with `args`; its stdout, trimmed.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs kubectl with `kubeconfig`.
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// Runs kubectl with `kubeconfig` and returns its stdout, failing the test when it fails.
pub fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(kubeconfig, args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl apply -f -` with `manifest`, failing the test when it fails.
pub fn kubectl_apply(kubeconfig: &Path, manifest: &str) {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(manifest.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl apply: {}\n{manifest}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Imports the busybox test image unless Docker has it (no registry: a tar of the binary).
pub fn busybox_image() -> &'static str {
    static IMPORT: Once = Once::new();
    IMPORT.call_once(|| {
        let have = Command::new("docker").args(["image", "inspect", BUSYBOX]).output();
        if have.is_ok_and(|out| out.status.success()) {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "busybox-static is installed (bash .ci/run installs it)"
        );
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for applet in [
            "sh", "sleep", "echo", "cat", "id", "hostname", "nc", "ps", "ls", "wget", "ip", "kill", "date", "true",
            "false", "grep", "touch", "test", "[", "env", "wc", "head", "tail", "mkdir", "rm", "mount", "df", "stat",
            "chmod", "printf", "tr", "dd", "yes", "httpd",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let tar = root.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .arg("-cf")
            .arg(&tar)
            .args(["bin", "tmp"])
            .status()
            .unwrap();
        assert!(status.success());
        docker(&["import", "-c", "ENV PATH=/bin", tar.to_str().unwrap(), BUSYBOX]);
    });
    BUSYBOX
}

/// A pod of one container, `app`, of `image` running `script` with /bin/sh, stopped within a
/// second; `spec` is more of the pod's spec (lines indented two spaces, each ending in `\n`).
pub fn pod_manifest(name: &str, image: &str, spec: &str, script: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
{spec}  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {image}
    imagePullPolicy: IfNotPresent
    command: [/bin/sh, -c, '{script}']
"
    )
}

/// A pod of one busybox container that sleeps for an hour.
pub fn sleeper(name: &str) -> String {
    pod_manifest(name, BUSYBOX, "", "sleep 3600")
}

/// Picks a free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running cluster of one node.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub url: String,
    pub kubeconfig: PathBuf,
    pub node: String,
    pub network: String,
    apiserver: Child,
    scheduler: Child,
    agent: Option<Child>,
    agent_starts: u32,
    options: Options,
}

/// How a `Cluster` is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra agent flags.
    pub agent_args: Vec<String>,
    /// Extra environment of every component (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub env: Vec<(String, String)>,
}

fn spawn(program: &Path, args: &[&str], env: &[(String, String)], log: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()))
}

impl Cluster {
    /// Starts an apiserver, a scheduler and an agent for node `e2e-<tag>-<pid>`, and waits for
    /// the node to be Ready.
    pub fn start(tag: &str) -> Self {
        Cluster::start_with(tag, Options::default())
    }

    /// `start` with extra agent flags or environment.
    pub fn start_with(tag: &str, options: Options) -> Self {
        busybox_image();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let kubeconfig = dir.path().join("kubeconfig");
        let apiserver = spawn(
            &binary("apiserver"),
            &[
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
                dir.path().join("data").to_str().unwrap(),
                "--write-kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
            &options.env,
            &dir.path().join("apiserver.log"),
        );
        let scheduler = spawn(
            &binary("scheduler"),
            &["--apiserver", &url, "--listen", "127.0.0.1:0"],
            &options.env,
            &dir.path().join("scheduler.log"),
        );
        let id = format!("{tag}-{}", std::process::id());
        let mut cluster = Cluster {
            url,
            kubeconfig,
            node: format!("e2e-{id}"),
            network: format!("podium-e2e-{id}"),
            apiserver,
            scheduler,
            agent: None,
            agent_starts: 0,
            options,
            dir,
        };
        cluster.start_agent();
        cluster.wait_for("the node to be Ready", Duration::from_secs(30), |c| {
            c.kubectl(&[
                "get",
                "node",
                &c.node,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .stdout
                == b"True"
        });
        cluster
    }

    /// Starts (again) the agent.
    pub fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "the agent runs already");
        self.agent_starts += 1;
        let root = self.dir.path().join("agent");
        let pause = pause_binary();
        let mut args = vec![
            "--apiserver",
            &self.url,
            "--node-name",
            &self.node,
            "--root-dir",
            root.to_str().unwrap(),
            "--pod-network",
            &self.network,
            "--pause-binary",
            pause.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            // The apiserver reaches the agent (logs, exec) at the node's address.
            "--node-ip",
            "127.0.0.1",
        ];
        args.extend(self.options.agent_args.iter().map(String::as_str));
        self.agent = Some(spawn(
            &binary("agent"),
            &args,
            &self.options.env,
            &self.dir.path().join("agent.log"),
        ));
    }

    /// Kills the agent with SIGKILL, as a crash would.
    pub fn kill_agent(&mut self) {
        if let Some(mut agent) = self.agent.take() {
            let _ = agent.kill();
            let _ = agent.wait();
        }
    }

    /// Runs kubectl against this cluster.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        kubectl(&self.kubeconfig, args)
    }

    /// Runs kubectl and returns its stdout, failing the test when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        kubectl_ok(&self.kubeconfig, args)
    }

    /// `kubectl apply -f -` with `manifest`.
    pub fn apply(&self, manifest: &str) {
        kubectl_apply(&self.kubeconfig, manifest);
    }

    /// The pod as JSON; `Value::Null` when it does not exist.
    pub fn pod(&self, name: &str) -> Value {
        let out = self.kubectl(&["get", "pod", name, "-o", "json"]);
        if !out.status.success() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Polls `done` every 200 ms until it holds, failing after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the pod satisfies `check`, and returns it.
    pub fn wait_pod(&self, name: &str, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let start = Instant::now();
        loop {
            last = match self.pod(name) {
                Value::Null => last,
                pod => pod,
            };
            if check(&last) {
                return last;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for pod {name} to be {what}; last seen:\n{}",
                serde_json::to_string_pretty(&last["status"]).unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the pod's phase.
    pub fn wait_phase(&self, name: &str, phase: &str, limit: Duration) -> Value {
        self.wait_pod(name, phase, limit, |p| p["status"]["phase"] == phase)
    }

    /// Waits until every container of the pod is ready.
    pub fn wait_ready(&self, name: &str) -> Value {
        self.wait_pod(name, "Ready", Duration::from_secs(60), |p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
    }

    /// The Docker IDs of this node's containers (sandboxes included), running or not.
    pub fn containers(&self) -> Vec<String> {
        docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=io.podium.node={}", self.node),
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// The Docker ID of the newest instance of `container` in pod `pod`.
    pub fn container_id(&self, pod: &str, container: &str) -> String {
        let ids = docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=io.podium.node={}", self.node),
            "--filter",
            &format!("label=io.kubernetes.pod.name={pod}"),
            "--filter",
            &format!("label=io.kubernetes.container.name={container}"),
        ]);
        ids.lines().next().unwrap_or_default().to_owned()
    }

    /// What `container` of `pod` printed (through Docker; `kubectl logs` comes with the
    /// agent's log service).
    pub fn logs(&self, pod: &str, container: &str) -> String {
        let id = self.container_id(pod, container);
        let out = Command::new("docker").args(["logs", &id]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Waits until `container` of `pod` has printed `text`, and returns all it printed.
    pub fn wait_logs(&self, pod: &str, container: &str, text: &str) -> String {
        let mut logs = String::new();
        self.wait_for(
            &format!("{pod}/{container} to print {text:?}"),
            Duration::from_secs(30),
            |c| {
                logs = c.logs(pod, container);
                logs.contains(text)
            },
        );
        logs
    }

    /// The agent's endpoint port, as the node's daemon endpoint says.
    pub fn agent_port(&self) -> u16 {
        let port = self.kubectl_ok(&[
            "get",
            "node",
            &self.node,
            "-o",
            "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}",
        ]);
        port.parse()
            .unwrap_or_else(|_| panic!("no agent port on the node: {port:?}"))
    }

    /// A component's log so far (`apiserver`, `scheduler` or `agent`).
    pub fn log(&self, component: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{component}.log"))).unwrap_or_default()
    }

    /// The samples of the Prometheus `/metrics` a component serves at `addr`.
    pub fn metrics(addr: &str) -> BTreeMap<String, f64> {
        use std::io::Read;
        let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 200"), "GET {addr}/metrics: {head}");
        podium_telemetry::metrics::parse_text(body).unwrap()
    }

    fn print_logs(&self) {
        for name in ["apiserver", "scheduler", "agent"] {
            let log = self.log(name);
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- {name} log (last lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        self.kill_agent();
        for child in [&mut self.scheduler, &mut self.apiserver] {
            let _ = child.kill();
            let _ = child.wait();
        }
        let ids = self.containers();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        let _ = Command::new("docker").args(["network", "rm", &self.network]).output();
    }
}

/// Seconds between two RFC 3339 times as Docker reports them (nanosecond precision).
pub fn docker_time(id: &str, field: &str) -> f64 {
    let text = docker(&["inspect", "-f", &format!("{{{{.State.{field}}}}}"), id]);
    parse_rfc3339(&text).unwrap_or_else(|| panic!("a time: {text}"))
}

/// Unix seconds (with fractions) of `2026-11-27T12:24:51.123456789Z`.
fn parse_rfc3339(text: &str) -> Option<f64> {
    let (date, time) = text.trim().split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z');
    let mut t = time.split(':');
    let (h, min, s) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    #[allow(clippy::cast_precision_loss)]
    Some((days * 86_400 + h * 3600 + min * 60) as f64 + s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_times_parse() {
        assert_eq!(super::parse_rfc3339("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        assert_eq!(super::parse_rfc3339("2026-11-27T00:00:00Z"), Some(1_795_737_600.0));
    }
}
