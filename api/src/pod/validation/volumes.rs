//! Pod volumes: names, exactly one source, and each source's rules (`ValidateVolumes`,
//! `validateVolumeSource`).

use std::collections::BTreeSet;

use podium_proto::k8s::core::v1::{
    CsiVolumeSource, DownwardApiVolumeFile, HostPathVolumeSource, KeyToPath, ProjectedVolumeSource, Volume,
};

use super::containers::{Volumes, validate_pull_policy};
use super::env::{VOLUME_FIELD_PATHS, validate_object_field_selector, validate_resource_field_selector};
use super::path::{Path, required};
use super::{dns1123_label, validate_local_descending_path, validate_path_no_backsteps};
use crate::error::Cause;
use crate::quantity::Quantity;

const FILE_MODE_MESSAGE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Returns the volumes that passed, by name (mounts may only name those), and the causes.
pub(super) fn validate_volumes<'a>(volumes: &'a [Volume], path: &Path) -> (Volumes<'a>, Vec<Cause>) {
    let mut causes = Vec::new();
    let mut valid = Volumes::new();
    let mut names = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let idx = path.index(i);
        let name_path = idx.child("name");
        let mut own = validate_volume_source(volume, &idx);
        if volume.name.is_empty() {
            own.push(Cause::required(&name_path));
        } else {
            own.extend(dns1123_label(&volume.name, &name_path));
        }
        if names.contains(volume.name.as_str()) {
            own.push(Cause::duplicate(&name_path, &volume.name));
        }
        if own.is_empty() {
            names.insert(volume.name.as_str());
            valid.insert(volume.name.as_str(), volume);
        } else {
            causes.extend(own);
        }
    }
    (valid, causes)
}

fn validate_volume_source(volume: &Volume, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut count = 0;
    // Kubernetes' order, which decides which source the "more than 1" error names.
    let mut source = |field: &str, set: bool, causes: &mut Vec<Cause>| -> Option<Path> {
        if !set {
            return None;
        }
        let field_path = path.child(field);
        if count > 0 {
            causes.push(Cause::forbidden(field_path, "may not specify more than 1 volume type"));
            return None;
        }
        count += 1;
        Some(field_path)
    };
    if let (Some(p), Some(empty_dir)) = (
        source("emptyDir", volume.empty_dir.is_some(), &mut causes),
        &volume.empty_dir,
    ) {
        let size_limit = empty_dir.size_limit.as_ref().filter(|l| !l.string.is_empty());
        if size_limit.is_some_and(|l| Quantity::parse(&l.string).map_or(true, |q| q.sign() < 0)) {
            causes.push(Cause::forbidden(
                p.child("sizeLimit"),
                "SizeLimit field must be a valid resource quantity",
            ));
        }
        // Kubernetes leaves the medium to the kubelet; Podium's agent only knows these, so an
        // unknown one is refused here rather than failing at mount time.
        let medium = empty_dir.medium.as_str();
        if !(medium.is_empty() || medium == "Memory" || medium == "HugePages" || medium.starts_with("HugePages-")) {
            causes.push(Cause::not_supported(
                p.child("medium"),
                medium,
                &["", "Memory", "HugePages", "HugePages-<size>"],
            ));
        }
    }
    if let (Some(p), Some(host_path)) = (
        source("hostPath", volume.host_path.is_some(), &mut causes),
        &volume.host_path,
    ) {
        causes.extend(validate_host_path(host_path, &p));
    }
    if let (Some(p), Some(secret)) = (source("secret", volume.secret.is_some(), &mut causes), &volume.secret) {
        if secret.secret_name.is_empty() {
            causes.push(Cause::required(p.child("secretName")));
        }
        causes.extend(validate_mode(secret.default_mode, &p.child("defaultMode")));
        causes.extend(validate_items(&secret.items, &p.child("items")));
    }
    if let (Some(p), Some(nfs)) = (source("nfs", volume.nfs.is_some(), &mut causes), &volume.nfs) {
        if nfs.server.is_empty() {
            causes.push(Cause::required(p.child("server")));
        }
        if nfs.path.is_empty() {
            causes.push(Cause::required(p.child("path")));
        }
        if !nfs.path.starts_with('/') {
            causes.push(Cause::invalid(p.child("path"), &nfs.path, "must be an absolute path"));
        }
    }
    if let (Some(p), Some(claim)) = (
        source(
            "persistentVolumeClaim",
            volume.persistent_volume_claim.is_some(),
            &mut causes,
        ),
        &volume.persistent_volume_claim,
    ) && claim.claim_name.is_empty()
    {
        causes.push(Cause::required(p.child("claimName")));
    }
    if let (Some(p), Some(downward_api)) = (
        source("downwardAPI", volume.downward_api.is_some(), &mut causes),
        &volume.downward_api,
    ) {
        causes.extend(validate_mode(downward_api.default_mode, &p.child("defaultMode")));
        for file in &downward_api.items {
            causes.extend(validate_downward_api_file(file, &p));
        }
    }
    if let (Some(p), Some(config_map)) = (
        source("configMap", volume.config_map.is_some(), &mut causes),
        &volume.config_map,
    ) {
        if config_map.name.is_empty() {
            causes.push(Cause::required(p.child("name")));
        }
        causes.extend(validate_mode(config_map.default_mode, &p.child("defaultMode")));
        causes.extend(validate_items(&config_map.items, &p.child("items")));
    }
    if let (Some(p), Some(projected)) = (
        source("projected", volume.projected.is_some(), &mut causes),
        &volume.projected,
    ) {
        causes.extend(validate_projected(projected, &p));
    }
    if let (Some(p), Some(csi)) = (source("csi", volume.csi.is_some(), &mut causes), &volume.csi) {
        causes.extend(validate_csi(csi, &p));
    }
    if let (Some(p), Some(image)) = (source("image", volume.image.is_some(), &mut causes), &volume.image) {
        if image.reference.is_empty() {
            causes.push(Cause::required(p.child("reference")));
        }
        causes.extend(validate_pull_policy(&image.pull_policy, &p.child("pullPolicy")));
    }
    if count == 0 {
        causes.push(required(path, "must specify a volume type"));
    }
    causes
}

