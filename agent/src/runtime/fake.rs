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
}
