//! An in-memory runtime for unit tests.

use parking_lot::Mutex;

use super::{ContainerRuntime, Image, Result, RuntimeVersion};

/// A runtime that holds what tests give it.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    images: Mutex<Vec<Image>>,
}

impl FakeRuntime {
    pub fn with_images(images: Vec<Image>) -> Self {
        FakeRuntime {
            images: Mutex::new(images),
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
}
