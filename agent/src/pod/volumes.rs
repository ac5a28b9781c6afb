//! A pod's volumes on the node, under `<pod dir>/volumes/<type>/<name>`: emptyDir (a tmpfs
//! for medium Memory, with sizeLimit), hostPath with its type checks, and downwardAPI files
//! kept current with the pod's labels and annotations. Other volume types are refused with a
//! clear error, so the pod does not start silently without them.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use podium_proto::k8s::core::v1::{Container, Pod, Volume};

use super::spec::{NodeFacts, is_contained, metadata_field, resource_field};

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume {volume:?}: {kind} volumes are not supported by this agent")]
    Unsupported { volume: String, kind: &'static str },
    #[error("hostPath type check failed: {path} is not a {expected}")]
    HostPathType { path: String, expected: &'static str },
    #[error("volume {volume:?}: {path}: {source}")]
    Io {
        volume: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("volume {volume:?}: mounting a tmpfs at {path}: {reason}")]
    Tmpfs {
        volume: String,
        path: PathBuf,
        reason: String,
    },
    #[error("volume {volume:?}: {reason}")]
    Invalid { volume: String, reason: String },
}

type Result<T, E = VolumeError> = std::result::Result<T, E>;

fn io(volume: &str, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError {
    let (volume, path) = (volume.to_owned(), path.to_owned());
    move |source| VolumeError::Io { volume, path, source }
}

/// The volume's type, as Kubernetes names it in messages.
fn kind(v: &Volume) -> &'static str {
    match v {
        _ if v.secret.is_some() => "secret",
        _ if v.config_map.is_some() => "configMap",
        _ if v.persistent_volume_claim.is_some() => "persistentVolumeClaim",
        _ if v.nfs.is_some() => "nfs",
        _ if v.projected.is_some() => "projected",
        _ if v.csi.is_some() => "csi",
        _ if v.image.is_some() => "image",
        _ => "unknown",
    }
}

/// Whether a tmpfs is mounted at `path` (per /proc/self/mountinfo).
fn is_mount_point(path: &Path) -> bool {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let wanted = path.to_string_lossy();
    mountinfo
        .lines()
        .any(|line| line.split_whitespace().nth(4) == Some(wanted.as_ref()))
}

fn mount_tmpfs(volume: &str, path: &Path, size: Option<i64>) -> Result<()> {
    if is_mount_point(path) {
        return Ok(());
    }
    let mut options = String::from("mode=0777");
    if let Some(bytes) = size.filter(|b| *b > 0) {
        options.push_str(&format!(",size={bytes}"));
    }
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
        .arg(path)
        .output()
        .map_err(|e| VolumeError::Tmpfs {
            volume: volume.to_owned(),
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(VolumeError::Tmpfs {
            volume: volume.to_owned(),
            path: path.to_owned(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

fn check_host_path(name: &str, path: &Path, kind: &str) -> Result<()> {
    let meta = std::fs::metadata(path);
    let text = path.display().to_string();
    let fail = |expected| {
        Err(VolumeError::HostPathType {
            path: text.clone(),
            expected,
        })
    };
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" => {
            if meta.is_err() {
                std::fs::create_dir_all(path).map_err(io(name, path))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io(name, path))?;
            } else if !path.is_dir() {
                return fail("directory");
            }
            Ok(())
        }
        "FileOrCreate" => {
            if meta.is_err() {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(io(name, path))?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io(name, path))?;
            } else if !path.is_file() {
                return fail("file");
            }
            Ok(())
        }
        "Directory" if path.is_dir() => Ok(()),
        "Directory" => fail("directory"),
        "File" if path.is_file() => Ok(()),
        "File" => fail("file"),
        "Socket" if meta.as_ref().is_ok_and(|m| m.file_type().is_socket()) => Ok(()),
        "Socket" => fail("socket"),
        "CharDevice" if meta.as_ref().is_ok_and(|m| m.file_type().is_char_device()) => Ok(()),
        "CharDevice" => fail("character device"),
        "BlockDevice" if meta.as_ref().is_ok_and(|m| m.file_type().is_block_device()) => Ok(()),
        "BlockDevice" => fail("block device"),
        other => Err(VolumeError::Invalid {
            volume: name.to_owned(),
            reason: format!("unknown hostPath type {other:?}"),
        }),
    }
}

/// Writes `content` to `path` (atomically, through a rename) unless it is there already.
fn write_if_changed(volume: &str, path: &Path, content: &str, mode: u32) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(volume, parent))?;
    }
    let staged = path.with_extension("podium-new");
    std::fs::write(&staged, content).map_err(io(volume, &staged))?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode)).map_err(io(volume, &staged))?;
    std::fs::rename(&staged, path).map_err(io(volume, path))
}

