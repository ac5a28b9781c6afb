//! Pods end to end: kubectl → apiserver → scheduler → agent → Docker, and the status back.

use std::time::{Duration, Instant};

use podium_e2e::{BUSYBOX, Cluster, docker, docker_time};
use serde_json::Value;

const MINUTE: Duration = Duration::from_secs(60);

fn pod_yaml(name: &str, body: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{body}")
}

fn container_status<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

#[test]
fn two_containers_share_localhost_and_pause_is_pid_1_with_a_shared_process_namespace() {
    let c = Cluster::start("two");
    c.apply(&pod_yaml(
        "two",
        &format!(
            "  shareProcessNamespace: true
  containers:
  - name: server
    image: {BUSYBOX}
    command: [sh, -c, 'while true; do echo hello-from-server | nc -l -p 8080; done']
  - name: client
    image: {BUSYBOX}
    command: [sh, -c, 'until nc 127.0.0.1 8080 > /tmp/got; do sleep 0.2; done; cat /tmp/got; ps; sleep 3600']
"
        ),
    ));
    let pod = c.wait_ready("two");
    assert_eq!(pod["spec"]["nodeName"], c.node.as_str(), "the scheduler bound it");
    let logs = c.wait_logs("two", "client", "hello-from-server");
    let pid1 = logs
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_default();
    assert!(pid1.ends_with("/pause"), "pause is PID 1:\n{logs}");
    let table = c.kubectl_ok(&["get", "pod", "two"]);
    assert!(table.contains("2/2") && table.contains("Running"), "{table}");
    // The node's daemon endpoint is the agent's, and it answers health checks.
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", c.agent_port())).unwrap();
    std::io::Write::write_all(&mut conn, b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200") && answer.ends_with("ok"), "{answer}");
    c.kubectl_ok(&["delete", "pod", "two"]);
}

#[test]
fn init_containers_run_in_order_before_the_app() {
    let c = Cluster::start("init");
    c.apply(&pod_yaml(
        "init",
        &format!(
            "  initContainers:
  - name: first
    image: {BUSYBOX}
    command: [sh, -c, 'sleep 1']
  - name: second
    image: {BUSYBOX}
    command: [sh, -c, 'sleep 1']
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
"
        ),
    ));
    // While the first runs, the pod shows Init:0/2.
    c.wait_for("Init:0/2", MINUTE, |c| {
        c.kubectl_ok(&["get", "pod", "init"]).contains("Init:0/2")
    });
    let pod = c.wait_ready("init");
    let inits = pod["status"]["initContainerStatuses"].as_array().unwrap();
    assert!(inits.iter().all(|s| s["state"]["terminated"]["reason"] == "Completed"));
    let first = c.container_id("init", "first");
    let second = c.container_id("init", "second");
    let app = c.container_id("init", "app");
    assert!(docker_time(&first, "FinishedAt") <= docker_time(&second, "StartedAt"));
    assert!(docker_time(&second, "FinishedAt") <= docker_time(&app, "StartedAt"));
    let initialized = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Initialized")
        .unwrap();
    assert_eq!(initialized["status"], "True");
}

#[test]
fn every_restart_policy_ends_in_its_phase() {
    let c = Cluster::start("policy");
    let cases = [
        ("never-ok", "Never", 0),
        ("never-fail", "Never", 1),
        ("onfailure-ok", "OnFailure", 0),
        ("onfailure-fail", "OnFailure", 1),
        ("always-ok", "Always", 0),
    ];
    for (name, policy, code) in cases {
        c.apply(&pod_yaml(
            name,
            &format!(
                "  restartPolicy: {policy}
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'exit {code}']
"
            ),
        ));
    }
    let done = c.wait_phase("never-ok", "Succeeded", MINUTE);
    let terminated = &container_status(&done, "app")["state"]["terminated"];
    assert_eq!(
        (terminated["exitCode"].as_i64(), terminated["reason"].as_str()),
        (Some(0), Some("Completed"))
    );
    let failed = c.wait_phase("never-fail", "Failed", MINUTE);
    let terminated = &container_status(&failed, "app")["state"]["terminated"];
    assert_eq!(
        (terminated["exitCode"].as_i64(), terminated["reason"].as_str()),
        (Some(1), Some("Error"))
    );
    c.wait_phase("onfailure-ok", "Succeeded", MINUTE);
    for restarting in ["onfailure-fail", "always-ok"] {
        let pod = c.wait_pod(restarting, "restarted", MINUTE, |p| {
            container_status(p, "app")["restartCount"].as_i64() >= Some(1)
        });
        assert_eq!(pod["status"]["phase"], "Running", "{restarting}");
    }
    let table = c.kubectl_ok(&["get", "pods"]);
    assert!(table.contains("Completed") && table.contains("Error"), "{table}");
}

