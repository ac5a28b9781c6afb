//! App, init and ephemeral containers: names, images, ports, mounts and the per-kind rules
//! (`validateContainers`, `validateInitContainers`, `validateEphemeralContainers`,
//! `validateContainerCommon`).

use std::collections::{BTreeMap, BTreeSet};

use podium_proto::k8s::core::v1::{Container, ContainerPort, ContainerResizePolicy, PodSpec, Volume};

use super::dns1123_label;
use super::env::{validate_env, validate_env_from};
use super::mounts::{validate_volume_devices, validate_volume_mounts};
use super::path::{Path, invalid_rendered, not_found};
use super::probes::{ProbeKind, validate_lifecycle, validate_probe};
use super::resources::validate_resource_requirements;
use super::security::validate_container_security_context;
use crate::error::Cause;
use crate::names;
use crate::pod::defaults::ephemeral_to_container;

/// The valid volumes of a Pod by name, as `ValidateVolumes` returns them.
pub(super) type Volumes<'a> = BTreeMap<&'a str, &'a Volume>;

/// What every container check needs from the Pod around it.
pub(super) struct Context<'a> {
    pub volumes: Volumes<'a>,
    pub grace_period: i64,
    pub restart_policy: &'a str,
    pub host_users: bool,
}

pub(super) fn validate_containers(spec: &PodSpec, ctx: &Context<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if spec.containers.is_empty() {
        causes.push(Cause::required(path));
        return causes;
    }
    let mut names = BTreeSet::new();
    for (i, container) in spec.containers.iter().enumerate() {
        let idx = path.index(i);
        causes.extend(validate_container_common(container, ctx, &idx));
        if !names.insert(container.name.as_str()) {
            causes.push(Cause::duplicate(idx.child("name"), &container.name));
        }
        causes.extend(validate_probes_and_hooks(container, ctx, &idx));
        if container.restart_policy.is_some() {
            causes.push(Cause::forbidden(
                idx.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    causes.extend(host_port_conflicts(&spec.containers, path));
    causes
}

fn validate_probes_and_hooks(container: &Container, ctx: &Context<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(lifecycle) = &container.lifecycle {
        causes.extend(validate_lifecycle(
            lifecycle,
            ctx.grace_period,
            &path.child("lifecycle"),
        ));
    }
    for (probe, kind, field) in [
        (&container.liveness_probe, ProbeKind::Liveness, "livenessProbe"),
        (&container.readiness_probe, ProbeKind::Readiness, "readinessProbe"),
        (&container.startup_probe, ProbeKind::Startup, "startupProbe"),
    ] {
        causes.extend(validate_probe(
            probe.as_ref(),
            kind,
            ctx.grace_period,
            &path.child(field),
        ));
    }
    causes
}

pub(super) fn validate_init_containers(spec: &PodSpec, ctx: &Context<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut names: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, container) in spec.init_containers.iter().enumerate() {
        let idx = path.index(i);
        causes.extend(validate_container_common(container, ctx, &idx));
        let mut sidecar = false;
        if let Some(policy) = &container.restart_policy {
            if policy == "Always" {
                sidecar = true;
            } else {
                causes.push(Cause::not_supported(idx.child("restartPolicy"), policy, &["Always"]));
            }
        }
        if names.contains(container.name.as_str()) {
            causes.push(Cause::duplicate(idx.child("name"), &container.name));
        } else if !container.name.is_empty() {
            names.insert(&container.name);
        }
        // Init containers run one at a time, so their host ports only conflict within each.
        causes.extend(host_port_conflicts(std::slice::from_ref(container), path));
        if sidecar {
            causes.extend(validate_probes_and_hooks(container, ctx, &idx));
        } else {
            for (set, field) in [
                (container.lifecycle.is_some(), "lifecycle"),
                (container.liveness_probe.is_some(), "livenessProbe"),
                (container.readiness_probe.is_some(), "readinessProbe"),
                (container.startup_probe.is_some(), "startupProbe"),
            ] {
                if set {
                    causes.push(Cause::forbidden(
                        idx.child(field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
        if !container.resize_policy.is_empty() {
            causes.push(invalid_rendered(
                &idx.child("resizePolicy"),
                &render_resize_policy(&container.resize_policy),
                "must not be set for init containers",
            ));
        }
    }
    causes
}

fn render_resize_policy(policies: &[ContainerResizePolicy]) -> String {
    let items: Vec<String> = policies
        .iter()
        .map(|p| {
            format!(
                "core.ContainerResizePolicy{{ResourceName:{:?}, RestartPolicy:{:?}}}",
                p.resource_name, p.restart_policy
            )
        })
        .collect();
    format!("[]core.ContainerResizePolicy{{{}}}", items.join(", "))
}

pub(super) fn validate_ephemeral_containers(spec: &PodSpec, ctx: &Context<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let others: BTreeSet<&str> = spec
        .containers
        .iter()
        .chain(&spec.init_containers)
        .map(|c| c.name.as_str())
        .collect();
    let mut all: BTreeSet<String> = others.iter().map(|n| (*n).to_owned()).collect();
    for (i, ephemeral) in spec.ephemeral_containers.iter().enumerate() {
        let idx = path.index(i);
        let (container, target) = ephemeral_to_container(ephemeral.clone());
        causes.extend(validate_container_common(&container, ctx, &idx));
        if !all.insert(container.name.clone()) {
            causes.push(Cause::duplicate(idx.child("name"), &container.name));
        }
        if !target.is_empty() && !others.contains(target.as_str()) {
            causes.push(not_found(&idx.child("targetContainerName"), &target));
        }
        // Ephemeral containers must not be relied on for the Pod's own service.
        let has_resources = container.resources.as_ref().is_some_and(|r| *r != Default::default());
        for (set, field) in [
            (!container.ports.is_empty(), "ports"),
            (has_resources, "resources"),
            (!container.resize_policy.is_empty(), "resizePolicy"),
            (container.restart_policy.is_some(), "restartPolicy"),
            (container.lifecycle.is_some(), "lifecycle"),
            (container.liveness_probe.is_some(), "livenessProbe"),
            (container.readiness_probe.is_some(), "readinessProbe"),
            (container.startup_probe.is_some(), "startupProbe"),
        ] {
            if set {
                causes.push(Cause::forbidden(
                    idx.child(field),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
        for (m, mount) in container.volume_mounts.iter().enumerate() {
            let mount_path = idx.child("volumeMounts").index(m);
            if !mount.sub_path.is_empty() {
                causes.push(Cause::forbidden(
                    mount_path.child("subPath"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
            if !mount.sub_path_expr.is_empty() {
                causes.push(Cause::forbidden(
                    mount_path.child("subPathExpr"),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
    causes
}

/// `validateContainerCommon` plus the pod-only image whitespace check.
fn validate_container_common(container: &Container, ctx: &Context<'_>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if container.name.is_empty() {
        causes.push(Cause::required(path.child("name")));
    } else {
        causes.extend(dns1123_label(&container.name, &path.child("name")));
    }
    if container.image.is_empty() {
        causes.push(Cause::required(path.child("image")));
    } else if container.image.trim() != container.image {
        causes.push(Cause::invalid(
            path.child("image"),
            &container.image,
            "must not have leading or trailing whitespace",
        ));
    }
    const MESSAGE_POLICIES: [&str; 2] = ["File", "FallbackToLogsOnError"];
    match container.termination_message_policy.as_str() {
        "File" | "FallbackToLogsOnError" => {}
        "" => causes.push(Cause::required(path.child("terminationMessagePolicy"))),
        other => causes.push(Cause::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &MESSAGE_POLICIES,
        )),
    }
    causes.extend(validate_ports(&container.ports, &path.child("ports")));
    causes.extend(validate_env(&container.env, &path.child("env")));
    causes.extend(validate_env_from(&container.env_from, &path.child("envFrom")));
    causes.extend(validate_volume_mounts(
        container,
        &ctx.volumes,
        &path.child("volumeMounts"),
    ));
    causes.extend(validate_volume_devices(
        container,
        &ctx.volumes,
        &path.child("volumeDevices"),
    ));
    causes.extend(validate_pull_policy(
        &container.image_pull_policy,
        &path.child("imagePullPolicy"),
    ));
    causes.extend(validate_resource_requirements(
        container.resources.as_ref(),
        &path.child("resources"),
    ));
    causes.extend(validate_resize_policy(
        &container.resize_policy,
        ctx.restart_policy,
        &path.child("resizePolicy"),
    ));
    if let Some(security_context) = &container.security_context {
        causes.extend(validate_container_security_context(
            security_context,
            ctx.host_users,
            &path.child("securityContext"),
        ));
    }
    causes
}

pub(super) fn validate_pull_policy(policy: &str, path: &Path) -> Vec<Cause> {
    const POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
    match policy {
        "" => vec![Cause::required(path)],
        p if POLICIES.contains(&p) => Vec::new(),
        p => vec![Cause::not_supported(path, p, &POLICIES)],
    }
}

fn validate_ports(ports: &[ContainerPort], path: &Path) -> Vec<Cause> {
    const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
    let mut causes = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let idx = path.index(i);
        if !port.name.is_empty() {
            let problems = names::is_valid_port_name(&port.name);
            if !problems.is_empty() {
                for problem in problems {
                    causes.push(Cause::invalid(idx.child("name"), &port.name, problem));
                }
            } else if !names.insert(port.name.as_str()) {
                causes.push(Cause::duplicate(idx.child("name"), &port.name));
            }
        }
        if port.container_port == 0 {
            causes.push(Cause::required(idx.child("containerPort")));
        } else {
            for problem in names::is_valid_port_num(i64::from(port.container_port)) {
                causes.push(Cause::invalid_number(
                    idx.child("containerPort"),
                    port.container_port,
                    problem,
                ));
            }
        }
        if port.host_port != 0 {
            for problem in names::is_valid_port_num(i64::from(port.host_port)) {
                causes.push(Cause::invalid_number(idx.child("hostPort"), port.host_port, problem));
            }
        }
        if port.protocol.is_empty() {
            causes.push(Cause::required(idx.child("protocol")));
        } else if !PROTOCOLS.contains(&port.protocol.as_str()) {
            causes.push(Cause::not_supported(idx.child("protocol"), &port.protocol, &PROTOCOLS));
        }
    }
    causes
}

/// `AccumulateUniqueHostPorts`: one (hostIP, protocol, hostPort) per set of containers.
fn host_port_conflicts(containers: &[Container], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut seen = BTreeSet::new();
    for (ci, container) in containers.iter().enumerate() {
        for (pi, port) in container.ports.iter().enumerate() {
            if port.host_port == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", port.host_ip, port.protocol, port.host_port);
            if seen.contains(&key) {
                causes.push(Cause::duplicate(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    &key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    causes
}

/// `validatePodHostNetworkDeps`: with the host's network, a host port is the container port.
pub(super) fn validate_host_network_ports(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if !spec.host_network {
        return causes;
    }
    for (containers, field) in [
        (&spec.containers, "containers"),
        (&spec.init_containers, "initContainers"),
    ] {
        for (ci, container) in containers.iter().enumerate() {
            for (pi, port) in container.ports.iter().enumerate() {
                if port.host_port != port.container_port {
                    causes.push(Cause::invalid_number(
                        path.child(field).index(ci).child("ports").index(pi).child("hostPort"),
                        port.host_port,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    causes
}

fn validate_resize_policy(policies: &[ContainerResizePolicy], restart_policy: &str, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, policy) in policies.iter().enumerate() {
        let idx = path.index(i);
        if !seen.insert(policy.resource_name.as_str()) {
            causes.push(Cause::duplicate(&idx, &policy.resource_name));
        }
        match policy.resource_name.as_str() {
            "cpu" | "memory" => {}
            "" => causes.push(Cause::required(idx.child("resourceName"))),
            other => causes.push(Cause::not_supported(
                idx.child("resourceName"),
                other,
                &["cpu", "memory"],
            )),
        }
        match policy.restart_policy.as_str() {
            "NotRequired" | "RestartContainer" => {}
            "" => causes.push(Cause::required(idx.child("restartPolicy"))),
            other => {
                causes.push(Cause::not_supported(
                    idx.child("restartPolicy"),
                    other,
                    &["NotRequired", "RestartContainer"],
                ));
            }
        }
        if restart_policy == "Never" && policy.restart_policy != "NotRequired" {
            causes.push(Cause::invalid(
                &idx,
                &policy.restart_policy,
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    causes
}
