//! Kubernetes' Pod validation (`ValidatePodCreate` and `ValidatePodSpec` in
//! `pkg/apis/core/validation/validation.go`), with its field paths and messages.
//!
//! Start at `validate_pod`; `validate_pod_spec` walks the spec in Kubernetes' order and hands
//! each part to a sibling module: `containers` (with `env`, `probes`, `resources`), `volumes`,
//! `scheduling` (affinity, tolerations, spread) and `security`. Metadata is not checked here:
//! `strategy::validate_metadata` does that for every kind. Validation only reads the Pod and
//! never panics, whatever was sent.

mod containers;
mod env;
mod mounts;
pub mod path;
mod probes;
mod resources;
mod scheduling;
mod security;
mod volumes;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use podium_proto::k8s::core::v1::{Pod, PodDnsConfig, PodSpec};

use self::containers::Context;
use self::path::{Path, go_strings, invalid_rendered, required};
use crate::error::Cause;
use crate::names;
use crate::pod::defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
use crate::strategy::validate_labels;

pub(crate) use self::scheduling::validate_tolerations;

/// The rules for a new Pod: the spec, plus what may only be set later.
pub fn validate_pod(pod: &Pod) -> Vec<Cause> {
    let default = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default);
    let mut causes = validate_pod_spec_for_pod(spec);
    let path = Path::new("spec");
    // Ephemeral containers are added through the ephemeralcontainers subresource only.
    if !spec.ephemeral_containers.is_empty() {
        causes.push(Cause::forbidden(
            path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.node_name.is_empty() && !spec.scheduling_gates.is_empty() {
        causes.push(Cause::forbidden(
            path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    causes
}

/// `validatePodMetadataAndSpec` without the metadata: the spec rules shared by create and update.
pub(crate) fn validate_pod_spec_for_pod(spec: &PodSpec) -> Vec<Cause> {
    let path = Path::new("spec");
    let mut causes = validate_pod_spec(spec, &path);
    // Without a service account there is no token to project.
    if spec.service_account_name.is_empty() {
        for (vi, volume) in spec.volumes.iter().enumerate() {
            let Some(projected) = &volume.projected else {
                continue;
            };
            for (si, source) in projected.sources.iter().enumerate() {
                if source.service_account_token.is_some() {
                    causes.push(Cause::forbidden(
                        path.child("volumes")
                            .index(vi)
                            .child("projected")
                            .child("sources")
                            .index(si)
                            .child("serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    causes
}

/// `ValidatePodSpec`, in Kubernetes' order.
pub fn validate_pod_spec(spec: &PodSpec, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(seconds) = spec.termination_grace_period_seconds.filter(|s| *s < 0) {
        causes.push(Cause::invalid_number(
            path.child("terminationGracePeriodSeconds"),
            seconds,
            "must be greater than or equal to 0",
        ));
    }
    let (volumes, volume_causes) = volumes::validate_volumes(&spec.volumes, &path.child("volumes"));
    causes.extend(volume_causes);
    let ctx = Context {
        volumes,
        grace_period: spec
            .termination_grace_period_seconds
            .unwrap_or(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
        restart_policy: &spec.restart_policy,
        host_users: spec.host_users.unwrap_or(true),
    };
    causes.extend(containers::validate_containers(spec, &ctx, &path.child("containers")));
    causes.extend(containers::validate_init_containers(
        spec,
        &ctx,
        &path.child("initContainers"),
    ));
    causes.extend(containers::validate_ephemeral_containers(
        spec,
        &ctx,
        &path.child("ephemeralContainers"),
    ));
    causes.extend(containers::validate_host_network_ports(spec, path));
    causes.extend(one_of(
        &spec.restart_policy,
        &["Always", "OnFailure", "Never"],
        &path.child("restartPolicy"),
    ));
    causes.extend(one_of(
        &spec.dns_policy,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &path.child("dnsPolicy"),
    ));
    causes.extend(validate_labels(
        &spec.node_selector,
        &path.child("nodeSelector").to_string(),
    ));
    causes.extend(security::validate_pod_security_context(
        spec,
        &path.child("securityContext"),
    ));
    causes.extend(scheduling::validate_affinity(
        spec.affinity.as_ref(),
        &path.child("affinity"),
    ));
    causes.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        &spec.dns_policy,
        &path.child("dnsConfig"),
    ));
    for (i, gate) in spec.readiness_gates.iter().enumerate() {
        causes.extend(qualified_name(
            &gate.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut gates = BTreeSet::new();
    for (i, gate) in spec.scheduling_gates.iter().enumerate() {
        let gate_path = path.child("schedulingGates").index(i);
        causes.extend(qualified_name(&gate.name, &gate_path));
        if !gates.insert(gate.name.as_str()) {
            causes.push(Cause::duplicate(&gate_path, &gate.name));
        }
    }
    causes.extend(scheduling::validate_topology_spread_constraints(
        &spec.topology_spread_constraints,
        &path.child("topologySpreadConstraints"),
    ));
    causes.extend(security::validate_host_users(spec, path));
    for (value, field) in [
        (&spec.service_account_name, "serviceAccountName"),
        (&spec.node_name, "nodeName"),
    ] {
        if !value.is_empty() {
            causes.extend(dns1123_subdomain(value, &path.child(field)));
        }
    }
    if let Some(deadline) = spec
        .active_deadline_seconds
        .filter(|d| !(1..=i64::from(i32::MAX)).contains(d))
    {
        causes.push(Cause::invalid_number(
            path.child("activeDeadlineSeconds"),
            deadline,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for (value, field) in [(&spec.hostname, "hostname"), (&spec.subdomain, "subdomain")] {
        if !value.is_empty() {
            causes.extend(dns1123_label(value, &path.child(field)));
        }
    }
    causes.extend(scheduling::validate_tolerations(
        &spec.tolerations,
        &path.child("tolerations"),
    ));
    for (i, alias) in spec.host_aliases.iter().enumerate() {
        let alias_path = path.child("hostAliases").index(i);
        causes.extend(valid_ip(&alias.ip, &alias_path.child("ip")));
        for (j, hostname) in alias.hostnames.iter().enumerate() {
            causes.extend(dns1123_subdomain(hostname, &alias_path.child("hostnames").index(j)));
        }
    }
    if !spec.priority_class_name.is_empty() {
        causes.extend(dns1123_subdomain(
            &spec.priority_class_name,
            &path.child("priorityClassName"),
        ));
    }
    if let Some(runtime_class) = &spec.runtime_class_name {
        causes.extend(dns1123_subdomain(runtime_class, &path.child("runtimeClassName")));
    }
    if let Some(policy) = &spec.preemption_policy {
        causes.extend(one_of(
            policy,
            &["PreemptLowerPriority", "Never"],
            &path.child("preemptionPolicy"),
        ));
    }
    if !spec.overhead.is_empty() {
        causes.extend(resources::validate_overhead(&spec.overhead, &path.child("overhead")));
    }
    causes.extend(security::validate_os(spec, path));
    causes
}

/// A required enum: `Required` when empty, `Unsupported value` when not one of `values`.
fn one_of(value: &str, values: &[&str], path: &Path) -> Vec<Cause> {
    if value.is_empty() {
        vec![Cause::required(path)]
    } else if values.contains(&value) {
        Vec::new()
    } else {
        vec![Cause::not_supported(path, value, values)]
    }
}

/// Limits from libc's resolver.
const MAX_DNS_NAMESERVERS: usize = 3;
const MAX_DNS_SEARCH_PATHS: usize = 32;
const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

fn validate_dns_config(config: Option<&PodDnsConfig>, policy: &str, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if policy == "None" {
        let Some(config) = config else {
            return vec![required(path, "must provide `dnsConfig` when `dnsPolicy` is None")];
        };
        if config.nameservers.is_empty() {
            return vec![required(
                &path.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    let Some(config) = config else {
        return causes;
    };
    let nameservers = path.child("nameservers");
    if config.nameservers.len() > MAX_DNS_NAMESERVERS {
        causes.push(invalid_rendered(
            &nameservers,
            &go_strings(&config.nameservers),
            &format!("must not have more than {MAX_DNS_NAMESERVERS} nameservers"),
        ));
    }
    for (i, server) in config.nameservers.iter().enumerate() {
        causes.extend(valid_ip(server, &nameservers.index(i)));
    }
    let searches = path.child("searches");
    if config.searches.len() > MAX_DNS_SEARCH_PATHS {
        causes.push(invalid_rendered(
            &searches,
            &go_strings(&config.searches),
            &format!("must not have more than {MAX_DNS_SEARCH_PATHS} search paths"),
        ));
    }
    if config.searches.join(" ").len() > MAX_DNS_SEARCH_LIST_CHARS {
        causes.push(invalid_rendered(
            &searches,
            &go_strings(&config.searches),
            &format!(
                "must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list"
            ),
        ));
    }
    for (i, search) in config.searches.iter().enumerate() {
        // A trailing dot (a fully qualified name) is fine.
        let search = search.strip_suffix('.').unwrap_or(search);
        causes.extend(dns1123_subdomain(search, &searches.index(i)));
    }
    for (i, option) in config.options.iter().enumerate() {
        if option.name.is_empty() {
            causes.push(required(
                &path.child("options").index(i),
                "Option.Name must not be empty",
            ));
        }
    }
    causes
}

/// `ValidateDNS1123Label`: one `Invalid` per problem.
pub(crate) fn dns1123_label(value: &str, path: &Path) -> Vec<Cause> {
    names::is_dns1123_label(value)
        .into_iter()
        .map(|p| Cause::invalid(path, value, p))
        .collect()
}

/// `ValidateDNS1123Subdomain`.
pub(crate) fn dns1123_subdomain(value: &str, path: &Path) -> Vec<Cause> {
    names::is_dns1123_subdomain(value)
        .into_iter()
        .map(|p| Cause::invalid(path, value, p))
        .collect()
}

/// `ValidateQualifiedName` (and `ValidateLabelName`, which is the same check).
pub(crate) fn qualified_name(value: &str, path: &Path) -> Vec<Cause> {
    names::is_qualified_name(value)
        .into_iter()
        .map(|p| Cause::invalid(path, value, p))
        .collect()
}

pub(crate) fn label_value(value: &str, path: &Path) -> Vec<Cause> {
    names::is_valid_label_value(value)
        .into_iter()
        .map(|p| Cause::invalid(path, value, p))
        .collect()
}

pub(crate) fn valid_ip(value: &str, path: &Path) -> Vec<Cause> {
    names::is_valid_ip(value)
        .into_iter()
        .map(|p| Cause::invalid(path, value, p))
        .collect()
}

/// `validatePathNoBacksteps`: no `..` element.
pub(crate) fn validate_path_no_backsteps(target: &str, path: &Path) -> Vec<Cause> {
    if target.split('/').any(|part| part == "..") {
        vec![Cause::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`: relative, and no `..` element.
pub(crate) fn validate_local_descending_path(target: &str, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if target.starts_with('/') {
        causes.push(Cause::invalid(path, target, "must be a relative path"));
    }
    causes.extend(validate_path_no_backsteps(target, path));
    causes
}
