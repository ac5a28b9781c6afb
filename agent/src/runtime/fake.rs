//! An in-memory runtime for unit tests.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

use futures::StreamExt;

use super::{
    ContainerConfig, ContainerRuntime, ContainerState, ContainerStatus, ContainerSummary, ExecConfig, ExecSession,
    Image, ImageConfig, LogOptions, Output, OutputStream, Result, RuntimeError, RuntimeVersion, SandboxConfig,
    SandboxNetwork, SandboxStatus, exit_reason,
};

/// What a command run in a fake container does: its exit code and its stdout.
pub type ExecHandler = dyn Fn(&str, &[String]) -> (i64, String) + Send + Sync;

/// A runtime call the fake saw, for tests of ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    RunSandbox(String),
    StopSandbox(String),
    Pull(String),
    Start(String),
    /// A container stopped with this grace, in seconds.
    Stop(String, i64),
    Remove(String),
}

/// A runtime that holds what tests give it.
#[derive(Default)]
pub struct FakeRuntime {
    images: Mutex<Vec<Image>>,
    /// Images a pull finds.
    pullable: Mutex<BTreeSet<String>>,
    networks: Mutex<BTreeMap<String, Option<String>>>,
    sandboxes: Mutex<BTreeMap<String, (SandboxConfig, bool)>>,
    containers: Mutex<BTreeMap<String, (ContainerConfig, ContainerStatus)>>,
    next_id: Mutex<u64>,
    calls: Mutex<Vec<Call>>,
    /// What each container has printed, by Docker name.
    logs: Mutex<BTreeMap<String, String>>,
    exec_handler: Mutex<Option<Box<ExecHandler>>>,
    exec_results: Mutex<BTreeMap<String, i64>>,
    image_users: Mutex<BTreeMap<String, String>>,
}

impl FakeRuntime {
    pub fn with_images(images: Vec<Image>) -> Self {
        FakeRuntime {
            images: Mutex::new(images),
            ..Default::default()
        }
    }

    pub fn set_images(&self, images: Vec<Image>) {
        *self.images.lock() = images;
    }

    /// Sets what the container with Docker name `name` has printed.
    pub fn set_logs(&self, name: &str, text: &str) {
        self.logs.lock().insert(name.to_owned(), text.to_owned());
    }

    /// Decides what commands run in containers do, given the container's Docker name and the
    /// command (by default they exit 0 and print nothing).
    pub fn on_exec(&self, handler: impl Fn(&str, &[String]) -> (i64, String) + Send + Sync + 'static) {
        *self.exec_handler.lock() = Some(Box::new(handler));
    }

    /// Sets the `USER` of an image.
    pub fn set_image_user(&self, reference: &str, user: &str) {
        self.image_users.lock().insert(reference.to_owned(), user.to_owned());
    }

    /// How container `name` (Docker name) was created.
    pub fn container_config(&self, name: &str) -> Option<ContainerConfig> {
        self.containers
            .lock()
            .values()
            .find(|(c, _)| c.name == name)
            .map(|(c, _)| c.clone())
    }

    /// Lets a later pull of `reference` succeed.
    pub fn make_pullable(&self, reference: &str) {
        self.pullable.lock().insert(reference.to_owned());
    }

    /// Makes a running container exit with `code` (as its process would).
    pub fn exit(&self, id: &str, code: i64, oom_killed: bool) {
        if let Some((_, status)) = self.containers.lock().get_mut(id) {
            status.state = ContainerState::Exited;
            status.exit_code = Some(code);
            status.reason = exit_reason(code, oom_killed).to_owned();
        }
    }

    /// Makes the running container created under Docker name `name` exit with `code`.
    pub fn exit_named(&self, name: &str, code: i64) -> bool {
        let id = self
            .containers
            .lock()
            .iter()
            .find(|(_, (c, s))| c.name == name && s.state == ContainerState::Running)
            .map(|(id, _)| id.clone());
        id.map(|id| self.exit(&id, code, false)).is_some()
    }

    /// Kills a sandbox (as if its process died).
    pub fn kill_sandbox(&self, id: &str) {
        if let Some((_, running)) = self.sandboxes.lock().get_mut(id) {
            *running = false;
        }
    }

    /// The containers, as `(Docker name, state)`, in creation order.
    pub fn containers(&self) -> Vec<(String, ContainerState)> {
        let mut all: Vec<_> = self
            .containers
            .lock()
            .values()
            .map(|(c, s)| (s.id.clone(), c.name.clone(), s.state))
            .collect();
        all.sort_by_key(|(id, _, _)| id.trim_start_matches("fake-").parse::<u64>().unwrap_or(0));
        all.into_iter().map(|(_, name, state)| (name, state)).collect()
    }

