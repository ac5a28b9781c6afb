//! `kubectl logs` and `kubectl exec` (and the Python client's equivalents) through the
//! apiserver to the pod's agent.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use podium_e2e::{BUSYBOX, Cluster};

fn kubectl(c: &Cluster) -> Command {
    let mut command = Command::new("kubectl");
    command.arg("--kubeconfig").arg(&c.kubeconfig);
    command
}

fn chatty_pod(c: &Cluster) {
    c.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  containers:
  - name: talker
    image: {BUSYBOX}
    command: [sh, -c, 'for i in 1 2 3 4 5; do echo line-$i; done; echo to-stderr >&2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done']
  - name: quiet
    image: {BUSYBOX}
    command: [sleep, '3600']
"
    ));
    c.wait_ready("chatty");
}

#[test]
fn kubectl_logs_reads_tails_and_follows() {
    let c = Cluster::start("logs");
    chatty_pod(&c);
    c.wait_for("output", Duration::from_secs(30), |c| {
        String::from_utf8_lossy(&c.kubectl(&["logs", "chatty", "-c", "talker"]).stdout).contains("tick-1")
    });
    let all = c.kubectl_ok(&["logs", "chatty", "-c", "talker"]);
    // stdout in order (Docker's log may put the stderr line anywhere among them).
    let lines: Vec<&str> = all.lines().filter(|l| l.starts_with("line-")).collect();
    assert_eq!(lines, ["line-1", "line-2", "line-3", "line-4", "line-5"], "{all}");
    assert!(all.contains("to-stderr"), "stderr is in the logs too: {all}");
    let tail = c.kubectl_ok(&["logs", "chatty", "-c", "talker", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let stamped = c.kubectl_ok(&["logs", "chatty", "-c", "talker", "--timestamps", "--tail=1"]);
    assert!(stamped.starts_with("20") && stamped.contains('T'), "{stamped}");
    // Several containers and none named: kubectl takes the first and says so (the server's
    // own answer, a 400 naming the choices, is checked with the Python client).
    let out = c.kubectl(&["logs", "chatty", "--tail=1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Defaulted container \"talker\" out of: talker, quiet"),
        "{stderr}"
    );
    // -f streams lines as they are written.
    let mut follow = kubectl(&c)
        .args(["logs", "-f", "chatty", "-c", "talker", "--tail=1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let start = Instant::now();
    let mut ticks = Vec::new();
    while ticks.len() < 4 {
        let line = lines.next().expect("kubectl logs -f keeps streaming").unwrap();
        ticks.push(line);
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(ticks.iter().all(|t| t.starts_with("tick-")), "{ticks:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "the lines came as written"
    );
}

#[test]
fn kubectl_logs_previous_shows_the_run_before_a_restart() {
    let c = Cluster::start("previous");
    c.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: flaky
spec:
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'echo run-$RANDOM-$RANDOM; sleep 1; exit 1']
"
    ));
    c.wait_pod("flaky", "restarted", Duration::from_secs(60), |p| {
        p["status"]["containerStatuses"][0]["restartCount"].as_i64() >= Some(1)
    });
    c.wait_for("the new run's output", Duration::from_secs(30), |c| {
        String::from_utf8_lossy(&c.kubectl(&["logs", "flaky"]).stdout).starts_with("run-")
    });
    let previous = c.kubectl_ok(&["logs", "flaky", "--previous"]);
    let current = c.kubectl_ok(&["logs", "flaky"]);
    assert!(previous.starts_with("run-"), "{previous}");
    assert_ne!(previous, current, "two runs, two random numbers");
}

#[test]
fn kubectl_exec_runs_commands_with_stdin_and_exit_codes() {
    let c = Cluster::start("exec");
    chatty_pod(&c);
    let out = c.kubectl_ok(&[
        "exec",
        "chatty",
        "-c",
        "quiet",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; hostname",
    ]);
    assert!(out.contains("out") && out.contains("chatty"), "{out}");
    // The exit code comes through.
    let status = kubectl(&c)
        .args(["exec", "chatty", "-c", "quiet", "--", "sh", "-c", "exit 3"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    // Stdin reaches the command.
    let mut child = kubectl(&c)
        .args([
            "exec",
            "-i",
            "chatty",
            "-c",
            "quiet",
            "--",
            "sh",
            "-c",
            "cat; echo done",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello from stdin\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from stdin\ndone\n");
    // Containers of the same pod share the network: the quiet one reaches the pod's loopback.
    let out = c.kubectl(&["exec", "chatty", "-c", "nope", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("container nope is not valid for pod chatty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_python_client_reads_logs_and_execs() {
    let python = std::env::var("PODIUM_PYTHON")
        .expect("PODIUM_PYTHON must name a python with `kubernetes` and `pytest` installed (bash .ci/run sets it up)");
    let c = Cluster::start("python");
    chatty_pod(&c);
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let output = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(&tests)
        .env("PODIUM_URL", &c.url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pytest failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
