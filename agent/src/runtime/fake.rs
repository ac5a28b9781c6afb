//! An in-memory runtime for unit tests.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

use super::{ContainerRuntime, Image, Result, RuntimeError, RuntimeVersion, SandboxConfig, SandboxStatus};

/// A runtime that holds what tests give it.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    images: Mutex<Vec<Image>>,
    networks: Mutex<BTreeSet<String>>,
    sandboxes: Mutex<BTreeMap<String, (SandboxConfig, bool)>>,
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
}