    /// The sandboxes, as `(id, name, running)`.
    pub fn sandboxes(&self) -> Vec<(String, String, bool)> {
        self.sandboxes
            .lock()
            .iter()
            .map(|(id, (c, running))| (id.clone(), c.name.clone(), *running))
            .collect()
    }

    /// The calls seen so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    fn record(&self, call: Call) {
        self.calls.lock().push(call);
    }

    fn new_id(&self) -> String {
        let mut next = self.next_id.lock();
        *next += 1;
        format!("fake-{next}")
    }

    fn name_of(&self, id: &str) -> String {
        self.containers
            .lock()
            .get(id)
            .map(|(c, _)| c.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

impl ContainerRuntime for FakeRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        Ok(RuntimeVersion {
            name: "fake".into(),
            version: "1.0.0".into(),
            cgroup_driver: "cgroupfs".into(),
        })
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self.images.lock().clone())
    }

    async fn image_exists(&self, reference: &str) -> Result<bool> {
        Ok(self
            .images
            .lock()
            .iter()
            .any(|i| i.names.iter().any(|n| n == reference)))
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        Ok(self.image_exists(reference).await?.then(|| ImageConfig {
            user: self.image_users.lock().get(reference).cloned().unwrap_or_default(),
        }))
    }

    async fn pull_image(&self, reference: &str) -> Result<()> {
        self.record(Call::Pull(reference.to_owned()));
        if !self.pullable.lock().contains(reference) {
            return Err(RuntimeError::Other(format!(
                "pull access denied for {reference}, repository does not exist or may require 'docker login'"
            )));
        }
        self.images.lock().push(Image {
            names: vec![reference.to_owned()],
            size_bytes: 1,
        });
        Ok(())
    }

    async fn list_containers(&self, labels: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>> {
        let matches = |l: &BTreeMap<String, String>| labels.iter().all(|(k, v)| l.get(k) == Some(v));
        let sandboxes = self.sandboxes.lock();
        let containers = self.containers.lock();
        Ok(sandboxes
            .iter()
            .map(|(id, (c, running))| (id, &c.labels, *running))
            .chain(
                containers
                    .iter()
                    .map(|(id, (c, s))| (id, &c.labels, s.state == ContainerState::Running)),
            )
            .filter(|(_, l, _)| matches(l))
            .map(|(id, l, running)| ContainerSummary {
                id: id.clone(),
                running,
                labels: l.clone(),
            })
            .collect())
    }

    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>, _changes: Vec<String>) -> Result<()> {
        let size_bytes = i64::try_from(rootfs_tar.len()).unwrap_or(i64::MAX);
        self.images.lock().push(Image {
            names: vec![reference.to_owned()],
            size_bytes,
        });
        Ok(())
    }

    async fn ensure_network(&self, name: &str, subnet: Option<&str>) -> Result<()> {
        let mut networks = self.networks.lock();
        match (networks.get(name), subnet) {
            (Some(Some(existing)), Some(wanted)) if existing != wanted => Err(RuntimeError::Other(format!(
                "network {name} has subnet {existing}, not {wanted}"
            ))),
            (Some(_), _) => Ok(()),
            (None, _) => {
                networks.insert(name.to_owned(), subnet.map(str::to_owned));
                Ok(())
            }
        }
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let mut sandboxes = self.sandboxes.lock();
        if sandboxes.values().any(|(c, _)| c.name == config.name) {
            return Err(RuntimeError::Other(format!("the name {} is in use", config.name)));
        }
        let id = self.new_id();
        sandboxes.insert(id.clone(), (config.clone(), true));
        self.record(Call::RunSandbox(config.name.clone()));
        Ok(id)
    }

    async fn sandbox_status(&self, id: &str) -> Result<Option<SandboxStatus>> {
        let networks = self.networks.lock();
        Ok(self.sandboxes.lock().get(id).map(|(config, running)| {
            // Addresses from the network's /24 subnet when it has one, else from 10.88.0.0/24.
            let prefix = match &config.network {
                SandboxNetwork::Pod(name) => networks
                    .get(name)
                    .cloned()
                    .flatten()
                    .and_then(|subnet| subnet.rsplit_once('.').map(|(prefix, _)| prefix.to_owned())),
                SandboxNetwork::Host => None,
            };
            let prefix = prefix.unwrap_or_else(|| "10.88.0".to_owned());
            SandboxStatus {
                id: id.to_owned(),
                running: *running,
                ip: running.then(|| format!("{prefix}.{}", id.trim_start_matches("fake-"))),
                labels: config.labels.clone(),
            }
        }))
    }

    async fn stop_sandbox(&self, id: &str, _timeout_seconds: i64) -> Result<()> {
        if let Some((config, running)) = self.sandboxes.lock().get_mut(id) {
            *running = false;
            self.record(Call::StopSandbox(config.name.clone()));
        }
        Ok(())
    }

    async fn remove_sandbox(&self, id: &str) -> Result<()> {
        if let Some((config, _)) = self.sandboxes.lock().remove(id) {
            self.record(Call::Remove(config.name));
        }
        Ok(())
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        if !self.sandboxes.lock().contains_key(sandbox_id) {
            return Err(RuntimeError::Other(format!("no such sandbox: {sandbox_id}")));
        }
        if !self.images.lock().iter().any(|i| i.names.contains(&config.image)) {
            return Err(RuntimeError::Other(format!("No such image: {}", config.image)));
        }
        let id = self.new_id();
        let mut containers = self.containers.lock();
        if containers.values().any(|(c, _)| c.name == config.name) {
            return Err(RuntimeError::Other(format!("the name {} is in use", config.name)));
        }
        let status = ContainerStatus {
            id: id.clone(),
            state: ContainerState::Created,
            exit_code: None,
            reason: String::new(),
            message: String::new(),
            started_at: None,
            finished_at: None,
            image_id: format!("fake://{}", config.image),
            labels: config.labels.clone(),
        };
        containers.insert(id.clone(), (config.clone(), status));
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut containers = self.containers.lock();
        let (config, status) = containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::Other(format!("no such container: {id}")))?;
        status.state = ContainerState::Running;
        self.record(Call::Start(config.name.clone()));
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout_seconds: i64, _signal: Option<&str>) -> Result<()> {
        self.record(Call::Stop(self.name_of(id), timeout_seconds));
        if self
            .containers
            .lock()
            .get(id)
            .is_some_and(|(_, s)| s.state == ContainerState::Running)
        {
            self.exit(id, 143, false);
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        if let Some((config, _)) = self.containers.lock().remove(id) {
            self.record(Call::Remove(config.name));
        }
        Ok(())
    }

    async fn container_status(&self, id: &str) -> Result<Option<ContainerStatus>> {
        Ok(self.containers.lock().get(id).map(|(_, status)| status.clone()))
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream> {
        let name = self.name_of(id);
        let text = self.logs.lock().get(&name).cloned().unwrap_or_default();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let skip = options
            .tail_lines
            .map_or(0, |n| lines.len().saturating_sub(usize::try_from(n).unwrap_or(0)));
        let chunks: Vec<Result<Output>> = lines[skip..]
            .iter()
            .map(|l| Ok(Output::Stdout(bytes::Bytes::from(l.to_string()))))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }

    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<ExecSession> {
        let name = self.name_of(id);
        if !self
            .containers
            .lock()
            .get(id)
            .is_some_and(|(_, s)| s.state == ContainerState::Running)
        {
            return Err(RuntimeError::Other(format!("container {id} is not running")));
        }
        let (code, stdout) = match &*self.exec_handler.lock() {
            Some(handler) => handler(&name, &config.command),
            None => (0, String::new()),
        };
        let exec_id = self.new_id();
        self.exec_results.lock().insert(exec_id.clone(), code);
        Ok(ExecSession {
            id: exec_id,
            output: futures::stream::iter([Ok(Output::Stdout(stdout.into()))]).boxed(),
            input: config
                .stdin
                .then(|| Box::pin(tokio::io::sink()) as std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>),
        })
    }

    async fn resize_exec(&self, _exec_id: &str, _width: u16, _height: u16) -> Result<()> {
        Ok(())
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        Ok(self.exec_results.lock().get(exec_id).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ContainerRuntime, SandboxNetwork};

    #[tokio::test]
    async fn containers_run_in_a_sandbox_until_told_how_they_end() {
        let fake = FakeRuntime::default();
        fake.make_pullable("busybox");
        fake.pull_image("busybox").await.unwrap();
        let sandbox = SandboxConfig {
            name: "s".into(),
            image: "pause".into(),
            hostname: "h".into(),
            network: SandboxNetwork::Host,
            host_ipc: false,
            host_pid: false,
            labels: BTreeMap::new(),
            ports: Vec::new(),
            sysctls: BTreeMap::new(),
            cgroup_parent: String::new(),
        };
        assert!(
            fake.create_container("missing", &ContainerConfig::default())
                .await
                .is_err()
        );
        let sandbox = fake.run_sandbox(&sandbox).await.unwrap();
        let config = ContainerConfig {
            name: "app".into(),
            image: "busybox".into(),
            ..Default::default()
        };
        let id = fake.create_container(&sandbox, &config).await.unwrap();
        assert_eq!(
            fake.container_status(&id).await.unwrap().unwrap().state,
            ContainerState::Created
        );
        fake.start_container(&id).await.unwrap();
        fake.exit(&id, 137, true);
        let status = fake.container_status(&id).await.unwrap().unwrap();
        assert_eq!(
            (status.state, status.exit_code, status.reason.as_str()),
            (ContainerState::Exited, Some(137), "OOMKilled")
        );
        fake.remove_container(&id).await.unwrap();
        assert!(fake.container_status(&id).await.unwrap().is_none());
    }
}
