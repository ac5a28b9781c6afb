//! `Instrumented`: any runtime, with each operation counted, timed and its errors counted in
//! the kubelet's runtime metrics, under the kubelet's operation names.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{
    ContainerConfig, ContainerRuntime, ContainerStatus, ContainerSummary, ExecConfig, ExecSession, Image, ImageConfig,
    LogOptions, OutputStream, Result, RuntimeVersion, SandboxConfig, SandboxStatus,
};
use crate::metrics::{RUNTIME_DURATION, RUNTIME_ERRORS, RUNTIME_OPERATIONS};

/// A runtime whose operations show in `/metrics`.
#[derive(Debug)]
pub struct Instrumented<R> {
    inner: R,
}

impl<R> Instrumented<R> {
    pub fn new(inner: R) -> Self {
        Instrumented { inner }
    }

    /// The wrapped runtime.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

async fn timed<T>(operation: &'static str, call: impl Future<Output = Result<T>>) -> Result<T> {
    let start = Instant::now();
    let result = call.await;
    RUNTIME_OPERATIONS.with_label_values(&[operation]).inc();
    RUNTIME_DURATION
        .with_label_values(&[operation])
        .observe(start.elapsed().as_secs_f64());
    if result.is_err() {
        RUNTIME_ERRORS.with_label_values(&[operation]).inc();
    }
    result
}

impl<R: ContainerRuntime> ContainerRuntime for Instrumented<R> {
    async fn version(&self) -> Result<RuntimeVersion> {
        timed("version", self.inner.version()).await
    }
    async fn list_images(&self) -> Result<Vec<Image>> {
        timed("list_images", self.inner.list_images()).await
    }
    async fn image_exists(&self, reference: &str) -> Result<bool> {
        timed("image_status", self.inner.image_exists(reference)).await
    }
    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        timed("image_status", self.inner.image_config(reference)).await
    }
    async fn pull_image(&self, reference: &str) -> Result<()> {
        timed("pull_image", self.inner.pull_image(reference)).await
    }
    async fn list_containers(&self, labels: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>> {
        timed("list_containers", self.inner.list_containers(labels)).await
    }
    async fn import_image(&self, reference: &str, rootfs_tar: Vec<u8>, changes: Vec<String>) -> Result<()> {
        timed("import_image", self.inner.import_image(reference, rootfs_tar, changes)).await
    }
    async fn ensure_network(&self, name: &str, subnet: Option<&str>) -> Result<()> {
        timed("ensure_network", self.inner.ensure_network(name, subnet)).await
    }
    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        timed("run_podsandbox", self.inner.run_sandbox(config)).await
    }
    async fn sandbox_status(&self, id: &str) -> Result<Option<SandboxStatus>> {
        timed("podsandbox_status", self.inner.sandbox_status(id)).await
    }
    async fn stop_sandbox(&self, id: &str, timeout_seconds: i64) -> Result<()> {
        timed("stop_podsandbox", self.inner.stop_sandbox(id, timeout_seconds)).await
    }
    async fn remove_sandbox(&self, id: &str) -> Result<()> {
        timed("remove_podsandbox", self.inner.remove_sandbox(id)).await
    }
    async fn create_container(&self, sandbox_id: &str, config: &ContainerConfig) -> Result<String> {
        timed("create_container", self.inner.create_container(sandbox_id, config)).await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        timed("start_container", self.inner.start_container(id)).await
    }
    async fn stop_container(&self, id: &str, timeout_seconds: i64, signal: Option<&str>) -> Result<()> {
        timed("stop_container", self.inner.stop_container(id, timeout_seconds, signal)).await
    }
    async fn remove_container(&self, id: &str) -> Result<()> {
        timed("remove_container", self.inner.remove_container(id)).await
    }
    async fn container_status(&self, id: &str) -> Result<Option<ContainerStatus>> {
        timed("container_status", self.inner.container_status(id)).await
    }
    async fn logs(&self, id: &str, options: &LogOptions) -> Result<OutputStream> {
        timed("logs", self.inner.logs(id, options)).await
    }
    async fn exec(&self, id: &str, config: &ExecConfig) -> Result<ExecSession> {
        timed("exec", self.inner.exec(id, config)).await
    }
    async fn resize_exec(&self, exec_id: &str, width: u16, height: u16) -> Result<()> {
        timed("resize_exec", self.inner.resize_exec(exec_id, width, height)).await
    }
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        timed("exec_exit_code", self.inner.exec_exit_code(exec_id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::FakeRuntime;

    #[tokio::test]
    async fn operations_and_errors_are_counted_by_type() {
        let runtime = Instrumented::new(FakeRuntime::default());
        let before = RUNTIME_OPERATIONS.with_label_values(&["pull_image"]).get();
        let errors_before = RUNTIME_ERRORS.with_label_values(&["pull_image"]).get();
        assert!(runtime.pull_image("missing:latest").await.is_err());
        runtime.version().await.unwrap();
        assert_eq!(RUNTIME_OPERATIONS.with_label_values(&["pull_image"]).get(), before + 1);
        assert_eq!(
            RUNTIME_ERRORS.with_label_values(&["pull_image"]).get(),
            errors_before + 1
        );
        assert!(RUNTIME_DURATION.with_label_values(&["version"]).get_sample_count() >= 1);
    }
}