/// Prepares every volume of `pod` under `pod_dir`; returns each one's path on the node.
pub fn prepare(pod: &Pod, pod_dir: &Path, node: &NodeFacts) -> Result<BTreeMap<String, PathBuf>> {
    let spec = pod.spec.clone().unwrap_or_default();
    let fs_group = spec.security_context.as_ref().and_then(|s| s.fs_group);
    let mut paths = BTreeMap::new();
    for v in &spec.volumes {
        let name = v.name.as_str();
        let path = if let Some(empty) = &v.empty_dir {
            let dir = pod_dir.join("volumes/kubernetes.io~empty-dir").join(name);
            std::fs::create_dir_all(&dir).map_err(io(name, &dir))?;
            if empty.medium == "Memory" {
                let size = empty
                    .size_limit
                    .as_ref()
                    .and_then(|q| podium_api::quantity::Quantity::parse(&q.string).ok())
                    .map(|q| q.value());
                mount_tmpfs(name, &dir, size)?;
            }
            // World-writable, as Kubernetes makes emptyDirs; with fsGroup, owned by that group
            // with the set-group-ID bit so new files join it.
            let mut mode = 0o777;
            if let Some(gid) = fs_group {
                let gid = u32::try_from(gid).unwrap_or(0);
                std::os::unix::fs::chown(&dir, None, Some(gid)).map_err(io(name, &dir))?;
                mode |= 0o2000;
            }
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).map_err(io(name, &dir))?;
            dir
        } else if let Some(host) = &v.host_path {
            let path = PathBuf::from(&host.path);
            check_host_path(name, &path, host.r#type.as_deref().unwrap_or_default())?;
            path
        } else if let Some(downward) = &v.downward_api {
            let dir = pod_dir.join("volumes/kubernetes.io~downward-api").join(name);
            std::fs::create_dir_all(&dir).map_err(io(name, &dir))?;
            let default_mode = downward
                .default_mode
                .map_or(0o644, |m| u32::try_from(m).unwrap_or(0o644));
            for item in &downward.items {
                let rel = Path::new(&item.path);
                if !is_contained(rel) {
                    return Err(VolumeError::Invalid {
                        volume: name.to_owned(),
                        reason: format!("invalid path {:?}", item.path),
                    });
                }
                let content = if let Some(field) = &item.field_ref {
                    metadata_field(pod, &field.field_path).ok_or_else(|| VolumeError::Invalid {
                        volume: name.to_owned(),
                        reason: format!("unsupported fieldRef {:?}", field.field_path),
                    })?
                } else if let Some(field) = &item.resource_field_ref {
                    let first = spec.containers.first().cloned().unwrap_or_default();
                    resource_field(pod, &first, field, node).map_err(|e| VolumeError::Invalid {
                        volume: name.to_owned(),
                        reason: e.to_string(),
                    })?
                } else {
                    String::new()
                };
                let mode = item
                    .mode
                    .map_or(default_mode, |m| u32::try_from(m).unwrap_or(default_mode));
                write_if_changed(name, &dir.join(rel), &content, mode)?;
            }
            dir
        } else {
            return Err(VolumeError::Unsupported {
                volume: name.to_owned(),
                kind: kind(v),
            });
        };
        paths.insert(name.to_owned(), path);
    }
    Ok(paths)
}

/// Bytes in the files under `path`.
fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_usage(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The first disk-backed emptyDir whose contents exceed its sizeLimit, as Kubernetes'
/// eviction message says it.
pub fn over_size_limit(pod: &Pod, pod_dir: &Path) -> Option<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    spec.volumes.iter().find_map(|v| {
        let empty = v.empty_dir.as_ref().filter(|e| e.medium != "Memory")?;
        let limit = empty.size_limit.as_ref()?;
        let bytes = u64::try_from(podium_api::quantity::Quantity::parse(&limit.string).ok()?.value()).ok()?;
        let usage = disk_usage(&pod_dir.join("volumes/kubernetes.io~empty-dir").join(&v.name));
        (usage > bytes).then(|| {
            format!(
                "Usage of EmptyDir volume {:?} exceeds the limit {:?}. ",
                v.name, limit.string
            )
        })
    })
}

