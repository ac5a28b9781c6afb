//! An in-memory runtime for unit tests.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

use super::{
    ContainerConfig, ContainerRuntime, ContainerState, ContainerStatus, Image, Result, RuntimeError, RuntimeVersion,
    SandboxConfig, SandboxStatus, exit_reason,
};

/// A runtime that holds what tests give it.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    images: Mutex<Vec<Image>>,
    networks: Mutex<BTreeSet<String>>,
    sandboxes: Mutex<BTreeMap<String, (SandboxConfig, bool)>>,
    containers: Mutex<BTreeMap<String, (ContainerConfig, ContainerStatus)>>,
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

    /// Makes a running container exit with `code` (as its process would).
    pub fn exit(&self, id: &str, code: i64, oom_killed: bool) {
        if let Some((_, status)) = self.containers.lock().get_mut(id) {
            status.state = ContainerState::Exited;
            status.exit_code = Some(code);
            status.reason = exit_reason(code, oom_killed).to_owned();
        }
    }
}

impl ContainerRuntime for FakeRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        Ok(RuntimeVersion {
            name: "fake".into(),
            version: "1.0.0".into(),
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

    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>, _changes: Vec<String>) -> Result<()> {
        let size_bytes = i64::try_from(rootfs_tar.len()).unwrap_or(i64::MAX);
        self.images.lock().push(Image {
            names: vec![reference.to_owned()],
            size_bytes,
        });
        Ok(())
    }

    async fn ensure_network(&self, name: &str) -> Result<()> {
        self.networks.lock().insert(name.to_owned());
        Ok(())
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let mut sandboxes = self.sandboxes.lock();
        if sandboxes.values().any(|(c, _)| c.name == config.name) {
            return Err(RuntimeError::Other(format!("the name {} is in use", config.name)));
        }
        let id = format!("fake-{}", sandboxes.len() + 1);
        sandboxes.insert(id.clone(), (config.clone(), true));
        Ok(id)
    }

    async fn sandbox_status(&self, id: &str) -> Result<Option<SandboxStatus>> {
        Ok(self.sandboxes.lock().get(id).map(|(config, running)| SandboxStatus {
            id: id.to_owned(),
            running: *running,
            ip: running.then(|| "10.88.0.2".to_owned()),
            labels: config.labels.clone(),
        }))
    }

    async fn stop_sandbox(&self, id: &str, _timeout_seconds: i64) -> Result<()> {
        if let Some((_, running)) = self.sandboxes.lock().get_mut(id) {
            *running = false;
        }
        Ok(())
    }

    async fn remove_sandbox(&self, id: &str) -> Result<()> {
        self.sandboxes.lock().remove(id);
        Ok(())
    }

    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        if !self.sandboxes.lock().contains_key(sandbox_id) {
            return Err(RuntimeError::Other(format!("no such sandbox: {sandbox_id}")));
        }
        let mut containers = self.containers.lock();
        if containers.values().any(|(c, _)| c.name == config.name) {
            return Err(RuntimeError::Other(format!("the name {} is in use", config.name)));
        }
        let id = format!("fake-container-{}", containers.len() + 1);
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
        let (_, status) = containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::Other(format!("no such container: {id}")))?;
        status.state = ContainerState::Running;
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout_seconds: i64, _signal: Option<&str>) -> Result<()> {
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
        self.containers.lock().remove(id);
        Ok(())
    }

    async fn container_status(&self, id: &str) -> Result<Option<ContainerStatus>> {
        Ok(self.containers.lock().get(id).map(|(_, status)| status.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ContainerRuntime, SandboxNetwork};

    #[tokio::test]
    async fn containers_run_in_a_sandbox_until_told_how_they_end() {
        let fake = FakeRuntime::default();
        let sandbox = SandboxConfig {
            name: "s".into(),
            image: "pause".into(),
            hostname: "h".into(),
            network: SandboxNetwork::Host,
            host_ipc: false,
            host_pid: false,
            labels: BTreeMap::new(),
            ports: Vec::new(),
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