fn validate_host_path(host_path: &HostPathVolumeSource, path: &Path) -> Vec<Cause> {
    const TYPES: [&str; 8] = [
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    let mut causes = Vec::new();
    if host_path.path.is_empty() {
        causes.push(Cause::required(path.child("path")));
        return causes;
    }
    causes.extend(validate_path_no_backsteps(&host_path.path, &path.child("path")));
    if let Some(kind) = &host_path.r#type
        && !TYPES.contains(&kind.as_str())
    {
        causes.push(Cause::not_supported(path.child("type"), kind, &TYPES));
    }
    causes
}

fn validate_mode(mode: Option<i32>, path: &Path) -> Vec<Cause> {
    match mode {
        Some(mode) if !(0..=0o777).contains(&mode) => {
            vec![Cause::invalid_number(path, mode, FILE_MODE_MESSAGE)]
        }
        _ => Vec::new(),
    }
}

fn validate_items(items: &[KeyToPath], path: &Path) -> Vec<Cause> {
    items
        .iter()
        .enumerate()
        .flat_map(|(i, item)| validate_key_to_path(item, &path.index(i)))
        .collect()
}

fn validate_key_to_path(item: &KeyToPath, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if item.key.is_empty() {
        causes.push(Cause::required(path.child("key")));
    }
    if item.path.is_empty() {
        causes.push(Cause::required(path.child("path")));
    }
    causes.extend(validate_local_non_reserved_path(&item.path, &path.child("path")));
    causes.extend(validate_mode(item.mode, &path.child("mode")));
    causes
}

/// A relative path without `..` elements that does not start with `..`.
fn validate_local_non_reserved_path(target: &str, path: &Path) -> Vec<Cause> {
    let mut causes = validate_local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        causes.push(Cause::invalid(path, target, "must not start with '..'"));
    }
    causes
}