/// The container's termination-message file for `attempt`, created empty.
pub fn termination_log(pod_dir: &Path, container: &Container, attempt: u32) -> std::io::Result<PathBuf> {
    let dir = pod_dir.join("containers").join(&container.name);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{attempt}-termination-log"));
    if !path.exists() {
        std::fs::write(&path, "")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
    }
    Ok(path)
}

/// Removes the pod's directory, unmounting its tmpfs volumes first.
pub fn remove_pod_dir(pod_dir: &Path) -> std::io::Result<()> {
    if !pod_dir.exists() {
        return Ok(());
    }
    let empty_dirs = pod_dir.join("volumes/kubernetes.io~empty-dir");
    if let Ok(entries) = std::fs::read_dir(&empty_dirs) {
        for entry in entries.flatten() {
            let path = entry.path();
            if is_mount_point(&path) {
                let _ = std::process::Command::new("umount").arg(&path).status();
            }
        }
    }
    std::fs::remove_dir_all(pod_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_proto::k8s::core::v1::{
        DownwardApiVolumeFile, DownwardApiVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource,
        ObjectFieldSelector, PodSpec, SecretVolumeSource,
    };
    use podium_proto::k8s::meta::v1::ObjectMeta;

    fn pod(volumes: Vec<Volume>) -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: "web".into(),
                labels: [("app".to_owned(), "web".to_owned())].into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                volumes,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn host_path(name: &str, path: &Path, kind: &str) -> Volume {
        Volume {
            name: name.into(),
            host_path: Some(HostPathVolumeSource {
                path: path.display().to_string(),
                r#type: Some(kind.into()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn host_path_types_are_checked_and_created() {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeFacts::default();
        let made = dir.path().join("made");
        let file = dir.path().join("made-file");
        let paths = prepare(
            &pod(vec![
                host_path("d", &made, "DirectoryOrCreate"),
                host_path("f", &file, "FileOrCreate"),
            ]),
            dir.path(),
            &node,
        )
        .unwrap();
        assert!(made.is_dir() && file.is_file());
        assert_eq!(paths["d"], made);
        let err = prepare(&pod(vec![host_path("x", &file, "Directory")]), dir.path(), &node).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("hostPath type check failed: {} is not a directory", file.display())
        );
        assert!(prepare(&pod(vec![host_path("x", &made, "File")]), dir.path(), &node).is_err());
        assert!(prepare(&pod(vec![host_path("x", &made, "Socket")]), dir.path(), &node).is_err());
        assert!(
            prepare(
                &pod(vec![host_path("x", Path::new("/dev/null"), "CharDevice")]),
                dir.path(),
                &node
            )
            .is_ok()
        );
    }

    #[test]
    fn downward_files_follow_labels_and_unsupported_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeFacts::default();
        let volume = Volume {
            name: "info".into(),
            downward_api: Some(DownwardApiVolumeSource {
                items: vec![DownwardApiVolumeFile {
                    path: "labels".into(),
                    field_ref: Some(ObjectFieldSelector {
                        api_version: "v1".into(),
                        field_path: "metadata.labels".into(),
                    }),
                    ..Default::default()
                }],
                default_mode: None,
            }),
            ..Default::default()
        };
        let mut p = pod(vec![
            volume,
            Volume {
                name: "scratch".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]);
        let paths = prepare(&p, dir.path(), &node).unwrap();
        assert_eq!(
            std::fs::read_to_string(paths["info"].join("labels")).unwrap(),
            "app=\"web\""
        );
        p.metadata
            .as_mut()
            .unwrap()
            .labels
            .insert("tier".into(), "front".into());
        prepare(&p, dir.path(), &node).unwrap();
        assert_eq!(
            std::fs::read_to_string(paths["info"].join("labels")).unwrap(),
            "app=\"web\"\ntier=\"front\""
        );
        let err = prepare(
            &pod(vec![Volume {
                name: "creds".into(),
                secret: Some(SecretVolumeSource::default()),
                ..Default::default()
            }]),
            dir.path(),
            &node,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "volume \"creds\": secret volumes are not supported by this agent"
        );
    }
}
