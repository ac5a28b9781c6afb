//! A Pod's spec as the runtime takes it: the sandbox's config and each container's, with
//! environment variables resolved (`valueFrom.fieldRef`, `$(VAR)` references) the way the
//! kubelet resolves them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use podium_api::quantity::Quantity as Amount;
use podium_proto::k8s::core::v1::{Container, Pod, ResourceFieldSelector};

use super::hosts::pod_hostname;
use super::labels;
use crate::runtime::{ContainerConfig, HostPortMapping, Mount, Resources, SandboxConfig, SandboxNetwork, Security};

/// The cluster's DNS domain.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// A container the agent cannot configure (Kubernetes' CreateContainerConfigError).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("unsupported fieldRef {0:?}")]
    FieldPath(String),
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    #[error("configmap {0:?} not found")]
    ConfigMap(String),
    #[error("secret {0:?} not found")]
    Secret(String),
    #[error("{0}")]
    NonRoot(String),
    #[error("invalid resource field {resource:?}: {reason}")]
    ResourceField { resource: String, reason: String },
    #[error("volume {0:?} is not mounted in the pod")]
    NoVolume(String),
    #[error("invalid subPath {0:?}: it must be a relative path without '..'")]
    SubPath(String),
}

/// What the node offers, for resource fields, limits, and cgroup names.
#[derive(Debug, Clone, Default)]
pub struct NodeFacts {
    /// Allocatable CPU in thousandths of a core.
    pub cpu_milli: i64,
    /// Allocatable memory in bytes.
    pub memory_bytes: i64,
    /// Docker's cgroup driver: `systemd` or `cgroupfs`.
    pub cgroup_driver: String,
    /// The most processes a container may have (`--pod-pids-limit`).
    pub pids_limit: Option<i64>,
}

/// What a container's environment may refer to beyond the Pod itself.
#[derive(Debug, Clone, Default)]
pub struct Runtime<'a> {
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    /// The pod's `/etc/hosts` and `/etc/resolv.conf` on the node (none: the image's own).
    pub hosts_file: Option<PathBuf>,
    pub resolv_conf: Option<PathBuf>,
    /// Each volume's directory (or file) on the node, by volume name.
    pub volumes: BTreeMap<String, PathBuf>,
    /// The file bound at the container's terminationMessagePath.
    pub termination_log: Option<PathBuf>,
    pub node: NodeFacts,
}

/// The sandbox's hostname: the pod's hostname, or its FQDN with `setHostnameAsFQDN`.
pub fn sandbox_hostname(pod: &Pod) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = pod_hostname(pod);
    if spec.set_hostname_as_fqdn == Some(true) && !spec.subdomain.is_empty() {
        let namespace = pod.metadata.as_ref().map(|m| m.namespace.as_str()).unwrap_or_default();
        format!("{hostname}.{}.{namespace}.svc.{CLUSTER_DOMAIN}", spec.subdomain)
    } else {
        hostname
    }
}

/// The cgroup a pod of QoS class `qos` goes under, named as Docker's cgroup driver wants.
pub fn cgroup_parent(qos: &str, driver: &str) -> String {
    let class = match qos {
        "Guaranteed" => "",
        "BestEffort" => "besteffort",
        _ => "burstable",
    };
    match (driver, class) {
        ("systemd", "") => "podium.slice".to_owned(),
        ("systemd", class) => format!("podium-{class}.slice"),
        (_, "") => "/podium".to_owned(),
        (_, class) => format!("/podium/{class}"),
    }
}

