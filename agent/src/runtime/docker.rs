//! `ContainerRuntime` on Docker Engine, through bollard with the API version negotiated (the
//! daemon may be older than bollard's default).

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerStateStatusEnum, ContainerSummaryStateEnum, HealthConfig, HostConfig, Ipam,
    IpamConfig, NetworkCreateRequest, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptionsBuilder, InspectContainerOptions, InspectNetworkOptions,
    ListContainersOptionsBuilder, ListImagesOptions, LogsOptionsBuilder, RemoveContainerOptions,
    ResizeExecOptionsBuilder, StartContainerOptions, StopContainerOptions,
};
use futures::StreamExt;

use super::{
    ContainerConfig, ContainerRuntime, ContainerState, ContainerStatus, ContainerSummary, ExecConfig, ExecSession,
    Image, ImageConfig, LogOptions, Output, OutputStream, Result, RuntimeError, RuntimeVersion, SandboxConfig,
    SandboxNetwork, SandboxStatus, exit_reason,
};

/// Docker's out-of-memory score for sandboxes, as Kubernetes sets it: killed last.
const SANDBOX_OOM_SCORE_ADJ: i64 = -998;
/// The sandbox's CPU shares: it only sleeps.
const SANDBOX_CPU_SHARES: i64 = 2;

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }
    )
}

/// Seconds a Docker API call may take.
const TIMEOUT_SECONDS: u64 = 120;

