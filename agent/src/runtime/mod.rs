//! The container runtime as the agent sees it: a CRI-shaped trait, implemented on Docker
//! Engine (`docker`) and, for unit tests, in memory (`fake`); `instrumented` wraps either with
//! the kubelet's runtime operation metrics.
//!
//! Every container the agent makes carries labels (`pod::labels`) naming its pod, container
//! and attempt, so the agent can find them again after a restart with `list_containers`.

mod docker;
mod fake;
mod instrumented;
pub mod tar;

pub use docker::{DEFAULT_DOCKER_HOST, DockerRuntime};

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use fake::{Call, FakeRuntime};
pub use instrumented::Instrumented;

/// The runtime's name and version, as `nodeInfo.containerRuntimeVersion` shows it
/// (`docker://28.2.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    pub name: String,
    pub version: String,
    /// `systemd` or `cgroupfs`: how cgroup parents are named.
    pub cgroup_driver: String,
}

impl RuntimeVersion {
    pub fn for_node_info(&self) -> String {
        format!("{}://{}", self.name, self.version)
    }
}

/// The network a sandbox joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxNetwork {
    /// The cluster's pod network (a Docker bridge network of this name).
    Pod(String),
    /// The node's own network namespace (`hostNetwork`).
    Host,
}

/// A published host port (`hostPort`), which belongs on the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPortMapping {
    pub container_port: i32,
    pub host_port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Empty for every address.
    pub host_ip: String,
}

/// How to run a pod's sandbox (pause) container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// The container's name, unique per pod and attempt.
    pub name: String,
    pub image: String,
    /// The pod's hostname (ignored on the host network).
    pub hostname: String,
    pub network: SandboxNetwork,
    pub host_ipc: bool,
    pub host_pid: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    pub ports: Vec<HostPortMapping>,
    /// Namespaced sysctls of the pod (its network and IPC namespaces are the sandbox's).
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// The cgroup the pod's containers go under (its QoS class's).
    pub cgroup_parent: String,
}

/// What the runtime says about a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxStatus {
    pub id: String,
    pub running: bool,
    /// The pod IP on the pod network.
    pub ip: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A host file or directory bound into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host_path: std::path::PathBuf,
    pub container_path: String,
    pub read_only: bool,
}

/// How to create an app (or init) container inside a sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// The entrypoint (Kubernetes' `command`); empty keeps the image's.
    pub command: Vec<String>,
    /// The arguments (Kubernetes' `args`); empty keeps the image's when `command` is empty.
    pub args: Vec<String>,
    pub working_dir: String,
    pub env: Vec<(String, String)>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub tty: bool,
    pub stdin: bool,
    /// Join the sandbox's PID namespace (`shareProcessNamespace`).
    pub share_process_namespace: bool,
    /// The node's PID and IPC namespaces (`hostPID`, `hostIPC`).
    pub host_pid: bool,
    pub host_ipc: bool,
    pub mounts: Vec<Mount>,
    pub security: Security,
    pub resources: Resources,
}

/// A container's security settings (its securityContext and the pod's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// `uid` or `uid:gid`; empty keeps the image's user.
    pub user: String,
    pub group_add: Vec<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only_root_filesystem: bool,
    /// Docker security options: `no-new-privileges`, `seccomp=unconfined`,
    /// `systempaths=unconfined`.
    pub security_opt: Vec<String>,
}

/// A container's resource controls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub pids_limit: Option<i64>,
    pub oom_score_adj: Option<i64>,
    pub cgroup_parent: String,
}

/// What an image says about how to run it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// The image's `USER` (empty: root).
    pub user: String,
}

/// A container (sandbox or not) as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub running: bool,
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
}

/// What the runtime says about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    pub id: String,
    pub state: ContainerState,
    pub exit_code: Option<i64>,
    /// For an exited container: `Completed`, `Error`, `OOMKilled` or `ContainerCannotRun`, as
    /// Kubernetes names them.
    pub reason: String,
    pub message: String,
    /// Unix times in seconds.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub image_id: String,
    pub labels: std::collections::BTreeMap<String, String>,
}

/// Kubernetes' reason for a container that exited.
pub fn exit_reason(exit_code: i64, oom_killed: bool) -> &'static str {
    match (oom_killed, exit_code) {
        (true, _) => "OOMKilled",
        (false, 0) => "Completed",
        _ => "Error",
    }
}