/// The sandbox (pause) container for attempt `attempt` of `pod`.
pub fn sandbox_config(
    pod: &Pod,
    node: &str,
    attempt: u32,
    pause_image: &str,
    network: &str,
    facts: &NodeFacts,
) -> SandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let sysctls = spec
        .security_context
        .as_ref()
        .map(|sc| sc.sysctls.iter().map(|s| (s.name.clone(), s.value.clone())).collect())
        .unwrap_or_default();
    let ports = spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port > 0)
        .map(|p| HostPortMapping {
            container_port: p.container_port,
            host_port: p.host_port,
            protocol: if p.protocol.is_empty() {
                "TCP".into()
            } else {
                p.protocol.clone()
            },
            host_ip: p.host_ip.clone(),
        })
        .collect();
    SandboxConfig {
        name: labels::docker_name(pod, None, attempt),
        image: pause_image.to_owned(),
        hostname: sandbox_hostname(pod),
        network: if spec.host_network {
            SandboxNetwork::Host
        } else {
            SandboxNetwork::Pod(network.to_owned())
        },
        host_ipc: spec.host_ipc,
        host_pid: spec.host_pid,
        labels: labels::labels(pod, node, None, attempt),
        // Ports of the host network are the host's already.
        ports: if spec.host_network { Vec::new() } else { ports },
        sysctls,
        cgroup_parent: cgroup_parent(podium_api::pod::qos_class(&spec), &facts.cgroup_driver),
    }
}

fn amount(q: &podium_proto::k8s::meta::v1::Quantity) -> Option<Amount> {
    Amount::parse(&q.string).ok()
}

/// The value of a `resourceFieldRef` for `container`: its limit (the node's allocatable when
/// unset) or request, divided by the divisor and rounded up.
pub fn resource_field(
    pod: &Pod,
    container: &Container,
    field: &ResourceFieldSelector,
    node: &NodeFacts,
) -> Result<String, SpecError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let target = if field.container_name.is_empty() {
        container.clone()
    } else {
        spec.containers
            .iter()
            .chain(&spec.init_containers)
            .find(|c| c.name == field.container_name)
            .cloned()
            .ok_or_else(|| SpecError::ResourceField {
                resource: field.resource.clone(),
                reason: format!("no container {:?}", field.container_name),
            })?
    };
    let resources = target.resources.clone().unwrap_or_default();
    let (kind, resource) = field.resource.split_once('.').unwrap_or(("", ""));
    let set = match kind {
        "limits" => &resources.limits,
        "requests" => &resources.requests,
        _ => {
            return Err(SpecError::ResourceField {
                resource: field.resource.clone(),
                reason: "must be limits.* or requests.*".into(),
            });
        }
    };
    let divisor = field.divisor.as_ref().and_then(amount).filter(|d| d.nanos() > 0);
    let given = set.get(resource).and_then(amount);
    // Values in nanounits, so that millicores and bytes divide the same way.
    let nanos: i128 = match (given, resource) {
        (Some(q), _) => q.nanos(),
        (None, "cpu") if kind == "limits" => i128::from(node.cpu_milli) * 1_000_000,
        (None, "memory") if kind == "limits" => i128::from(node.memory_bytes) * 1_000_000_000,
        (None, "cpu" | "memory" | "ephemeral-storage") => 0,
        (None, _) => {
            return Err(SpecError::ResourceField {
                resource: field.resource.clone(),
                reason: "unsupported resource".into(),
            });
        }
    };
    let divisor = divisor.map_or(1_000_000_000, |d| d.nanos());
    let value = (nanos + divisor - 1) / divisor;
    Ok(value.to_string())
}

/// Kubernetes' `name_namespace(uid)` for messages.
fn pod_id(pod: &Pod) -> String {
    let m = pod.metadata.clone().unwrap_or_default();
    format!("{}_{}({})", m.name, m.namespace, m.uid)
}

/// Refuses a container that would run as root when runAsNonRoot asks otherwise, given the
/// image's `USER`, with Kubernetes' messages.
pub fn check_non_root(pod: &Pod, container: &Container, image_user: &str) -> Result<(), SpecError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let psc = spec.security_context.unwrap_or_default();
    let sc = container.security_context.clone().unwrap_or_default();
    if sc.run_as_non_root.or(psc.run_as_non_root) != Some(true) {
        return Ok(());
    }
    let whose = format!("(pod: {:?}, container: {})", pod_id(pod), container.name);
    match sc.run_as_user.or(psc.run_as_user) {
        Some(0) => Err(SpecError::NonRoot(format!(
            "container's runAsUser breaks non-root policy {whose}"
        ))),
        Some(_) => Ok(()),
        None => {
            let user = image_user.split(':').next().unwrap_or_default();
            match user.parse::<i64>() {
                _ if user.is_empty() || user == "root" => Err(SpecError::NonRoot(format!(
                    "container has runAsNonRoot and image will run as root {whose}"
                ))),
                Ok(0) => Err(SpecError::NonRoot(format!(
                    "container has runAsNonRoot and image will run as root {whose}"
                ))),
                Ok(_) => Ok(()),
                Err(_) => Err(SpecError::NonRoot(format!(
                    "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root {whose}"
                ))),
            }
        }
    }
}

