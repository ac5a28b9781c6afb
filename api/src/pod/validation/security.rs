//! Security contexts, sysctls, host namespaces and the OS-specific restrictions
//! (`validatePodSpecSecurityContext`, `ValidateSecurityContext`, `validateHostUsers`,
//! `validateLinux`, `validateWindows`).

use std::collections::BTreeSet;

use podium_proto::k8s::core::v1::{AppArmorProfile, PodSpec, SeccompProfile, SecurityContext};

use super::path::{Path, invalid_rendered, required};
use super::validate_local_descending_path;
use crate::error::Cause;

/// Kubernetes' `InclusiveRangeError(0, math.MaxInt32)` for user and group IDs.
const ID_RANGE: &str = "must be between 0 and 2147483647, inclusive";

fn validate_id(id: i64, path: &Path) -> Vec<Cause> {
    if (0..=i64::from(i32::MAX)).contains(&id) {
        Vec::new()
    } else {
        vec![Cause::invalid_number(path, id, ID_RANGE)]
    }
}

pub(super) fn validate_pod_security_context(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    // Kubernetes keeps shareProcessNamespace inside the internal security context, hence the path.
    if spec.share_process_namespace == Some(true) && spec.host_pid {
        causes.push(Cause::invalid_number(
            path.child("shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    let Some(context) = &spec.security_context else {
        return causes;
    };
    if let Some(fs_group) = context.fs_group {
        causes.extend(validate_id(fs_group, &path.child("fsGroup")));
    }
    if let Some(user) = context.run_as_user {
        causes.extend(validate_id(user, &path.child("runAsUser")));
    }
    if let Some(group) = context.run_as_group {
        causes.extend(validate_id(group, &path.child("runAsGroup")));
    }
    for (i, gid) in context.supplemental_groups.iter().enumerate() {
        causes.extend(validate_id(*gid, &path.child("supplementalGroups").index(i)));
    }
    causes.extend(validate_sysctls(spec, &path.child("sysctls")));
    if let Some(policy) = &context.fs_group_change_policy
        && policy != "OnRootMismatch"
        && policy != "Always"
    {
        causes.push(Cause::not_supported(
            path.child("fsGroupChangePolicy"),
            policy,
            &["OnRootMismatch", "Always"],
        ));
    }
    causes.extend(validate_seccomp(
        context.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    causes.extend(validate_app_armor(
        context.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    if let Some(policy) = &context.supplemental_groups_policy
        && policy != "Merge"
        && policy != "Strict"
    {
        causes.push(Cause::not_supported(
            path.child("supplementalGroupsPolicy"),
            policy,
            &["Merge", "Strict"],
        ));
    }
    causes
}

/// `^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`, at most 253 long.
fn is_valid_sysctl_name(name: &str) -> bool {
    let segment_ok = |s: &str| {
        let b = s.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && edge(b[0]) && edge(b[b.len() - 1]) && b.iter().all(|&c| edge(c) || c == b'-' || c == b'_')
    };
    name.len() <= 253 && name.split(['.', '/']).all(segment_ok)
}

fn validate_sysctls(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(context) = &spec.security_context else {
        return causes;
    };
    let mut names = BTreeSet::new();
    for (i, sysctl) in context.sysctls.iter().enumerate() {
        let name_path = path.index(i).child("name");
        let name = sysctl.name.as_str();
        if name.is_empty() {
            causes.push(Cause::required(&name_path));
        } else if !is_valid_sysctl_name(name) {
            causes.push(Cause::invalid(
                &name_path,
                name,
                r"must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            ));
        } else if names.contains(name) {
            causes.push(Cause::duplicate(&name_path, name));
        }
        // Namespaced sysctls would change the host's kernel when the namespace is the host's.
        let normalized = name.replace('/', ".");
        let ipc = ["kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."]
            .iter()
            .any(|p| normalized.starts_with(p));
        if ipc && spec.host_ipc {
            causes.push(Cause::invalid(
                &name_path,
                name,
                "sysctl not allowed with host ipc enabled",
            ));
        } else if normalized.starts_with("net.") && spec.host_network {
            causes.push(Cause::invalid(
                &name_path,
                name,
                "sysctl not allowed with host net enabled",
            ));
        }
        names.insert(name);
    }
    causes
}

fn validate_seccomp(profile: Option<&SeccompProfile>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(profile) = profile else {
        return causes;
    };
    const TYPES: [&str; 3] = ["Localhost", "RuntimeDefault", "Unconfined"];
    match profile.r#type.as_str() {
        "" => causes.push(required(
            &path.child("type"),
            "type is required when seccompProfile is set",
        )),
        t if !TYPES.contains(&t) => causes.push(Cause::not_supported(path.child("type"), t, &TYPES)),
        _ => {}
    }
    match (&profile.localhost_profile, profile.r#type == "Localhost") {
        (None, true) => causes.push(required(
            &path.child("localhostProfile"),
            "must be set when seccomp type is Localhost",
        )),
        (Some(localhost), true) => causes.extend(validate_local_descending_path(
            localhost,
            &path.child("localhostProfile"),
        )),
        (Some(_), false) => causes.push(invalid_rendered(
            &path.child("localhostProfile"),
            &serde_json::to_string(profile).unwrap_or_default(),
            "can only be set when seccomp type is Localhost",
        )),
        (None, false) => {}
    }
    causes
}

fn validate_app_armor(profile: Option<&AppArmorProfile>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(profile) = profile else {
        return causes;
    };
    let localhost_path = path.child("localhostProfile");
    match profile.r#type.as_str() {
        "Localhost" => match &profile.localhost_profile {
            None => causes.push(required(&localhost_path, "must be set when AppArmor type is Localhost")),
            Some(localhost) => {
                if localhost.trim() != localhost {
                    causes.push(Cause::invalid(
                        &localhost_path,
                        localhost,
                        "must not be padded with whitespace",
                    ));
                } else if localhost.is_empty() {
                    causes.push(required(&localhost_path, "must be set when AppArmor type is Localhost"));
                }
                if localhost.len() > 4095 {
                    causes.push(Cause::too_long(&localhost_path, 4095));
                }
            }
        },
        "RuntimeDefault" | "Unconfined" => {
            if let Some(localhost) = &profile.localhost_profile {
                causes.push(Cause::invalid(
                    &localhost_path,
                    localhost,
                    "can only be set when AppArmor type is Localhost",
                ));
            }
        }
        "" => causes.push(required(
            &path.child("type"),
            "type is required when appArmorProfile is set",
        )),
        other => causes.push(Cause::not_supported(
            path.child("type"),
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    causes
}

/// `ValidateSecurityContext` for one container; `host_users` is false with a user namespace.
pub(super) fn validate_container_security_context(
    context: &SecurityContext,
    host_users: bool,
    path: &Path,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(user) = context.run_as_user {
        causes.extend(validate_id(user, &path.child("runAsUser")));
    }
    if let Some(group) = context.run_as_group {
        causes.extend(validate_id(group, &path.child("runAsGroup")));
    }
    if let Some(proc_mount) = &context.proc_mount {
        if proc_mount != "Default" && proc_mount != "Unmasked" {
            causes.push(Cause::not_supported(
                path.child("procMount"),
                proc_mount,
                &["Default", "Unmasked"],
            ));
        }
        if host_users && proc_mount == "Unmasked" {
            causes.push(Cause::invalid(
                path.child("procMount"),
                proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    causes.extend(validate_seccomp(
        context.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    if context.allow_privilege_escalation == Some(false) {
        // Go prints the whole security context here; JSON is the readable equivalent.
        let rendered = serde_json::to_string(context).unwrap_or_default();
        if context.privileged == Some(true) {
            causes.push(invalid_rendered(
                path,
                &rendered,
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = context
            .capabilities
            .as_ref()
            .is_some_and(|c| c.add.iter().any(|a| a == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            causes.push(invalid_rendered(
                path,
                &rendered,
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    causes.extend(validate_app_armor(
        context.app_armor_profile.as_ref(),
        &path.child("appArmorProfile"),
    ));
    causes
}

/// `validateHostUsers`: a Pod in its own user namespace may not share the host's others.
pub(super) fn validate_host_users(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if spec.host_users != Some(false) {
        return causes;
    }
    // Kubernetes capitalises the last two paths.
    for (set, field) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "HostPID"),
        (spec.host_ipc, "HostIPC"),
    ] {
        if set {
            causes.push(Cause::forbidden(
                path.child(field),
                "when `pod.Spec.HostUsers` is false",
            ));
        }
    }
    causes
}

/// Every container of the spec with its path, init containers first, as Kubernetes'
/// `VisitContainersWithPath` walks them.
fn containers_with_path<'a>(spec: &'a PodSpec, path: &Path) -> Vec<(Option<&'a SecurityContext>, Path)> {
    let mut all = Vec::new();
    for (i, c) in spec.init_containers.iter().enumerate() {
        all.push((c.security_context.as_ref(), path.child("initContainers").index(i)));
    }
    for (i, c) in spec.containers.iter().enumerate() {
        all.push((c.security_context.as_ref(), path.child("containers").index(i)));
    }
    for (i, c) in spec.ephemeral_containers.iter().enumerate() {
        all.push((c.security_context.as_ref(), path.child("ephemeralContainers").index(i)));
    }
    all
}

/// `validateOS` and the OS-specific rules that follow a valid `spec.os`.
pub(super) fn validate_os(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let Some(os) = &spec.os else {
        return Vec::new();
    };
    let os_path = path.child("os");
    match os.name.as_str() {
        "" => vec![required(&os_path.child("name"), "cannot be empty")],
        "linux" => validate_linux(spec, path),
        "windows" => validate_windows(spec, path),
        other => vec![Cause::not_supported(os_path, other, &["linux", "windows"])],
    }
}

fn validate_linux(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    const MESSAGE: &str = "windows options cannot be set for a linux pod";
    if spec
        .security_context
        .as_ref()
        .is_some_and(|s| s.windows_options.is_some())
    {
        causes.push(Cause::forbidden(
            path.child("securityContext").child("windowsOptions"),
            MESSAGE,
        ));
    }
    for (context, container_path) in containers_with_path(spec, path) {
        if context.is_some_and(|s| s.windows_options.is_some()) {
            causes.push(Cause::forbidden(
                container_path.child("securityContext").child("windowsOptions"),
                MESSAGE,
            ));
        }
    }
    causes
}

fn validate_windows(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    const MESSAGE: &str = "cannot be set for a windows pod";
    let mut causes = Vec::new();
    let context_path = path.child("securityContext");
    if let Some(context) = &spec.security_context {
        for (set, field) in [
            (context.app_armor_profile.is_some(), "appArmorProfile"),
            (context.se_linux_options.is_some(), "seLinuxOptions"),
        ] {
            if set {
                causes.push(Cause::forbidden(context_path.child(field), MESSAGE));
            }
        }
    }
    for (set, field) in [
        (spec.host_users.is_some(), "hostUsers"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if set {
            causes.push(Cause::forbidden(path.child(field), MESSAGE));
        }
    }
    if let Some(context) = &spec.security_context {
        for (set, field) in [
            (context.seccomp_profile.is_some(), "seccompProfile"),
            (context.fs_group.is_some(), "fsGroup"),
            (context.fs_group_change_policy.is_some(), "fsGroupChangePolicy"),
            (!context.sysctls.is_empty(), "sysctls"),
        ] {
            if set {
                causes.push(Cause::forbidden(context_path.child(field), MESSAGE));
            }
        }
    }
    if spec.share_process_namespace.is_some() {
        causes.push(Cause::forbidden(path.child("shareProcessNamespace"), MESSAGE));
    }
    if let Some(context) = &spec.security_context {
        for (set, field) in [
            (context.run_as_user.is_some(), "runAsUser"),
            (context.run_as_group.is_some(), "runAsGroup"),
            (!context.supplemental_groups.is_empty(), "supplementalGroups"),
            (context.supplemental_groups_policy.is_some(), "supplementalGroupsPolicy"),
        ] {
            if set {
                causes.push(Cause::forbidden(context_path.child(field), MESSAGE));
            }
        }
    }
    for (context, container_path) in containers_with_path(spec, path) {
        let Some(sc) = context else { continue };
        let sc_path = container_path.child("securityContext");
        for (set, field) in [
            (sc.app_armor_profile.is_some(), "appArmorProfile"),
            (sc.se_linux_options.is_some(), "seLinuxOptions"),
            (sc.seccomp_profile.is_some(), "seccompProfile"),
            (sc.capabilities.is_some(), "capabilities"),
            (sc.read_only_root_filesystem.is_some(), "readOnlyRootFilesystem"),
            (sc.privileged.is_some(), "privileged"),
            (sc.allow_privilege_escalation.is_some(), "allowPrivilegeEscalation"),
            (sc.proc_mount.is_some(), "procMount"),
            (sc.run_as_user.is_some(), "runAsUser"),
            (sc.run_as_group.is_some(), "runAsGroup"),
        ] {
            if set {
                causes.push(Cause::forbidden(sc_path.child(field), MESSAGE));
            }
        }
    }
    causes
}