#[test]
fn a_crashing_container_backs_off_with_growing_delays() {
    let c = Cluster::start("crash");
    c.apply(&pod_yaml(
        "crash",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'exit 3']
"
        ),
    ));
    // Record when each restart shows up.
    let start = Instant::now();
    let mut seen_at = Vec::new();
    let mut crash_loop = false;
    while seen_at.len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "restarts seen at {seen_at:?}"
        );
        let pod = c.pod("crash");
        let status = container_status(&pod, "app");
        let count = usize::try_from(status["restartCount"].as_i64().unwrap_or(0)).unwrap();
        if count > seen_at.len() {
            seen_at.push(start.elapsed().as_secs_f64());
        }
        if status["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
            crash_loop = true;
            let message = status["state"]["waiting"]["message"].as_str().unwrap();
            assert!(message.starts_with("back-off "), "{message}");
            assert_eq!(status["lastState"]["terminated"]["exitCode"], 3);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(crash_loop, "CrashLoopBackOff shown between restarts");
    let gaps: Vec<f64> = seen_at.windows(2).map(|w| w[1] - w[0]).collect();
    // 10 s, then 20 s (each give or take the relist).
    assert!(gaps[0] > 8.0 && gaps[0] < 14.0, "restarts at {seen_at:?}");
    assert!(gaps[1] > 18.0 && gaps[1] < 25.0, "restarts at {seen_at:?}");
    // kubectl's RESTARTS column counts them (STATUS flips between Running, Error and
    // CrashLoopBackOff as the container runs, exits and waits).
    let table = c.kubectl_ok(&["get", "pod", "crash", "--no-headers"]);
    let restarts: u32 = table
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(restarts >= 3, "{table}");
}

#[test]
fn host_aliases_land_in_etc_hosts_and_env_sees_the_pod() {
    let c = Cluster::start("hosts");
    c.apply(&pod_yaml(
        "hosts",
        &format!(
            "  hostname: web
  hostAliases:
  - ip: 10.1.2.3
    hostnames: [foo.local, bar.local]
  containers:
  - name: app
    image: {BUSYBOX}
    env:
    - name: MY_POD
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    - name: MY_IP
      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
    - name: MY_NODE
      valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
    - name: GREETING
      value: hello-$(MY_POD)
    command: [sh, -c, 'cat /etc/hosts; echo pod=$MY_POD ip=$MY_IP node=$MY_NODE $GREETING host=$(hostname); sleep 3600']
"
        ),
    ));
    let pod = c.wait_ready("hosts");
    let ip = pod["status"]["podIP"].as_str().unwrap().to_owned();
    let logs = c.wait_logs("hosts", "app", "pod=hosts");
    assert!(logs.contains("10.1.2.3\tfoo.local\tbar.local"), "{logs}");
    assert!(logs.contains(&format!("{ip}\tweb")), "{logs}");
    assert!(
        logs.contains(&format!("pod=hosts ip={ip} node={} hello-hosts host=web", c.node)),
        "{logs}"
    );
}

#[test]
fn host_network_pods_use_the_node_address_and_pods_reach_each_other_by_ip() {
    let c = Cluster::start("net");
    c.apply(&pod_yaml(
        "hostnet",
        &format!(
            "  hostNetwork: true
  hostPID: true
  hostIPC: true
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'hostname; echo processes=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l); sleep 3600']
"
        ),
    ));
    c.apply(&pod_yaml(
        "server",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'while true; do echo pong | nc -l -p 9000; done']
"
        ),
    ));
    let hostnet = c.wait_ready("hostnet");
    assert_eq!(hostnet["status"]["podIP"], hostnet["status"]["hostIP"]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let logs = c.wait_logs("hostnet", "app", "processes=");
    assert!(logs.contains(host.trim()), "{logs}");
    // hostPID: it sees the node's processes (the agent and the apiserver among them).
    let processes: usize = logs
        .split("processes=")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(processes > 5, "{logs}");
    let server = c.wait_ready("server");
    let ip = server["status"]["podIP"].as_str().unwrap().to_owned();
    assert_ne!(ip, server["status"]["hostIP"].as_str().unwrap());
    c.apply(&pod_yaml(
        "client",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'until nc {ip} 9000; do sleep 0.2; done; sleep 3600']
"
        ),
    ));
    c.wait_logs("client", "app", "pong");
}