/// The container's security settings: its securityContext over the pod's.
pub fn security(pod: &Pod, container: &Container) -> Result<Security, SpecError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let psc = spec.security_context.unwrap_or_default();
    let sc = container.security_context.clone().unwrap_or_default();
    let mut security = Security::default();
    match (sc.run_as_user.or(psc.run_as_user), sc.run_as_group.or(psc.run_as_group)) {
        (Some(uid), Some(gid)) => security.user = format!("{uid}:{gid}"),
        (Some(uid), None) => security.user = uid.to_string(),
        (None, _) => {}
    }
    security.group_add = psc
        .supplemental_groups
        .iter()
        .chain(psc.fs_group.as_ref())
        .map(ToString::to_string)
        .collect();
    security.privileged = sc.privileged == Some(true);
    if let Some(caps) = &sc.capabilities {
        security.cap_add = caps.add.clone();
        security.cap_drop = caps.drop.clone();
    }
    security.read_only_root_filesystem = sc.read_only_root_filesystem == Some(true);
    if sc.allow_privilege_escalation == Some(false) {
        security.security_opt.push("no-new-privileges".into());
    }
    let seccomp = sc.seccomp_profile.or(psc.seccomp_profile).map(|p| p.r#type);
    match seccomp.as_deref() {
        Some("Unconfined") => security.security_opt.push("seccomp=unconfined".into()),
        Some("Localhost") => return Err(SpecError::Unsupported("seccompProfile type Localhost")),
        _ => {}
    }
    if sc.proc_mount.as_deref() == Some("Unmasked") {
        security.security_opt.push("systempaths=unconfined".into());
    }
    Ok(security)
}

/// The container's resource controls: Kubernetes' CPU shares and quota, memory limit, OOM
/// score by QoS class, and its class's cgroup.
pub fn resources(pod: &Pod, container: &Container, node: &NodeFacts) -> Resources {
    let spec = pod.spec.clone().unwrap_or_default();
    let r = container.resources.clone().unwrap_or_default();
    let milli = |map: &BTreeMap<String, podium_proto::k8s::meta::v1::Quantity>, k: &str| {
        map.get(k).and_then(amount).map(|q| q.milli_value())
    };
    let value = |map: &BTreeMap<String, podium_proto::k8s::meta::v1::Quantity>, k: &str| {
        map.get(k).and_then(amount).map(|q| q.value())
    };
    let cpu_request = milli(&r.requests, "cpu").or_else(|| milli(&r.limits, "cpu"));
    let cpu_limit = milli(&r.limits, "cpu");
    let memory_request = value(&r.requests, "memory").or_else(|| value(&r.limits, "memory"));
    let qos = podium_api::pod::qos_class(&spec);
    let oom_score_adj = match qos {
        "Guaranteed" => -997,
        "BestEffort" => 1000,
        _ => {
            let capacity = node.memory_bytes.max(1);
            let request = memory_request.unwrap_or(0);
            (1000 - (1000 * i128::from(request) / i128::from(capacity)) as i64).clamp(2, 999)
        }
    };
    Resources {
        cpu_shares: Some(cpu_request.map_or(2, |m| (m * 1024 / 1000).max(2))),
        cpu_period: cpu_limit.map(|_| 100_000),
        cpu_quota: cpu_limit.map(|m| (m * 100).max(1000)),
        memory_bytes: value(&r.limits, "memory"),
        pids_limit: node.pids_limit,
        oom_score_adj: Some(oom_score_adj),
        cgroup_parent: cgroup_parent(qos, &node.cgroup_driver),
    }
}