/// `validateDownwardAPIVolumeFile`; Kubernetes reports on the source's path, without the item
/// index.
fn validate_downward_api_file(file: &DownwardApiVolumeFile, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if file.path.is_empty() {
        causes.push(Cause::required(path.child("path")));
    }
    causes.extend(validate_local_non_reserved_path(&file.path, &path.child("path")));
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(field_ref), resource_ref) => {
            causes.extend(validate_object_field_selector(
                field_ref,
                &VOLUME_FIELD_PATHS,
                &path.child("fieldRef"),
            ));
            if resource_ref.is_some() {
                causes.push(Cause::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(resource_ref)) => {
            causes.extend(validate_resource_field_selector(
                resource_ref,
                true,
                &path.child("resourceFieldRef"),
            ));
        }
        (None, None) => causes.push(required(path, "one of fieldRef and resourceFieldRef is required")),
    }
    causes.extend(validate_mode(file.mode, &path.child("mode")));
    causes
}

fn validate_projected(projected: &ProjectedVolumeSource, path: &Path) -> Vec<Cause> {
    let mut causes = validate_mode(projected.default_mode, &path.child("defaultMode"));
    let mut all_paths = BTreeSet::new();
    for (i, source) in projected.sources.iter().enumerate() {
        let source_path = path.child("sources").index(i);
        let mut count = 0;
        for (keys, field) in [
            (source.secret.as_ref().map(|s| (&s.name, &s.items)), "secret"),
            (source.config_map.as_ref().map(|c| (&c.name, &c.items)), "configMap"),
        ] {
            let Some((name, items)) = keys else { continue };
            count += 1;
            let p = source_path.child(field);
            if name.is_empty() {
                causes.push(Cause::required(p.child("name")));
            }
            for (j, item) in items.iter().enumerate() {
                causes.extend(validate_key_to_path(item, &p.child("items").index(j)));
                if !item.path.is_empty() && !all_paths.insert(item.path.clone()) {
                    causes.push(Cause::invalid(path, name, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(downward_api) = &source.downward_api {
            count += 1;
            let p = source_path.child("downwardAPI");
            for file in &downward_api.items {
                causes.extend(validate_downward_api_file(file, &p));
                if !file.path.is_empty() && !all_paths.insert(file.path.clone()) {
                    causes.push(Cause::invalid(path, &file.path, "conflicting duplicate paths"));
                }
            }
        }
        if let Some(token) = &source.service_account_token {
            count += 1;
            let p = source_path.child("serviceAccountToken");
            let expiration = token
                .expiration_seconds
                .unwrap_or(crate::pod::defaults::DEFAULT_TOKEN_EXPIRATION_SECONDS);
            if expiration < 10 * 60 {
                causes.push(Cause::invalid_number(
                    p.child("expirationSeconds"),
                    expiration,
                    "may not specify a duration less than 10 minutes",
                ));
            }
            if expiration > 1 << 32 {
                causes.push(Cause::invalid_number(
                    p.child("expirationSeconds"),
                    expiration,
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
            // Kubernetes reports the token path on the projected source, not the entry.
            if token.path.is_empty() {
                causes.push(Cause::required(path.child("path")));
            } else {
                causes.extend(validate_local_non_reserved_path(&token.path, &path.child("path")));
            }
        }
        if let Some(bundle) = &source.cluster_trust_bundle {
            count += 1;
            let p = source_path.child("clusterTrustBundle");
            if bundle.path.is_empty() {
                causes.push(Cause::required(p.child("path")));
            } else {
                causes.extend(validate_local_non_reserved_path(&bundle.path, &p.child("path")));
            }
        }
        if count > 1 {
            causes.push(Cause::forbidden(
                source_path,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    causes
}

fn validate_csi(csi: &CsiVolumeSource, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let driver_path = path.child("driver");
    if csi.driver.is_empty() {
        causes.push(Cause::required(&driver_path));
    }
    if csi.driver.len() > 63 {
        causes.push(Cause::too_long(&driver_path, 63));
    }
    for problem in crate::names::is_dns1123_subdomain(&csi.driver.to_lowercase()) {
        causes.push(Cause::invalid(&driver_path, &csi.driver, problem));
    }
    if let Some(secret_ref) = &csi.node_publish_secret_ref {
        if secret_ref.name.is_empty() {
            causes.push(Cause::required(path.child("nodePublishSecretRef").child("name")));
        } else {
            for problem in crate::names::name_is_dns_subdomain(&secret_ref.name, false) {
                causes.push(Cause::invalid(path.child("name"), &secret_ref.name, problem));
            }
        }
    }
    causes
}