#[test]
fn a_graceful_delete_waits_for_the_grace_period_and_leaves_nothing_behind() {
    let c = Cluster::start("grace");
    c.apply(&pod_yaml(
        "stubborn",
        &format!(
            "  terminationGracePeriodSeconds: 4
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'trap \"echo got TERM\" TERM; echo started; while true; do sleep 0.2; done']
  - name: polite
    image: {BUSYBOX}
    command: [sh, -c, 'trap \"exit 0\" TERM; while true; do sleep 0.2; done']
"
        ),
    ));
    c.wait_ready("stubborn");
    c.wait_logs("stubborn", "app", "started");
    let start = Instant::now();
    c.kubectl_ok(&["delete", "pod", "stubborn"]);
    let took = start.elapsed();
    // SIGTERM is ignored, so the kill comes at the end of the grace period.
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(12),
        "deletion took {took:?}"
    );
    c.wait_for("the pod to be gone", MINUTE, |c| c.pod("stubborn").is_null());
    assert!(c.containers().is_empty(), "no container left: {:?}", c.containers());
}

#[test]
fn a_restarted_agent_adopts_running_pods_without_restarting_them() {
    let mut c = Cluster::start("adopt");
    c.apply(&pod_yaml(
        "steady",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
"
        ),
    ));
    let before = c.wait_ready("steady");
    let id = c.container_id("steady", "app");
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &id]);
    c.kill_agent();
    // While it is away the pod is deleted for good; the next agent removes its containers.
    c.apply(&pod_yaml(
        "doomed",
        &format!(
            "  nodeName: {}
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
",
            c.node
        ),
    ));
    c.start_agent();
    c.wait_ready("doomed");
    let doomed = c.container_id("doomed", "app");
    c.kill_agent();
    c.kubectl_ok(&["delete", "pod", "doomed", "--grace-period=0", "--force"]);
    c.start_agent();
    c.wait_for("the deleted pod's containers to go", MINUTE, |_| {
        docker(&["ps", "-a", "-q", "--filter", &format!("id={doomed}")]).is_empty()
    });
    // The steady pod never restarted.
    std::thread::sleep(Duration::from_secs(3));
    let after = c.pod("steady");
    assert_eq!(c.container_id("steady", "app"), id);
    assert_eq!(docker(&["inspect", "-f", "{{.State.StartedAt}}", &id]), started);
    assert_eq!(container_status(&after, "app")["restartCount"], 0);
    assert_eq!(
        container_status(&after, "app")["containerID"],
        container_status(&before, "app")["containerID"]
    );
    // Deleting everything leaves no Podium container behind.
    c.kubectl_ok(&["delete", "pods", "--all", "--grace-period=1"]);
    c.wait_for("no containers", MINUTE, |c| c.containers().is_empty());
}

#[test]
fn a_missing_image_reports_err_image_pull_then_back_off() {
    let c = Cluster::start("pull");
    c.apply(&pod_yaml(
        "missing",
        "  containers:
  - name: app
    image: podium-test/does-not-exist:1
",
    ));
    c.wait_pod("missing", "ErrImagePull", MINUTE, |p| {
        container_status(p, "app")["state"]["waiting"]["reason"] == "ErrImagePull"
    });
    let pod = c.wait_pod("missing", "ImagePullBackOff", MINUTE, |p| {
        container_status(p, "app")["state"]["waiting"]["reason"] == "ImagePullBackOff"
    });
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(
        container_status(&pod, "app")["state"]["waiting"]["message"],
        "Back-off pulling image \"podium-test/does-not-exist:1\""
    );
}

#[test]
fn host_ports_reach_the_pod_and_a_dead_sandbox_is_made_again() {
    let c = Cluster::start("sandbox");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    c.apply(&pod_yaml(
        "web",
        &format!(
            "  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'mkdir -p /www && echo hello-host-port > /www/index.html && httpd -f -p 8080 -h /www']
    ports:
    - {{containerPort: 8080, hostPort: {port}, hostIP: 127.0.0.1}}
"
        ),
    ));
    c.wait_ready("web");
    let get = || -> Option<String> {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut answer = String::new();
        conn.read_to_string(&mut answer).ok()?;
        Some(answer)
    };
    c.wait_for("the host port to answer", MINUTE, |_| {
        get().is_some_and(|a| a.contains("hello-host-port"))
    });
    // Kill the pause container: the pod gets a new sandbox (attempt 1) and its app restarts.
    let sandbox = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.podium.node={}", c.node),
        "--filter",
        "label=io.kubernetes.docker.type=podsandbox",
    ]);
    docker(&["kill", &sandbox]);
    let pod = c.wait_pod("web", "restarted in a new sandbox", MINUTE, |p| {
        container_status(p, "app")["restartCount"].as_i64() >= Some(1) && container_status(p, "app")["ready"] == true
    });
    assert_eq!(pod["status"]["phase"], "Running");
    let names = docker(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=io.podium.node={}", c.node),
    ]);
    assert!(
        names.contains("k8s_POD_web_default_") && names.contains("_1"),
        "{names}"
    );
    c.wait_for("the host port to answer again", MINUTE, |_| {
        get().is_some_and(|a| a.contains("hello-host-port"))
    });
}
