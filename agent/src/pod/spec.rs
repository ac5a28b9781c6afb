//! A Pod's spec as the runtime takes it: the sandbox's config and each container's, with
//! environment variables resolved (`valueFrom.fieldRef`, `$(VAR)` references) the way the
//! kubelet resolves them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use podium_proto::k8s::core::v1::{Container, Pod};

use super::hosts::pod_hostname;
use super::labels;
use crate::runtime::{ContainerConfig, HostPortMapping, Mount, SandboxConfig, SandboxNetwork};

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
}

/// What a container's environment may refer to beyond the Pod itself.
#[derive(Debug, Clone, Default)]
pub struct Runtime<'a> {
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    /// The pod's `/etc/hosts` and `/etc/resolv.conf` on the node (none: the image's own).
    pub hosts_file: Option<PathBuf>,
    pub resolv_conf: Option<PathBuf>,
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

/// The sandbox (pause) container for attempt `attempt` of `pod`.
pub fn sandbox_config(pod: &Pod, node: &str, attempt: u32, pause_image: &str, network: &str) -> SandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
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
    }
}

/// The value of a `fieldRef` path.
fn field_value(pod: &Pod, path: &str, runtime: &Runtime<'_>) -> Result<String, SpecError> {
    let meta = pod.metadata.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("['"))
            .and_then(|rest| rest.strip_suffix("']"))
    };
    let all = |map: &BTreeMap<String, String>| {
        let pairs: Vec<_> = map.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        pairs.join("\n")
    };
    Ok(match path {
        "metadata.name" => meta.name,
        "metadata.namespace" => meta.namespace,
        "metadata.uid" => meta.uid,
        "metadata.labels" => all(&meta.labels),
        "metadata.annotations" => all(&meta.annotations),
        "spec.nodeName" => spec.node_name,
        "spec.serviceAccountName" => spec.service_account_name,
        "status.podIP" | "status.podIPs" => runtime.pod_ip.to_owned(),
        "status.hostIP" | "status.hostIPs" => runtime.host_ip.to_owned(),
        _ => {
            if let Some(key) = subscript("metadata.labels") {
                meta.labels.get(key).cloned().unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations") {
                meta.annotations.get(key).cloned().unwrap_or_default()
            } else {
                return Err(SpecError::FieldPath(path.to_owned()));
            }
        }
    })
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
                } else {
                    return Err(SpecError::Unsupported("env valueFrom.resourceFieldRef"));
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
    let mut mounts = Vec::new();
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
        let config = sandbox_config(&pod, "n1", 0, "podium/pause:1", "podium");
        assert_eq!(config.hostname, "w.svc.shop.svc.cluster.local");
        assert_eq!(config.name, "k8s_POD_web_shop_u-1_0");
        assert_eq!(config.ports[0].protocol, "TCP");
        assert_eq!(config.network, SandboxNetwork::Pod("podium".into()));
    }
}
