//! The agent against the real Docker Engine: the runtime answers, the `agent` binary
//! registers its node with Docker's version, stops on SIGTERM, and names the socket it could
//! not reach.

use std::process::{Command, Stdio};
use std::time::Duration;

use podium_agent::runtime::{ContainerRuntime, DEFAULT_DOCKER_HOST, DockerRuntime};
use podium_apiserver::{Config, start};
use podium_client::Client;
use podium_proto::k8s::core::v1::Node;
use tokio_util::sync::CancellationToken;

const AGENT: &str = env!("CARGO_BIN_EXE_agent");

#[tokio::test]
async fn docker_reports_its_version_and_images() {
    let docker = DockerRuntime::connect(DEFAULT_DOCKER_HOST)
        .await
        .expect("Docker Engine is running");
    let version = docker.version().await.unwrap();
    assert_eq!(version.name, "docker");
    assert!(!version.version.is_empty());
    docker.list_images().await.unwrap();
}

#[test]
fn an_unreachable_docker_is_named_in_the_error() {
    let out = Command::new(AGENT)
        .args(["--docker-host", "unix:///nonexistent/docker.sock", "--root-dir"])
        .arg(std::env::temp_dir().join("podium-agent-test"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/docker.sock"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_binary_registers_its_node_with_docker() {
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let server = start(
        Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data")),
        stop.clone(),
    )
    .await
    .unwrap();
    let url = format!("http://{}", server.local_addr);
    let mut agent = Command::new(AGENT)
        .args([
            "--apiserver",
            &url,
            "--node-name",
            "docker-node",
            "--node-labels",
            "zone=a",
            "--root-dir",
        ])
        .arg(dir.path().join("agent"))
        .arg("--pause-binary")
        .arg(pause_binary())
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("agent.log")).unwrap())
        .spawn()
        .unwrap();
    let nodes = Client::new(&url).unwrap().resource::<Node>("");
    let mut node = None;
    for _ in 0..100 {
        if let Ok(Some(n)) = nodes.get_opt("docker-node").await
            && n.status.is_some()
        {
            node = Some(n);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(node) = node else {
        let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
        panic!("the agent did not register its node:\n{log}");
    };
    let info = node.status.as_ref().unwrap().node_info.as_ref().unwrap();
    assert!(
        info.container_runtime_version.starts_with("docker://"),
        "{}",
        info.container_runtime_version
    );
    assert_eq!(node.metadata.as_ref().unwrap().labels["zone"], "a");
    Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = agent.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(status.expect("the agent stops on SIGTERM").success());
    let pause = podium_agent::pause::pause_version(&pause_binary()).unwrap();
    let _ = Command::new("docker")
        .args([
            "rmi",
            "-f",
            &format!("{}:{pause}", podium_agent::pause::PAUSE_REPOSITORY),
        ])
        .output();
    stop.cancel();
    server.wait().await.unwrap();
}

/// The release pause binary, which `bash .ci/run` builds before the tests.
fn pause_binary() -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pause/target/release/pause");
    assert!(
        path.exists(),
        "build pause first: cargo build --release --manifest-path pause/Cargo.toml"
    );
    path
}

#[tokio::test]
async fn the_pause_image_is_imported_from_the_binary_and_runs() {
    use podium_agent::pause::{PAUSE_REPOSITORY, ensure_pause_image, pause_version};

    let docker = DockerRuntime::connect(DEFAULT_DOCKER_HOST).await.unwrap();
    let binary = pause_binary();
    let reference = format!("{PAUSE_REPOSITORY}:{}", pause_version(&binary).unwrap());
    // Start from no image (a previous run may have left it), and leave none behind.
    let _ = Command::new("docker").args(["rmi", "-f", &reference]).output();
    assert!(!docker.image_exists(&reference).await.unwrap());
    assert_eq!(ensure_pause_image(&docker, &binary).await.unwrap(), reference);
    assert!(docker.image_exists(&reference).await.unwrap());
    assert_eq!(
        ensure_pause_image(&docker, &binary).await.unwrap(),
        reference,
        "a second call finds it"
    );
    let out = Command::new("docker")
        .args(["run", "--rm", &reference, "-v"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &reference]).output();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pause (podium) "));
}

/// The sandbox life cycle every runtime must follow; run on Docker and on the fake, so the
/// fake the unit tests use behaves like the real thing.
async fn sandbox_life_cycle<R: podium_agent::runtime::ContainerRuntime>(runtime: &R, image: &str, tag: &str) {
    use podium_agent::runtime::{SandboxConfig, SandboxNetwork};

    let network = format!("podium-test-{tag}");
    // A node's podCIDR (`--host-gw`): a free /24 of 10.213.0.0/16 per test process.
    let prefix = format!("10.213.{}", std::process::id() % 250);
    let subnet = format!("{prefix}.0/24");
    runtime.ensure_network(&network, Some(&subnet)).await.unwrap();
    runtime.ensure_network(&network, Some(&subnet)).await.unwrap();
    runtime.ensure_network(&network, None).await.unwrap();
    let other = format!("10.213.{}.0/24", std::process::id() % 250 + 1);
    let err = runtime.ensure_network(&network, Some(&other)).await.unwrap_err();
    assert!(err.to_string().contains(&subnet), "{err}");
    let config = SandboxConfig {
        name: format!("podium-test-sandbox-{tag}"),
        image: image.to_owned(),
        hostname: "web-0".into(),
        network: SandboxNetwork::Pod(network.clone()),
        host_ipc: false,
        host_pid: false,
        labels: [("io.podium.pod.uid".to_owned(), tag.to_owned())].into(),
        ports: Vec::new(),
        sysctls: Default::default(),
        cgroup_parent: String::new(),
    };
    let id = runtime.run_sandbox(&config).await.unwrap();
    let status = runtime.sandbox_status(&id).await.unwrap().expect("the sandbox exists");
    assert!(status.running);
    let ip = status.ip.expect("the sandbox has a pod IP");
    assert!(ip.starts_with(&format!("{prefix}.")), "{ip} is in {subnet}");
    assert_eq!(status.labels["io.podium.pod.uid"], tag);
    assert!(runtime.run_sandbox(&config).await.is_err(), "names are unique");
    runtime.stop_sandbox(&id, 5).await.unwrap();
    assert!(!runtime.sandbox_status(&id).await.unwrap().unwrap().running);
    runtime.remove_sandbox(&id).await.unwrap();
    assert!(runtime.sandbox_status(&id).await.unwrap().is_none());
    runtime.remove_sandbox(&id).await.unwrap();
    runtime.stop_sandbox(&id, 5).await.unwrap();
}

#[tokio::test]
async fn sandboxes_run_stop_and_go_on_docker_and_on_the_fake() {
    use podium_agent::pause::ensure_pause_image;
    use podium_agent::runtime::FakeRuntime;

    let tag = format!("{}", std::process::id());
    sandbox_life_cycle(&FakeRuntime::default(), "podium/pause:test", &tag).await;

    let docker = DockerRuntime::connect(DEFAULT_DOCKER_HOST).await.unwrap();
    let image = ensure_pause_image(&docker, &pause_binary()).await.unwrap();
    sandbox_life_cycle(&docker, &image, &tag).await;
    let _ = Command::new("docker")
        .args(["network", "rm", &format!("podium-test-{tag}")])
        .output();
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
}

/// A test image holding only Debian's static busybox (no registry: imported from a tar).
async fn busybox_image(docker: &DockerRuntime) -> String {
    use podium_agent::runtime::tar::single_file_tar;

    let binary = std::fs::read("/bin/busybox").expect("busybox-static is installed (bash .ci/run installs it)");
    let reference = "podium-test/busybox:latest".to_owned();
    docker
        .import_image(&reference, single_file_tar("busybox", 0o755, &binary), Vec::new())
        .await
        .unwrap();
    reference
}

#[tokio::test]
async fn containers_join_their_sandbox_and_report_how_they_ended() {
    use podium_agent::pause::ensure_pause_image;
    use podium_agent::runtime::{ContainerConfig, ContainerState, SandboxConfig, SandboxNetwork};

    let docker = DockerRuntime::connect(DEFAULT_DOCKER_HOST).await.unwrap();
    let tag = format!("c{}", std::process::id());
    let network = format!("podium-test-{tag}");
    docker.ensure_network(&network, None).await.unwrap();
    let pause = ensure_pause_image(&docker, &pause_binary()).await.unwrap();
    let busybox = busybox_image(&docker).await;
    let sandbox = docker
        .run_sandbox(&SandboxConfig {
            name: format!("podium-test-sandbox-{tag}"),
            image: pause.clone(),
            hostname: "web-0".into(),
            network: SandboxNetwork::Pod(network.clone()),
            host_ipc: false,
            host_pid: false,
            labels: Default::default(),
            ports: Vec::new(),
            sysctls: Default::default(),
            cgroup_parent: String::new(),
        })
        .await
        .unwrap();
    let container = |name: &str, script: &str| ContainerConfig {
        name: format!("podium-test-{name}-{tag}"),
        image: busybox.clone(),
        command: vec!["/busybox".into(), "sh".into(), "-c".into(), script.into()],
        env: vec![("GREETING".into(), "hi".into())],
        ..Default::default()
    };
    // Exit code and reason of a failing container; it sees the pod's hostname and its env.
    let failing = docker
        .create_container(
            &sandbox,
            &container(
                "fail",
                "[ \"$(/busybox hostname)\" = web-0 ] && [ \"$GREETING\" = hi ] && exit 3",
            ),
        )
        .await
        .unwrap();
    docker.start_container(&failing).await.unwrap();
    let mut status = None;
    for _ in 0..100 {
        let s = docker.container_status(&failing).await.unwrap().unwrap();
        if s.state == ContainerState::Exited {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("the container exits");
    assert_eq!((status.exit_code, status.reason.as_str()), (Some(3), "Error"));
    assert!(status.started_at.is_some() && status.finished_at.is_some());
    // A long-running one stops when asked.
    let sleeper = docker
        .create_container(&sandbox, &container("sleep", "/busybox sleep 60"))
        .await
        .unwrap();
    docker.start_container(&sleeper).await.unwrap();
    assert_eq!(
        docker.container_status(&sleeper).await.unwrap().unwrap().state,
        ContainerState::Running
    );
    docker.stop_container(&sleeper, 1, None).await.unwrap();
    assert_eq!(
        docker.container_status(&sleeper).await.unwrap().unwrap().state,
        ContainerState::Exited
    );
    for id in [&failing, &sleeper] {
        docker.remove_container(id).await.unwrap();
        assert!(docker.container_status(id).await.unwrap().is_none());
    }
    docker.remove_sandbox(&sandbox).await.unwrap();
    let _ = Command::new("docker").args(["network", "rm", &network]).output();
    let _ = Command::new("docker").args(["rmi", "-f", &pause, &busybox]).output();
}