/// The container's mounts of the pod's volumes (subPath included).
fn volume_mounts(container: &Container, runtime: &Runtime<'_>) -> Result<Vec<Mount>, SpecError> {
    let mut mounts = Vec::new();
    for vm in &container.volume_mounts {
        let base = runtime
            .volumes
            .get(&vm.name)
            .ok_or_else(|| SpecError::NoVolume(vm.name.clone()))?;
        let host_path = if vm.sub_path.is_empty() {
            base.clone()
        } else {
            let sub = std::path::Path::new(&vm.sub_path);
            if !is_contained(sub) {
                return Err(SpecError::SubPath(vm.sub_path.clone()));
            }
            let path = base.join(sub);
            if !path.exists() {
                let _ = std::fs::create_dir_all(&path);
            }
            path
        };
        mounts.push(Mount {
            host_path,
            container_path: vm.mount_path.clone(),
            read_only: vm.read_only,
        });
    }
    Ok(mounts)
}

/// The value of a `metadata.*` fieldRef path (what downwardAPI volumes may name too);
/// labels and annotations as a whole are `key="value"` lines, as Kubernetes formats them.
pub fn metadata_field(pod: &Pod, path: &str) -> Option<String> {
    let meta = pod.metadata.clone().unwrap_or_default();
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['"))
            .and_then(|rest| rest.strip_suffix("']"))
    };
    let all = |map: &BTreeMap<String, String>| {
        let pairs: Vec<_> = map.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.join("\n")
    };
    Some(match path {
        "metadata.name" => meta.name,
        "metadata.namespace" => meta.namespace,
        "metadata.uid" => meta.uid,
        "metadata.labels" => all(&meta.labels),
        "metadata.annotations" => all(&meta.annotations),
        _ => {
            if let Some(key) = subscript("metadata.labels") {
                meta.labels.get(key).cloned().unwrap_or_default()
            } else {
                let key = subscript("metadata.annotations")?;
                meta.annotations.get(key).cloned().unwrap_or_default()
            }
        }
    })
}

/// The value of a `fieldRef` path.
fn field_value(pod: &Pod, path: &str, runtime: &Runtime<'_>) -> Result<String, SpecError> {
    let spec = pod.spec.clone().unwrap_or_default();
    Ok(match path {
        "spec.nodeName" => spec.node_name,
        "spec.serviceAccountName" => spec.service_account_name,
        "status.podIP" | "status.podIPs" => runtime.pod_ip.to_owned(),
        "status.hostIP" | "status.hostIPs" => runtime.host_ip.to_owned(),
        _ => metadata_field(pod, path).ok_or_else(|| SpecError::FieldPath(path.to_owned()))?,
    })
}

/// Whether `path` stays inside the directory it is joined to (relative, no `..`).
pub fn is_contained(path: &std::path::Path) -> bool {
    !path.is_absolute() && !path.components().any(|c| matches!(c, std::path::Component::ParentDir))
}

