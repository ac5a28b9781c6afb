//! Probes and lifecycle hooks end to end: liveness restarts, readiness toggling READY,
//! startup holding liveness off, httpGet and tcpSocket against a server in the pod, postStart
//! and preStop.

use std::time::{Duration, Instant};

use podium_e2e::{BUSYBOX, Cluster};
use serde_json::Value;

const MINUTE: Duration = Duration::from_secs(60);

fn pod_yaml(name: &str, body: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{body}")
}

fn status<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

fn ready_column(c: &Cluster, pod: &str) -> String {
    let table = c.kubectl_ok(&["get", "pod", pod, "--no-headers"]);
    table.split_whitespace().nth(1).unwrap_or_default().to_owned()
}

#[test]
fn a_failing_liveness_probe_restarts_the_container() {
    let c = Cluster::start("liveness");
    c.apply(&pod_yaml(
        "live",
        &format!(
            "  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'touch /tmp/healthy; sleep 4; rm /tmp/healthy; sleep 3600']
    livenessProbe:
      exec: {{command: [cat, /tmp/healthy]}}
      periodSeconds: 1
      failureThreshold: 2
"
        ),
    ));
    let pod = c.wait_pod("live", "restarted", MINUTE, |p| {
        status(p, "app")["restartCount"].as_i64() >= Some(1)
    });
    assert_eq!(pod["status"]["phase"], "Running");
    let events = c.kubectl_ok(&["get", "events", "--field-selector", "involvedObject.name=live"]);
    assert!(
        events.contains("Unhealthy") && events.contains("Liveness probe failed"),
        "{events}"
    );
    assert!(events.contains("failed liveness probe, will be restarted"), "{events}");
}

#[test]
fn readiness_toggles_ready_and_startup_holds_liveness_off() {
    let c = Cluster::start("readiness");
    c.apply(&pod_yaml(
        "ready",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
    readinessProbe:
      exec: {{command: [cat, /tmp/ready]}}
      periodSeconds: 1
      failureThreshold: 1
"
        ),
    ));
    c.wait_phase("ready", "Running", MINUTE);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ready_column(&c, "ready"), "0/1");
    c.kubectl_ok(&["exec", "ready", "--", "touch", "/tmp/ready"]);
    c.wait_for("READY 1/1", MINUTE, |c| ready_column(c, "ready") == "1/1");
    c.kubectl_ok(&["exec", "ready", "--", "rm", "/tmp/ready"]);
    c.wait_for("READY 0/1", MINUTE, |c| ready_column(c, "ready") == "0/1");
    let pod = c.pod("ready");
    let ready = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");

    // Liveness would fail at once, but the startup probe holds it off until the app is up.
    c.apply(&pod_yaml(
        "slow",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'sleep 4; touch /tmp/up; sleep 3600']
    startupProbe:
      exec: {{command: [cat, /tmp/up]}}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {{command: [cat, /tmp/up]}}
      periodSeconds: 1
      failureThreshold: 1
"
        ),
    ));
    let start = Instant::now();
    let pod = c.wait_pod("slow", "started", MINUTE, |p| status(p, "app")["started"] == true);
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "started only once the file exists"
    );
    assert_eq!(status(&pod, "app")["restartCount"], 0);
    assert_eq!(status(&pod, "app")["ready"], true);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(status(&c.pod("slow"), "app")["restartCount"], 0);
}

#[test]
fn http_and_tcp_probes_reach_a_server_in_the_pod() {
    let c = Cluster::start("httpprobe");
    c.apply(&pod_yaml(
        "web",
        &format!(
            "  containers:
  - name: server
    image: {BUSYBOX}
    command: [sh, -c, 'mkdir -p /www && echo ok > /www/healthz && httpd -f -p 8080 -h /www']
    ports:
    - {{name: http, containerPort: 8080}}
    readinessProbe:
      httpGet: {{path: /healthz, port: http, httpHeaders: [{{name: X-Probe, value: podium}}]}}
      periodSeconds: 1
    livenessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
  - name: broken
    image: {BUSYBOX}
    command: [sleep, '3600']
    readinessProbe:
      httpGet: {{path: /missing, port: 8080}}
      periodSeconds: 1
"
        ),
    ));
    c.wait_for("server ready", MINUTE, |c| {
        status(&c.pod("web"), "server")["ready"] == true
    });
    std::thread::sleep(Duration::from_secs(3));
    let pod = c.pod("web");
    assert_eq!(status(&pod, "server")["restartCount"], 0, "tcpSocket liveness passes");
    assert_eq!(status(&pod, "broken")["ready"], false, "a 404 is not ready");
    let events = c.kubectl_ok(&["get", "events", "--field-selector", "involvedObject.name=web"]);
    assert!(events.contains("HTTP probe failed with statuscode: 404"), "{events}");
}

#[test]
fn post_start_runs_before_the_app_reads_and_pre_stop_before_the_stop_signal() {
    let c = Cluster::start("hooks");
    let host = tempfile::tempdir().unwrap();
    let record = host.path().join("record");
    c.apply(&pod_yaml(
        "hooked",
        &format!(
            "  terminationGracePeriodSeconds: 10
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'trap \"echo term >> /record/log; exit 0\" TERM; sleep 1; cat /tmp/hook; while true; do sleep 0.2; done']
    lifecycle:
      postStart:
        exec: {{command: [sh, -c, 'echo from-post-start > /tmp/hook']}}
      preStop:
        exec: {{command: [sh, -c, 'echo pre-stop >> /record/log; sleep 2']}}
    volumeMounts: [{{name: record, mountPath: /record}}]
  volumes:
  - {{name: record, hostPath: {{path: {}, type: DirectoryOrCreate}}}}
",
            record.display()
        ),
    ));
    c.wait_ready("hooked");
    c.wait_logs("hooked", "app", "from-post-start");
    let start = Instant::now();
    c.kubectl_ok(&["delete", "pod", "hooked"]);
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2), "preStop's sleep came first: {took:?}");
    assert!(took < Duration::from_secs(10), "the app exited on TERM: {took:?}");
    assert_eq!(std::fs::read_to_string(record.join("log")).unwrap(), "pre-stop\nterm\n");
}