/// A piece of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// A stream of output, ending when the container (or command) closes it.
pub type OutputStream = BoxStream<'static, Result<Output>>;

/// Which logs to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    /// Only the last lines.
    pub tail_lines: Option<i64>,
    /// Only lines written since this Unix time (seconds).
    pub since: Option<i64>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
}

/// A command to run in a running container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
}

/// A running command: its output, and its stdin when asked for.
pub struct ExecSession {
    /// The runtime's id of the command, for `resize_exec` and `exec_exit_code`.
    pub id: String,
    pub output: OutputStream,
    pub input: Option<Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An image the runtime holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its references (`busybox:1.36`, `busybox@sha256:...`).
    pub names: Vec<String>,
    pub size_bytes: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot reach the container runtime at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("container runtime error: {0}")]
    Other(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// A container runtime.
pub trait ContainerRuntime: Send + Sync + 'static {
    fn version(&self) -> impl Future<Output = Result<RuntimeVersion>> + Send;
    fn list_images(&self) -> impl Future<Output = Result<Vec<Image>>> + Send;
    fn image_exists(&self, reference: &str) -> impl Future<Output = Result<bool>> + Send;
    /// The image's run configuration; `None` when the runtime lacks it.
    fn image_config(&self, reference: &str) -> impl Future<Output = Result<Option<ImageConfig>>> + Send;
    /// Pulls `reference` from its registry.
    fn pull_image(&self, reference: &str) -> impl Future<Output = Result<()>> + Send;
    /// Every container and sandbox (running or not) carrying all of `labels`.
    fn list_containers(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<ContainerSummary>>> + Send;
    /// Creates image `reference` from a root filesystem tar, with Dockerfile-style `changes`
    /// (`ENTRYPOINT ["/pause"]`): an image FROM scratch without a registry.
    fn import_image(
        &self,
        reference: &str,
        rootfs_tar: Vec<u8>,
        changes: Vec<String>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Creates the pod network (a bridge network) if it does not exist; with `subnet` (the
    /// node's podCIDR) the network has that subnet, and an existing one with another subnet
    /// is an error.
    fn ensure_network(&self, name: &str, subnet: Option<&str>) -> impl Future<Output = Result<()>> + Send;
    /// Creates and starts a sandbox; returns its id.
    fn run_sandbox(&self, config: &SandboxConfig) -> impl Future<Output = Result<String>> + Send;
    /// The sandbox's state; `None` when it does not exist.
    fn sandbox_status(&self, id: &str) -> impl Future<Output = Result<Option<SandboxStatus>>> + Send;
    /// Stops a sandbox, killing it after `timeout_seconds`; a missing one is already stopped.
    fn stop_sandbox(&self, id: &str, timeout_seconds: i64) -> impl Future<Output = Result<()>> + Send;
    /// Removes a sandbox; a missing one is already removed.
    fn remove_sandbox(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Creates a container that joins the sandbox's network and IPC (and, when asked, PID)
    /// namespaces; returns its id.
    fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
    ) -> impl Future<Output = Result<String>> + Send;
    fn start_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Sends `signal` (SIGTERM when `None`), then kills after `timeout_seconds`.
    fn stop_container(
        &self,
        id: &str,
        timeout_seconds: i64,
        signal: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn remove_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// The container's state; `None` when it does not exist.
    fn container_status(&self, id: &str) -> impl Future<Output = Result<Option<ContainerStatus>>> + Send;
    /// The container's output (stdout and stderr, in order).
    fn logs(&self, id: &str, options: &LogOptions) -> impl Future<Output = Result<OutputStream>> + Send;
    /// Starts `config.command` in running container `id`.
    fn exec(&self, id: &str, config: &ExecConfig) -> impl Future<Output = Result<ExecSession>> + Send;
    /// Resizes the terminal of a command started with a tty.
    fn resize_exec(&self, exec_id: &str, width: u16, height: u16) -> impl Future<Output = Result<()>> + Send;
    /// The exit code of a command whose output has ended; `None` while it runs.
    fn exec_exit_code(&self, exec_id: &str) -> impl Future<Output = Result<Option<i64>>> + Send;
}
