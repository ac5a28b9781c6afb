//! The pause image: the sandbox (infra) container of every pod, imported into Docker from the
//! `pause` binary when it is missing (no registry needed), tagged with the binary's version.

use std::path::{Path, PathBuf};

use crate::runtime::{ContainerRuntime, RuntimeError, tar::single_file_tar};

/// The repository of the pause image; the tag is the pause binary's version.
pub const PAUSE_REPOSITORY: &str = "podium/pause";

#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    #[error("the pause binary {path}: {reason}")]
    Binary { path: PathBuf, reason: String },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// The version the pause binary reports (`pause -v` prints `pause (podium) VERSION`).
pub fn pause_version(binary: &Path) -> Result<String, PauseError> {
    let bad = |reason: String| PauseError::Binary {
        path: binary.to_owned(),
        reason,
    };
    let out = std::process::Command::new(binary)
        .arg("-v")
        .output()
        .map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.trim().rsplit(' ').next().unwrap_or_default();
    if !out.status.success() || version.is_empty() {
        return Err(bad(format!("`-v` printed {text:?}")));
    }
    Ok(version.to_owned())
}

/// Makes sure the runtime has the pause image for this binary; returns its reference.
pub async fn ensure_pause_image<R: ContainerRuntime>(runtime: &R, binary: &Path) -> Result<String, PauseError> {
    let reference = format!("{PAUSE_REPOSITORY}:{}", pause_version(binary)?);
    if runtime.image_exists(&reference).await? {
        return Ok(reference);
    }
    let bytes = std::fs::read(binary).map_err(|e| PauseError::Binary {
        path: binary.to_owned(),
        reason: e.to_string(),
    })?;
    let rootfs = single_file_tar("pause", 0o755, &bytes);
    runtime
        .import_image(&reference, rootfs, vec![r#"ENTRYPOINT ["/pause"]"#.to_owned()])
        .await?;
    tracing::info!(image = %reference, "imported the pause image");
    Ok(reference)
}
