//! Volume mounts and raw block devices of a container (`ValidateVolumeMounts`,
//! `ValidateVolumeDevices`): they must name a valid volume of the Pod, and paths must be
//! unique and stay inside the volume.

use std::collections::BTreeSet;

use podium_proto::k8s::core::v1::{Container, VolumeDevice, VolumeMount};

use super::containers::Volumes;
use super::path::{Path, not_found};
use super::{validate_local_descending_path, validate_path_no_backsteps};
use crate::error::Cause;

pub(super) fn validate_volume_mounts(container: &Container, volumes: &Volumes<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let devices: &[VolumeDevice] = &container.volume_devices;
    let mut mount_points = BTreeSet::new();
    for (i, mount) in container.volume_mounts.iter().enumerate() {
        let idx = path.index(i);
        if mount.name.is_empty() {
            causes.push(Cause::required(idx.child("name")));
        }
        if !volumes.contains_key(mount.name.as_str()) {
            causes.push(not_found(&idx.child("name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            causes.push(Cause::required(idx.child("mountPath")));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            causes.push(Cause::invalid(
                idx.child("mountPath"),
                &mount.mount_path,
                "must be unique",
            ));
        }
        if devices.iter().any(|d| d.name == mount.name) {
            causes.push(Cause::invalid(
                idx.child("name"),
                &mount.name,
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|d| d.device_path == mount.mount_path) {
            causes.push(Cause::invalid(
                idx.child("mountPath"),
                &mount.mount_path,
                "must not already exist as a path in volumeDevices",
            ));
        }
        // Kubernetes reports these on the list path, without the index.
        if !mount.sub_path.is_empty() {
            causes.extend(validate_local_descending_path(&mount.sub_path, &path.child("subPath")));
        }
        if !mount.sub_path_expr.is_empty() {
            if !mount.sub_path.is_empty() {
                causes.push(Cause::invalid(
                    idx.child("subPathExpr"),
                    &mount.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            causes.extend(validate_local_descending_path(
                &mount.sub_path_expr,
                &path.child("subPathExpr"),
            ));
        }
        if let Some(propagation) = &mount.mount_propagation {
            causes.extend(validate_mount_propagation(
                propagation,
                container,
                &path.child("mountPropagation"),
            ));
        }
        causes.extend(validate_recursive_read_only(mount, &path.child("recursiveReadOnly")));
    }
    causes
}

fn validate_mount_propagation(propagation: &str, container: &Container, path: &Path) -> Vec<Cause> {
    const MODES: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
    let mut causes = Vec::new();
    if !MODES.contains(&propagation) {
        causes.push(Cause::not_supported(path, propagation, &MODES));
    }
    let privileged = container
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    if propagation == "Bidirectional" && !privileged {
        causes.push(Cause::forbidden(
            path,
            "Bidirectional mount propagation is available only to privileged containers",
        ));
    }
    causes
}

fn validate_recursive_read_only(mount: &VolumeMount, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    match mount.recursive_read_only.as_deref() {
        None | Some("Disabled") => {}
        Some("Enabled" | "IfPossible") => {
            if !mount.read_only {
                causes.push(Cause::forbidden(path, "may only be specified when readOnly is true"));
            }
            if mount.mount_propagation.as_deref().is_some_and(|p| p != "None") {
                causes.push(Cause::forbidden(
                    path,
                    "may only be specified when mountPropagation is None or not specified",
                ));
            }
        }
        Some(other) => causes.push(Cause::not_supported(
            path,
            other,
            &["Disabled", "Enabled", "IfPossible"],
        )),
    }
    causes
}

pub(super) fn validate_volume_devices(container: &Container, volumes: &Volumes<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mounts = &container.volume_mounts;
    let mut device_paths = BTreeSet::new();
    let mut device_names = BTreeSet::new();
    for (i, device) in container.volume_devices.iter().enumerate() {
        let idx = path.index(i);
        let (name, device_path) = (device.name.as_str(), device.device_path.as_str());
        let volume = volumes.get(name);
        if name.is_empty() {
            causes.push(Cause::required(idx.child("name")));
        }
        if device_names.contains(name) {
            causes.push(Cause::invalid(idx.child("name"), name, "must be unique"));
        }
        match volume {
            Some(v) if v.persistent_volume_claim.is_none() => causes.push(Cause::invalid(
                idx.child("name"),
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(_) => {}
            None => causes.push(not_found(&idx.child("name"), name)),
        }
        if device_path.is_empty() {
            causes.push(Cause::required(idx.child("devicePath")));
        }
        if device_paths.contains(device_path) {
            causes.push(Cause::invalid(idx.child("devicePath"), device_path, "must be unique"));
        }
        if !device_path.is_empty() && !validate_path_no_backsteps(device_path, &path.child("devicePath")).is_empty() {
            causes.push(Cause::invalid(
                idx.child("devicePath"),
                device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            device_paths.insert(device_path);
        }
        if mounts.iter().any(|m| m.name == name) {
            causes.push(Cause::invalid(
                idx.child("name"),
                name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.iter().any(|m| m.mount_path == device_path) {
            causes.push(Cause::invalid(
                idx.child("devicePath"),
                device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !name.is_empty() {
            device_names.insert(name);
        }
    }
    causes
}
