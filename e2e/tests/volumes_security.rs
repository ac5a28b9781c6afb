//! Volumes, security contexts, resource limits, deadlines and termination messages, end to
//! end on Docker, checked from inside the containers with `kubectl exec`.

use std::time::Duration;

use podium_e2e::{BUSYBOX, Cluster};
use serde_json::Value;

const MINUTE: Duration = Duration::from_secs(60);

fn pod_yaml(name: &str, body: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n{body}")
}

fn exec(c: &Cluster, pod: &str, container: &str, script: &str) -> (i32, String) {
    let out = c.kubectl(&["exec", pod, "-c", container, "--", "sh", "-c", script]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn container_state(pod: &Value, name: &str) -> Value {
    pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .map(|c| c["state"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn volumes_empty_dir_memory_host_path_and_downward_api() {
    let c = Cluster::start("volumes");
    let host = tempfile::tempdir().unwrap();
    let host_dir = host.path().join("made-by-agent");
    let host_file = host.path().join("existing.txt");
    std::fs::write(&host_file, "from-the-host\n").unwrap();
    c.apply(&pod_yaml(
        "vols",
        &format!(
            "  containers:
  - name: writer
    image: {BUSYBOX}
    command: [sh, -c, 'echo shared-data > /data/shared; sleep 3600']
    volumeMounts:
    - {{name: scratch, mountPath: /data}}
    - {{name: mem, mountPath: /mem}}
    - {{name: made, mountPath: /made}}
    - {{name: file, mountPath: /host.txt, readOnly: true}}
    - {{name: info, mountPath: /info}}
    - {{name: scratch, mountPath: /sub, subPath: nested/dir}}
  - name: reader
    image: {BUSYBOX}
    command: [sleep, '3600']
    volumeMounts:
    - {{name: scratch, mountPath: /data, readOnly: true}}
  volumes:
  - {{name: scratch, emptyDir: {{}}}}
  - {{name: mem, emptyDir: {{medium: Memory, sizeLimit: 16Mi}}}}
  - {{name: made, hostPath: {{path: {}, type: DirectoryOrCreate}}}}
  - {{name: file, hostPath: {{path: {}, type: File}}}}
  - name: info
    downwardAPI:
      items:
      - {{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}
      - {{path: name, fieldRef: {{fieldPath: metadata.name}}}}
",
            host_dir.display(),
            host_file.display()
        ),
    ));
    c.wait_ready("vols");
    c.wait_for("the shared file", MINUTE, |c| {
        exec(c, "vols", "reader", "cat /data/shared").1 == "shared-data\n"
    });
    // The reader's mount is read-only.
    let (code, _) = exec(&c, "vols", "reader", "touch /data/nope");
    assert_ne!(code, 0);
    // Memory emptyDir is a tmpfs of the given size.
    let (_, mounts) = exec(&c, "vols", "writer", "grep ' /mem ' /proc/mounts");
    assert!(mounts.starts_with("tmpfs /mem tmpfs"), "{mounts}");
    let (_, df) = exec(&c, "vols", "writer", "df -k /mem | tail -1");
    assert!(df.split_whitespace().nth(1) == Some("16384"), "{df}");
    // hostPath: DirectoryOrCreate made the directory; a file is bound read-only.
    assert!(host_dir.is_dir());
    exec(&c, "vols", "writer", "echo hi > /made/x");
    assert_eq!(std::fs::read_to_string(host_dir.join("x")).unwrap(), "hi\n");
    assert_eq!(exec(&c, "vols", "writer", "cat /host.txt").1, "from-the-host\n");
    assert_ne!(exec(&c, "vols", "writer", "echo x > /host.txt").0, 0);
    // subPath is a directory inside the volume.
    exec(&c, "vols", "writer", "echo deep > /sub/f");
    assert_eq!(exec(&c, "vols", "reader", "cat /data/nested/dir/f").1, "deep\n");
    // downwardAPI files, updated when the labels change.
    assert_eq!(exec(&c, "vols", "writer", "cat /info/name").1, "vols");
    assert_eq!(exec(&c, "vols", "writer", "cat /info/labels").1, "app=\"vols\"");
    c.kubectl_ok(&["label", "pod", "vols", "tier=front"]);
    c.wait_for("the labels file to change", MINUTE, |c| {
        exec(c, "vols", "writer", "cat /info/labels").1 == "app=\"vols\"\ntier=\"front\""
    });
}

#[test]
fn an_empty_dir_over_its_size_limit_evicts_the_pod() {
    let c = Cluster::start("sizelimit");
    c.apply(&pod_yaml(
        "filler",
        &format!(
            "  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'dd if=/dev/zero of=/cache/blob bs=1M count=4; sleep 3600']
    volumeMounts: [{{name: cache, mountPath: /cache}}]
  volumes:
  - {{name: cache, emptyDir: {{sizeLimit: 1Mi}}}}
"
        ),
    ));
    let pod = c.wait_phase("filler", "Failed", MINUTE);
    assert_eq!(pod["status"]["reason"], "Evicted");
    assert_eq!(
        pod["status"]["message"],
        "Usage of EmptyDir volume \"cache\" exceeds the limit \"1Mi\". "
    );
}

#[test]
fn a_wrong_host_path_type_or_an_unsupported_volume_keeps_the_pod_from_starting() {
    let c = Cluster::start("badvol");
    c.apply(&pod_yaml(
        "badtype",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
    volumeMounts: [{{name: v, mountPath: /v}}]
  volumes:
  - {{name: v, hostPath: {{path: /etc/hostname, type: Directory}}}}
"
        ),
    ));
    c.apply(&pod_yaml(
        "secretvol",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
  volumes:
  - {{name: creds, secret: {{secretName: creds}}}}
"
        ),
    ));
    c.wait_for("FailedMount events", MINUTE, |c| {
        let events = c.kubectl_ok(&["get", "events", "--field-selector", "reason=FailedMount"]);
        events.contains("hostPath type check failed: /etc/hostname is not a directory")
            && events.contains("secret volumes are not supported")
    });
    for name in ["badtype", "secretvol"] {
        let pod = c.pod(name);
        assert_eq!(pod["status"]["phase"], "Pending", "{name}");
        assert_eq!(container_state(&pod, "app")["waiting"]["reason"], "ContainerCreating");
    }
}

#[test]
fn security_contexts_apply_and_run_as_non_root_refuses_a_root_image() {
    let c = Cluster::start("security");
    c.apply(&pod_yaml(
        "secure",
        &format!(
            "  securityContext:
    runAsUser: 1234
    runAsGroup: 5678
    supplementalGroups: [4000]
    fsGroup: 2000
    sysctls:
    - {{name: net.ipv4.ip_unprivileged_port_start, value: '1000'}}
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
  - name: root
    image: {BUSYBOX}
    command: [sleep, '3600']
    securityContext:
      runAsUser: 0
      seccompProfile: {{type: Unconfined}}
  volumes:
  - {{name: scratch, emptyDir: {{}}}}
"
        ),
    ));
    c.wait_ready("secure");
    let (_, id) = exec(&c, "secure", "app", "id");
    assert!(id.contains("uid=1234") && id.contains("gid=5678"), "{id}");
    assert!(
        id.contains("2000") && id.contains("4000"),
        "supplemental and fsGroup: {id}"
    );
    let (code, out) = exec(&c, "secure", "app", "touch /newfile");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    // fsGroup owns the emptyDir, so the non-root user can write there.
    assert_eq!(
        exec(&c, "secure", "app", "touch /scratch/ok && stat -c %g /scratch/ok").1,
        "2000\n"
    );
    // Capabilities: none left for the app; the root container keeps Docker's default set.
    let caps = |container: &str| exec(&c, "secure", container, "grep CapEff /proc/self/status").1;
    assert!(caps("app").contains("0000000000000000"), "{}", caps("app"));
    assert!(!caps("root").contains("0000000000000000"), "{}", caps("root"));
    assert!(
        exec(&c, "secure", "app", "grep NoNewPrivs /proc/self/status")
            .1
            .contains('1')
    );

    c.apply(&pod_yaml(
        "nonroot",
        &format!(
            "  securityContext:
    runAsNonRoot: true
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
"
        ),
    ));
    let pod = c.wait_pod("nonroot", "refused", MINUTE, |p| {
        container_state(p, "app")["waiting"]["reason"] == "CreateContainerConfigError"
    });
    let message = container_state(&pod, "app")["waiting"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("container has runAsNonRoot and image will run as root"),
        "{message}"
    );
}

#[test]
fn limits_reach_the_cgroup_and_a_memory_hog_is_oom_killed() {
    let c = Cluster::start("limits");
    c.apply(&pod_yaml(
        "limited",
        &format!(
            "  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
    resources:
      requests: {{cpu: 250m, memory: 32Mi}}
      limits: {{cpu: 500m, memory: 64Mi}}
"
        ),
    ));
    c.wait_ready("limited");
    // cgroup v1 or v2, whichever the host has.
    let (_, cpu) = exec(
        &c,
        "limited",
        "app",
        "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    );
    assert!(cpu.starts_with("50000"), "a 500m limit is 50000us per 100000us: {cpu}");
    let (_, memory) = exec(
        &c,
        "limited",
        "app",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    );
    assert_eq!(memory.trim(), (64 * 1024 * 1024).to_string());
    // A Burstable pod sits under its QoS class's cgroup.
    let (_, cgroup) = exec(&c, "limited", "app", "cat /proc/self/cgroup");
    assert!(
        cgroup.contains("podium/burstable") || cgroup.contains("podium-burstable.slice"),
        "{cgroup}"
    );
    c.apply(&pod_yaml(
        "hog",
        &format!(
            "  restartPolicy: Never
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sh, -c, 'dd if=/dev/zero of=/dev/null bs=200M count=1']
    resources:
      limits: {{memory: 32Mi}}
"
        ),
    ));
    let pod = c.wait_phase("hog", "Failed", MINUTE);
    let terminated = &container_state(&pod, "app")["terminated"];
    assert_eq!(terminated["reason"], "OOMKilled", "{terminated}");
    assert_eq!(terminated["exitCode"], 137);
}

#[test]
fn deadlines_fail_the_pod_and_termination_messages_are_reported() {
    let c = Cluster::start("deadline");
    c.apply(&pod_yaml(
        "short",
        &format!(
            "  activeDeadlineSeconds: 3
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {BUSYBOX}
    command: [sleep, '3600']
"
        ),
    ));
    let pod = c.wait_phase("short", "Failed", MINUTE);
    assert_eq!(pod["status"]["reason"], "DeadlineExceeded");
    assert_eq!(
        pod["status"]["message"],
        "Pod was active on the node longer than the specified deadline"
    );
    c.apply(&pod_yaml(
        "messages",
        &format!(
            "  restartPolicy: Never
  containers:
  - name: file
    image: {BUSYBOX}
    command: [sh, -c, 'echo all done > /dev/termination-log']
  - name: custom
    image: {BUSYBOX}
    terminationMessagePath: /tmp/why
    command: [sh, -c, 'echo custom reason > /tmp/why; exit 2']
  - name: logs
    image: {BUSYBOX}
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, 'echo last words; exit 1']
"
        ),
    ));
    let pod = c.wait_phase("messages", "Failed", MINUTE);
    let message = |name: &str| container_state(&pod, name)["terminated"]["message"].clone();
    assert_eq!(message("file"), "all done\n");
    assert_eq!(message("custom"), "custom reason\n");
    assert_eq!(message("logs"), "last words\n");
}