/// The default Docker endpoint.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    endpoint: String,
    /// The daemon refused a lowered OOM score once (it lacks CAP_SYS_RESOURCE): from then on
    /// the agent does not ask for one, rather than failing and retrying every container.
    oom_refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl DockerRuntime {
    /// Connects to `endpoint` (`unix:///path` or `tcp://host:port`) and checks the daemon
    /// answers; the error names the endpoint tried.
    pub async fn connect(endpoint: &str) -> Result<Self> {
        let unreachable = |reason: String| RuntimeError::Unreachable {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let docker = if endpoint.starts_with("unix://") || endpoint.starts_with('/') {
            Docker::connect_with_unix(endpoint, TIMEOUT_SECONDS, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_http(endpoint, TIMEOUT_SECONDS, bollard::API_DEFAULT_VERSION)
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        docker.ping().await.map_err(|e| unreachable(e.to_string()))?;
        Ok(DockerRuntime {
            docker,
            endpoint: endpoint.to_owned(),
            oom_refused: Default::default(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn oom_refused(&self) -> bool {
        self.oom_refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn refuse_oom(&self) {
        self.oom_refused.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl DockerRuntime {
    /// Creates and starts a container; a container that does not start is removed again.
    async fn create_and_start(&self, name: &str, body: ContainerCreateBody) -> Result<String> {
        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let created = self.docker.create_container(Some(options), body).await.map_err(other)?;
        if let Err(e) = self
            .docker
            .start_container(&created.id, None::<StartContainerOptions>)
            .await
        {
            let _ = self.remove_sandbox(&created.id).await;
            return Err(other(e));
        }
        Ok(created.id)
    }
}

fn other(e: bollard::errors::Error) -> RuntimeError {
    RuntimeError::Other(e.to_string())
}

/// Docker's demultiplexed output as ours (a tty's output counts as stdout).
fn output_stream(
    stream: impl futures::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send + 'static,
) -> OutputStream {
    stream
        .filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => Some(Ok(Output::Stdout(message))),
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(other(e))),
            }
        })
        .boxed()
}

/// Docker's RFC 3339 time as Unix seconds; Docker's zero time (`0001-01-01...`) is none.
fn unix_seconds(time: Option<String>) -> Option<i64> {
    let time = chrono::DateTime::parse_from_rfc3339(&time?).ok()?;
    (time.timestamp() > 0).then(|| time.timestamp())
}

/// Applies `changes` as they stream from Docker, failing on the first error it reports.
async fn drain_progress(
    mut progress: impl futures::Stream<Item = std::result::Result<bollard::models::CreateImageInfo, bollard::errors::Error>>
    + Unpin,
    reference: &str,
) -> Result<()> {
    while let Some(step) = progress.next().await {
        let step = step.map_err(|e| RuntimeError::Other(format!("{reference}: {e}")))?;
        if let Some(error) = step.error_detail.and_then(|d| d.message) {
            return Err(RuntimeError::Other(format!("{reference}: {error}")));
        }
    }
    Ok(())
}

impl ContainerRuntime for DockerRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        let version = self.docker.version().await.map_err(other)?;
        let info = self.docker.info().await.map_err(other)?;
        Ok(RuntimeVersion {
            name: "docker".into(),
            version: version.version.unwrap_or_default(),
            cgroup_driver: info
                .cgroup_driver
                .map(|d| d.to_string())
                .unwrap_or_else(|| "cgroupfs".into()),
        })
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let images = self
            .docker
            .list_images(None::<ListImagesOptions>)
            .await
            .map_err(other)?;
        Ok(images
            .into_iter()
            .map(|image| {
                let names = image
                    .repo_tags
                    .into_iter()
                    .chain(image.repo_digests)
                    .filter(|name| !name.contains("<none>"))
                    .collect();
                Image {
                    names,
                    size_bytes: image.size,
                }
            })
            .collect())
    }

    async fn image_exists(&self, reference: &str) -> Result<bool> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(other(e)),
        }
    }

    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>, changes: Vec<String>) -> Result<()> {
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        let body = bollard::body_full(rootfs_tar.into());
        drain_progress(self.docker.create_image(Some(options), Some(body), None), reference).await
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(Some(ImageConfig {
                user: image.config.and_then(|c| c.user).unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(other(e)),
        }
    }

    async fn pull_image(&self, reference: &str) -> Result<()> {
        let options = CreateImageOptionsBuilder::new().from_image(reference).build();
        drain_progress(self.docker.create_image(Some(options), None, None), reference).await
    }

    async fn list_containers(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<ContainerSummary>> {
        let filters: HashMap<String, Vec<String>> = [(
            "label".to_owned(),
            labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        )]
        .into();
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let listed = self.docker.list_containers(Some(options)).await.map_err(other)?;
        Ok(listed
            .into_iter()
            .map(|c| ContainerSummary {
                id: c.id.unwrap_or_default(),
                running: matches!(c.state, Some(ContainerSummaryStateEnum::RUNNING)),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    async fn ensure_network(&self, name: &str, subnet: Option<&str>) -> Result<()> {
        match self.docker.inspect_network(name, None::<InspectNetworkOptions>).await {
            Ok(existing) => {
                let Some(wanted) = subnet else { return Ok(()) };
                let subnets: Vec<String> = existing
                    .ipam
                    .and_then(|ipam| ipam.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect();
                return if subnets.iter().any(|s| s == wanted) {
                    Ok(())
                } else {
                    Err(RuntimeError::Other(format!(
                        "the Docker network {name} has subnet {}, not the node's pod CIDR {wanted}; remove it \
                         (docker network rm {name}) once no pod uses it",
                        subnets.join(", ")
                    )))
                };
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(other(e)),
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some([("io.podium.network".to_owned(), "pods".to_owned())].into()),
            // Docker takes the subnet's first address as the bridge's (the pods' gateway).
            ipam: subnet.map(|subnet| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Another agent on the same daemon created it first.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let (network_mode, hostname) = match &config.network {
            SandboxNetwork::Pod(name) => (name.clone(), Some(config.hostname.clone())),
            SandboxNetwork::Host => ("host".to_owned(), None),
        };
        let mut exposed = Vec::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for port in &config.ports {
            let key = format!("{}/{}", port.container_port, port.protocol.to_ascii_lowercase());
            exposed.push(key.clone());
            let binding = PortBinding {
                host_ip: (!port.host_ip.is_empty()).then(|| port.host_ip.clone()),
                host_port: Some(port.host_port.to_string()),
            };
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            hostname,
            labels: Some(config.labels.clone().into_iter().collect()),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(HostConfig {
                network_mode: Some(network_mode),
                ipc_mode: Some(if config.host_ipc { "host" } else { "shareable" }.to_owned()),
                pid_mode: config.host_pid.then(|| "host".to_owned()),
                // The agent owns restarts.
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                oom_score_adj: (!self.oom_refused()).then_some(SANDBOX_OOM_SCORE_ADJ),
                cpu_shares: Some(SANDBOX_CPU_SHARES),
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                sysctls: (!config.sysctls.is_empty()).then(|| config.sysctls.clone().into_iter().collect()),
                cgroup_parent: (!config.cgroup_parent.is_empty()).then(|| config.cgroup_parent.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        match self.create_and_start(&config.name, body.clone()).await {
            Ok(id) => Ok(id),
            Err(first) if !self.oom_refused() => {
                self.refuse_oom();
                // Daemons without CAP_SYS_RESOURCE (rootless, or nested in a container) cannot
                // lower the OOM score; the sandbox then runs with the default score.
                tracing::warn!(sandbox = %config.name, error = %first, "starting the sandbox failed; retrying without a lowered OOM score");
                let mut body = body;
                if let Some(host) = body.host_config.as_mut() {
                    host.oom_score_adj = None;
                }
                self.create_and_start(&config.name, body).await
            }
            Err(e) => Err(e),
        }
    }

    async fn sandbox_status(&self, id: &str) -> Result<Option<SandboxStatus>> {
        let inspect = match self.docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(other(e)),
        };
        let running = inspect.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flat_map(|networks| networks.into_values())
            .filter_map(|endpoint| endpoint.ip_address)
            .find(|ip| !ip.is_empty());
        let labels = inspect
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(Some(SandboxStatus {
            id: inspect.id.unwrap_or_else(|| id.to_owned()),
            running,
            ip,
            labels,
        }))
    }

    async fn stop_sandbox(&self, id: &str, timeout_seconds: i64) -> Result<()> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout_seconds).unwrap_or(i32::MAX)),
            signal: None,
        };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn remove_sandbox(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        let joined = format!("container:{sandbox_id}");
        let security = &config.security;
        let limits = &config.resources;
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            user: (!security.user.is_empty()).then(|| security.user.clone()),
            entrypoint: (!config.command.is_empty()).then(|| config.command.clone()),
            cmd: (!config.args.is_empty()).then(|| config.args.clone()),
            working_dir: (!config.working_dir.is_empty()).then(|| config.working_dir.clone()),
            env: Some(config.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(config.labels.clone().into_iter().collect()),
            tty: Some(config.tty),
            open_stdin: Some(config.stdin),
            // The agent runs the probes.
            healthcheck: Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some(joined.clone()),
                ipc_mode: Some(if config.host_ipc {
                    "host".to_owned()
                } else {
                    joined.clone()
                }),
                pid_mode: if config.host_pid {
                    Some("host".to_owned())
                } else {
                    config.share_process_namespace.then_some(joined)
                },
                binds: Some(
                    config
                        .mounts
                        .iter()
                        .map(|m| {
                            let mode = if m.read_only { "ro" } else { "rw" };
                            format!("{}:{}:{mode}", m.host_path.display(), m.container_path)
                        })
                        .collect(),
                ),
                group_add: non_empty(&security.group_add),
                privileged: Some(security.privileged),
                cap_add: non_empty(&security.cap_add),
                cap_drop: non_empty(&security.cap_drop),
                readonly_rootfs: Some(security.read_only_root_filesystem),
                security_opt: non_empty(&security.security_opt),
                cpu_shares: limits.cpu_shares,
                cpu_period: limits.cpu_period,
                cpu_quota: limits.cpu_quota,
                memory: limits.memory_bytes,
                // No swap beyond the memory limit, as Kubernetes runs containers.
                memory_swap: limits.memory_bytes,
                pids_limit: limits.pids_limit,
                oom_score_adj: limits.oom_score_adj.filter(|adj| *adj >= 0 || !self.oom_refused()),
                cgroup_parent: (!limits.cgroup_parent.is_empty()).then(|| limits.cgroup_parent.clone()),
                // The agent owns restarts.
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(config.name.clone()),
            ..Default::default()
        };
        match self.docker.create_container(Some(options.clone()), body.clone()).await {
            Ok(created) => Ok(created.id),
            // Daemons without CAP_SYS_RESOURCE cannot lower the OOM score (Guaranteed pods):
            // the container runs with the default score.
            Err(e) if limits.oom_score_adj.is_some_and(|adj| adj < 0) && !self.oom_refused() => {
                self.refuse_oom();
                tracing::warn!(container = %config.name, error = %e, "creating the container failed; retrying without a lowered OOM score");
                let mut body = body;
                if let Some(host) = body.host_config.as_mut() {
                    host.oom_score_adj = None;
                }
                Ok(self
                    .docker
                    .create_container(Some(options), body)
                    .await
                    .map_err(other)?
                    .id)
            }
            Err(e) => Err(other(e)),
        }
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(other)
    }

    async fn stop_container(&self, id: &str, timeout_seconds: i64, signal: Option<&str>) -> Result<()> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(timeout_seconds).unwrap_or(i32::MAX)),
            signal: signal.map(str::to_owned),
        };
        match self.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.remove_sandbox(id).await
    }

    async fn container_status(&self, id: &str) -> Result<Option<ContainerStatus>> {
        let inspect = match self.docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(other(e)),
        };
        let state = inspect.state.unwrap_or_default();
        let error = state.error.clone().unwrap_or_default();
        // A container whose process could not start stays `created` with Docker's error and
        // exit code: Kubernetes reports it as terminated, ContainerCannotRun.
        let cannot_run = state.status == Some(ContainerStateStatusEnum::CREATED) && !error.is_empty();
        let kind = match state.status {
            Some(ContainerStateStatusEnum::CREATED) if !cannot_run => ContainerState::Created,
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::PAUSED
                | ContainerStateStatusEnum::RESTARTING,
            ) => ContainerState::Running,
            _ => ContainerState::Exited,
        };
        let exited = kind == ContainerState::Exited;
        let exit_code = exited.then(|| state.exit_code.unwrap_or(0));
        let reason = match exit_code {
            Some(_) if cannot_run => "ContainerCannotRun".to_owned(),
            Some(code) => exit_reason(code, state.oom_killed.unwrap_or(false)).to_owned(),
            None => String::new(),
        };
        Ok(Some(ContainerStatus {
            id: inspect.id.unwrap_or_else(|| id.to_owned()),
            state: kind,
            exit_code: if cannot_run {
                Some(state.exit_code.filter(|c| *c != 0).unwrap_or(128))
            } else {
                exit_code
            },
            reason,
            message: error,
            started_at: unix_seconds(state.started_at),
            finished_at: if exited { unix_seconds(state.finished_at) } else { None },
            image_id: inspect.image.unwrap_or_default(),
            labels: inspect
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default()
                .into_iter()
                .collect(),
        }))
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream> {
        let mut builder = LogsOptionsBuilder::new()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(options.timestamps);
        if let Some(tail) = options.tail_lines {
            builder = builder.tail(&tail.to_string());
        }
        if let Some(since) = options.since {
            builder = builder.since(i32::try_from(since).unwrap_or(i32::MAX));
        }
        // Fail now on a missing container rather than in the stream.
        self.docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(other)?;
        Ok(output_stream(self.docker.logs(id, Some(builder.build()))))
    }

    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<ExecSession> {
        let created = self
            .docker
            .create_exec(
                id,
                bollard::models::ExecConfig {
                    attach_stdin: Some(config.stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(config.tty),
                    cmd: Some(config.command.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(other)?;
        let options = StartExecOptions {
            detach: false,
            tty: config.tty,
            output_capacity: None,
        };
        match self
            .docker
            .start_exec(&created.id, Some(options))
            .await
            .map_err(other)?
        {
            StartExecResults::Attached { output, input } => Ok(ExecSession {
                id: created.id,
                output: output_stream(output),
                input: config.stdin.then_some(input),
            }),
            StartExecResults::Detached => Err(RuntimeError::Other("the command started detached".into())),
        }
    }

    async fn resize_exec(&self, exec_id: &str, width: u16, height: u16) -> Result<()> {
        let options = ResizeExecOptionsBuilder::new()
            .w(i32::from(width))
            .h(i32::from(height))
            .build();
        self.docker.resize_exec(exec_id, options).await.map_err(other)
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        let inspect = self.docker.inspect_exec(exec_id).await.map_err(other)?;
        if inspect.running == Some(true) {
            return Ok(None);
        }
        Ok(inspect.exit_code)
    }
}
