//! The container runtime as the agent sees it: a CRI-shaped trait, implemented on Docker
//! Engine (`docker`) and, for unit tests, in memory (`fake`).
//!
//! Only what node registration needs is here so far (the runtime's name and version, and the
//! images it holds); sandboxes and containers join as the pod worker is built.

mod docker;
mod fake;
pub mod tar;

pub use docker::{DEFAULT_DOCKER_HOST, DockerRuntime};

use std::future::Future;

pub use fake::FakeRuntime;

/// The runtime's name and version, as `nodeInfo.containerRuntimeVersion` shows it
/// (`docker://28.2.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    pub name: String,
    pub version: String,
}

impl RuntimeVersion {
    pub fn for_node_info(&self) -> String {
        format!("{}://{}", self.name, self.version)
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
    /// Creates image `reference` from a root filesystem tar, with Dockerfile-style `changes`
    /// (`ENTRYPOINT ["/pause"]`): an image FROM scratch without a registry.
    fn import_image(
        &self,
        reference: &str,
        rootfs_tar: Vec<u8>,
        changes: Vec<String>,
    ) -> impl Future<Output = Result<()>> + Send;
}
