//! `ContainerRuntime` on Docker Engine, through bollard with the API version negotiated (the
//! daemon may be older than bollard's default).

use bollard::Docker;
use bollard::query_parameters::{CreateImageOptionsBuilder, ListImagesOptions};
use futures::StreamExt;

use super::{ContainerRuntime, Image, Result, RuntimeError, RuntimeVersion};

/// Seconds a Docker API call may take.
const TIMEOUT_SECONDS: u64 = 120;

/// The default Docker endpoint.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    endpoint: String,
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
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

fn other(e: bollard::errors::Error) -> RuntimeError {
    RuntimeError::Other(e.to_string())
}

impl ContainerRuntime for DockerRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        let version = self.docker.version().await.map_err(other)?;
        Ok(RuntimeVersion {
            name: "docker".into(),
            version: version.version.unwrap_or_default(),
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
        let mut progress = self.docker.create_image(Some(options), Some(body), None);
        while let Some(step) = progress.next().await {
            let step = step.map_err(other)?;
            if let Some(error) = step.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::Other(format!("importing {reference}: {error}")));
            }
        }
        Ok(())
    }
}