/// Expands `$(NAME)` from `vars`; `$$(NAME)` is a literal `$(NAME)`; unknown names stay as
/// written (Kubernetes' `expansion` rules).
pub fn expand(input: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
        } else if let Some(open) = after.strip_prefix('(')
            && let Some(close) = open.find(')')
        {
            let name = &open[..close];
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[at..at + 2 + close + 1]),
            }
            rest = &open[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A container's environment, in order, each value expanded against those before it.
pub fn environment(
    pod: &Pod,
    container: &Container,
    runtime: &Runtime<'_>,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut vars = BTreeMap::new();
    let mut env: Vec<(String, String)> = Vec::new();
    if !container.env_from.is_empty() {
        return Err(SpecError::Unsupported("envFrom"));
    }
    for var in &container.env {
        let value = match &var.value_from {
            None => expand(&var.value, &vars),
            Some(source) => {
                if let Some(field) = &source.field_ref {
                    field_value(pod, &field.field_path, runtime)?
                } else if let Some(cm) = &source.config_map_key_ref {
                    if cm.optional == Some(true) {
                        continue;
                    }
                    return Err(SpecError::ConfigMap(cm.name.clone()));
                } else if let Some(secret) = &source.secret_key_ref {
                    if secret.optional == Some(true) {
                        continue;
                    }
                    return Err(SpecError::Secret(secret.name.clone()));
                } else if let Some(field) = &source.resource_field_ref {
                    resource_field(pod, container, field, &runtime.node)?
                } else {
                    return Err(SpecError::Unsupported("an empty env valueFrom"));
                }
            }
        };
        vars.insert(var.name.clone(), value.clone());
        env.retain(|(name, _)| name != &var.name);
        env.push((var.name.clone(), value));
    }
    Ok(env)
}

/// Attempt `attempt` of `container` (an init container when `init`).
pub fn container_config(
    pod: &Pod,
    node: &str,
    container: &Container,
    init: bool,
    attempt: u32,
    runtime: &Runtime<'_>,
) -> Result<ContainerConfig, SpecError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let env = environment(pod, container, runtime)?;
    let vars: BTreeMap<String, String> = env.iter().cloned().collect();
    let expand_all = |items: &[String]| items.iter().map(|i| expand(i, &vars)).collect::<Vec<_>>();
    let mut mounts = volume_mounts(container, runtime)?;
    if let Some(log) = &runtime.termination_log {
        let path = if container.termination_message_path.is_empty() {
            "/dev/termination-log".to_owned()
        } else {
            container.termination_message_path.clone()
        };
        mounts.push(Mount {
            host_path: log.clone(),
            container_path: path,
            read_only: false,
        });
    }
    if let Some(hosts) = &runtime.hosts_file {
        mounts.push(Mount {
            host_path: hosts.clone(),
            container_path: "/etc/hosts".into(),
            read_only: false,
        });
    }
    if let Some(resolv) = &runtime.resolv_conf {
        mounts.push(Mount {
            host_path: resolv.clone(),
            container_path: "/etc/resolv.conf".into(),
            read_only: false,
        });
    }
    Ok(ContainerConfig {
        name: labels::docker_name(pod, Some(&container.name), attempt),
        image: container.image.clone(),
        command: expand_all(&container.command),
        args: expand_all(&container.args),
        working_dir: container.working_dir.clone(),
        env,
        labels: labels::labels(pod, node, Some((&container.name, init)), attempt),
        tty: container.tty,
        stdin: container.stdin,
        share_process_namespace: spec.share_process_namespace == Some(true),
        host_pid: spec.host_pid,
        host_ipc: spec.host_ipc,
        mounts,
        security: security(pod, container)?,
        resources: resources(pod, container, &runtime.node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_proto::k8s::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec};
    use podium_proto::k8s::meta::v1::ObjectMeta;

    fn env(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.into(),
            value_from: None,
        }
    }

    fn field(name: &str, path: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: String::new(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: "v1".into(),
                    field_path: path.into(),
                }),
                ..Default::default()
            }),
        }
    }

    fn pod() -> Pod {
        Pod {
            metadata: Some(ObjectMeta {
                name: "web".into(),
                namespace: "shop".into(),
                uid: "u-1".into(),
                labels: [("app".to_owned(), "web".to_owned())].into(),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                node_name: "n1".into(),
                service_account_name: "default".into(),
                hostname: "w".into(),
                subdomain: "svc".into(),
                set_hostname_as_fqdn: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let vars: BTreeMap<String, String> = [("A".to_owned(), "x".to_owned())].into();
        assert_eq!(expand("$(A)-$(B)-$$(A)-$-$(", &vars), "x-$(B)-$(A)-$-$(");
        assert_eq!(expand("no refs", &vars), "no refs");
    }

    #[test]
    fn env_resolves_field_refs_in_order() {
        let pod = pod();
        let container = Container {
            name: "app".into(),
            env: vec![
                field("POD", "metadata.name"),
                field("NS", "metadata.namespace"),
                field("APP", "metadata.labels['app']"),
                field("NODE", "spec.nodeName"),
                field("SA", "spec.serviceAccountName"),
                field("IP", "status.podIP"),
                field("HOST", "status.hostIP"),
                env("WHO", "$(POD).$(NS)"),
                env("LATER", "$(UNDEFINED)"),
            ],
            command: vec!["echo".into(), "$(WHO)".into()],
            ..Default::default()
        };
        let runtime = Runtime {
            pod_ip: "10.0.0.5",
            host_ip: "192.168.1.2",
            ..Default::default()
        };
        let config = container_config(&pod, "n1", &container, false, 2, &runtime).unwrap();
        let get = |k: &str| config.env.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("POD"), "web");
        assert_eq!(get("NS"), "shop");
        assert_eq!(get("APP"), "web");
        assert_eq!(get("NODE"), "n1");
        assert_eq!(get("SA"), "default");
        assert_eq!(get("IP"), "10.0.0.5");
        assert_eq!(get("HOST"), "192.168.1.2");
        assert_eq!(get("WHO"), "web.shop");
        assert_eq!(get("LATER"), "$(UNDEFINED)");
        assert_eq!(config.command, ["echo", "web.shop"]);
        assert_eq!(config.name, "k8s_app_web_shop_u-1_2");
        assert_eq!(config.labels[labels::ATTEMPT], "2");
        let bad = Container {
            env: vec![field("X", "spec.nope")],
            ..container
        };
        assert_eq!(
            container_config(&pod, "n1", &bad, false, 0, &runtime).unwrap_err(),
            SpecError::FieldPath("spec.nope".into())
        );
    }

    #[test]
    fn resource_fields_divide_and_fall_back_to_the_node() {
        use podium_proto::k8s::core::v1::ResourceRequirements;
        use podium_proto::k8s::meta::v1::Quantity;
        let q = |s: &str| Quantity { string: s.into() };
        let container = Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                requests: [("cpu".to_owned(), q("250m")), ("memory".to_owned(), q("64Mi"))].into(),
                limits: [("memory".to_owned(), q("128Mi"))].into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let node = NodeFacts {
            cpu_milli: 2000,
            memory_bytes: 1 << 30,
            ..Default::default()
        };
        let field = |resource: &str, divisor: Option<&str>| ResourceFieldSelector {
            container_name: String::new(),
            resource: resource.into(),
            divisor: divisor.map(q),
        };
        let value = |resource, divisor| resource_field(&pod(), &container, &field(resource, divisor), &node).unwrap();
        assert_eq!(value("requests.cpu", None), "1", "rounded up to whole cores");
        assert_eq!(value("requests.cpu", Some("1m")), "250");
        assert_eq!(value("limits.memory", Some("1Mi")), "128");
        assert_eq!(value("limits.cpu", None), "2", "no limit: the node's allocatable");
        assert_eq!(value("requests.memory", None), (64 << 20).to_string());
        assert!(resource_field(&pod(), &container, &field("bogus", None), &node).is_err());
    }

    #[test]
    fn qos_classes_get_their_cgroup_and_oom_score() {
        assert_eq!(cgroup_parent("Burstable", "cgroupfs"), "/podium/burstable");
        assert_eq!(cgroup_parent("BestEffort", "systemd"), "podium-besteffort.slice");
        assert_eq!(cgroup_parent("Guaranteed", "systemd"), "podium.slice");
        let node = NodeFacts {
            memory_bytes: 1000,
            ..Default::default()
        };
        let best_effort = resources(&pod(), &Container::default(), &node);
        assert_eq!(
            (best_effort.oom_score_adj, best_effort.cpu_shares),
            (Some(1000), Some(2))
        );
    }

    #[test]
    fn sandbox_carries_the_fqdn_and_host_ports() {
        let mut pod = pod();
        pod.spec.as_mut().unwrap().containers = vec![Container {
            name: "app".into(),
            ports: vec![podium_proto::k8s::core::v1::ContainerPort {
                container_port: 80,
                host_port: 8080,
                ..Default::default()
            }],
            ..Default::default()
        }];
        let config = sandbox_config(&pod, "n1", 0, "podium/pause:1", "podium", &NodeFacts::default());
        assert_eq!(config.hostname, "w.svc.shop.svc.cluster.local");
        assert_eq!(config.name, "k8s_POD_web_shop_u-1_0");
        assert_eq!(config.ports[0].protocol, "TCP");
        assert_eq!(config.network, SandboxNetwork::Pod("podium".into()));
    }
}
