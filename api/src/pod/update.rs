//! What an update may change in a Pod (`ValidatePodUpdate`, `ValidatePodStatusUpdate`).
//!
//! A Pod's spec is nearly immutable: after the spec rules of `validation`, the update check
//! "munges" the few fields that may change (images, activeDeadlineSeconds, tolerations,
//! terminationGracePeriodSeconds, scheduling gates) back to their old values and compares
//! what is left. Anything else differing is one `Forbidden` on `spec`, with a short diff.
//! Binding a Pod to a node is the Binding subresource's job, so `spec.nodeName` is covered by
//! that comparison too.

use std::collections::{BTreeMap, BTreeSet};

use podium_proto::k8s::core::v1::{Container, ContainerStatus, Pod, PodSchedulingGate, PodSpec, PodStatus, Toleration};
use serde_json::Value;

use super::qos;
use super::validation::path::{Path, go_string_map, invalid_rendered};
use super::validation::{valid_ip, validate_pod_spec_for_pod, validate_tolerations};
use crate::error::Cause;
use crate::names;

/// The spec fields an update may change, as Kubernetes lists them in its refusal.
pub const UPDATABLE_FIELDS_MESSAGE: &str = "pod updates may not change fields other than \
`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
`spec.tolerations` (only additions to existing tolerations),\
`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// How many differing fields the refusal lists before it stops.
const MAX_DIFF_LINES: usize = 20;

/// The rules for replacing a Pod's main resource: the spec rules, then immutability.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<Cause> {
    let default = PodSpec::default();
    let new_spec = new.spec.as_ref().unwrap_or(&default);
    let old_spec = old.spec.as_ref().unwrap_or(&default);
    let mut causes = validate_pod_spec_for_pod(new_spec);
    let spec_path = Path::new("spec");

    for (new_containers, old_containers, field) in [
        (&new_spec.containers, &old_spec.containers, "containers"),
        (&new_spec.init_containers, &old_spec.init_containers, "initContainers"),
    ] {
        let (container_causes, stop) =
            validate_container_updates(new_containers, old_containers, &spec_path.child(field));
        causes.extend(container_causes);
        if stop {
            return causes;
        }
    }

    // activeDeadlineSeconds may be set once, then only lowered.
    let deadline_path = spec_path.child("activeDeadlineSeconds");
    match (new_spec.active_deadline_seconds, old_spec.active_deadline_seconds) {
        (Some(new_deadline), _) if !(0..=i64::from(i32::MAX)).contains(&new_deadline) => {
            causes.push(Cause::invalid_number(
                &deadline_path,
                new_deadline,
                "must be between 0 and 2147483647, inclusive",
            ));
            return causes;
        }
        (Some(new_deadline), Some(old_deadline)) if old_deadline < new_deadline => {
            causes.push(Cause::invalid_number(
                &deadline_path,
                new_deadline,
                "must be less than or equal to previous value",
            ));
            return causes;
        }
        (None, Some(_)) => {
            causes.push(Cause::invalid(
                &deadline_path,
                "null",
                "must not update from a positive integer to nil value",
            ));
        }
        _ => {}
    }

    causes.extend(validate_only_added_tolerations(
        &new_spec.tolerations,
        &old_spec.tolerations,
        &spec_path.child("tolerations"),
    ));
    causes.extend(validate_only_deleted_scheduling_gates(
        &new_spec.scheduling_gates,
        &old_spec.scheduling_gates,
        &spec_path.child("schedulingGates"),
    ));

    if new_spec == old_spec {
        return causes;
    }
    let old_class = qos::pod_qos_class(old);
    if old_class != qos::qos_class(new_spec) {
        let current = new.status.as_ref().map_or("", |s| s.qos_class.as_str());
        causes.push(Cause::invalid("metadata", current, "Pod QoS is immutable"));
    }

    let mut munged = new_spec.clone();
    munge_images(&mut munged.containers, &old_spec.containers);
    munge_images(&mut munged.init_containers, &old_spec.init_containers);
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    munged.tolerations = old_spec.tolerations.clone();
    // Kubernetes only lets a negative grace period become 1 here; Podium's delete path
    // shortens the grace period through the spec, so any change is accepted (and must still
    // be non-negative, which the spec rules check).
    munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;

    // A gated Pod's node selector may still grow (so a controller can steer it before it is
    // released to the scheduler), but not lose or change entries.
    if !old_spec.scheduling_gates.is_empty() && munged.node_selector != old_spec.node_selector {
        causes.extend(validate_node_selector_additions(
            &munged.node_selector,
            &old_spec.node_selector,
            &spec_path.child("nodeSelector"),
        ));
        munged.node_selector = old_spec.node_selector.clone();
    }

    if munged != *old_spec {
        let diff = spec_diff(old_spec, &munged);
        causes.push(Cause::forbidden(
            &spec_path,
            format!("{UPDATABLE_FIELDS_MESSAGE}\n{diff}"),
        ));
    }
    causes
}

/// `ValidateContainerUpdates`: the same containers, each still with an image. `true` stops
/// the update check, as the rest compares containers by index.
fn validate_container_updates(new: &[Container], old: &[Container], path: &Path) -> (Vec<Cause>, bool) {
    if new.len() != old.len() {
        return (
            vec![Cause::forbidden(path, "pod updates may not add or remove containers")],
            true,
        );
    }
    let mut causes = Vec::new();
    for (i, container) in new.iter().enumerate() {
        let image_path = path.index(i).child("image");
        if container.image.is_empty() {
            causes.push(Cause::required(&image_path));
        }
        if container.image.trim() != container.image {
            causes.push(Cause::invalid(
                &image_path,
                &container.image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (causes, false)
}

fn munge_images(new: &mut [Container], old: &[Container]) {
    for (container, old) in new.iter_mut().zip(old) {
        container.image.clone_from(&old.image);
    }
}

/// `validateOnlyAddedTolerations`: every old toleration must still be there, though its
/// tolerationSeconds may change; the resulting list must be valid.
fn validate_only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &Path) -> Vec<Cause> {
    for old_toleration in old {
        let kept = new.iter().any(|n| {
            Toleration {
                toleration_seconds: n.toleration_seconds,
                ..old_toleration.clone()
            } == *n
        });
        if !kept {
            return vec![Cause::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    validate_tolerations(new, path)
}

/// `validateOnlyDeletedSchedulingGates`: gates can be removed, never added.
fn validate_only_deleted_scheduling_gates(
    new: &[PodSchedulingGate],
    old: &[PodSchedulingGate],
    path: &Path,
) -> Vec<Cause> {
    let old_names: BTreeSet<&str> = old.iter().map(|g| g.name.as_str()).collect();
    // Kubernetes keeps the last index of each added name.
    let mut added: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, gate) in new.iter().enumerate() {
        if !old_names.contains(gate.name.as_str()) {
            added.insert(gate.name.as_str(), i);
        }
    }
    added
        .into_iter()
        .map(|(name, i)| {
            Cause::forbidden(
                path.index(i).child("name"),
                format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            )
        })
        .collect()
}

fn validate_node_selector_additions(
    new: &BTreeMap<String, String>,
    old: &BTreeMap<String, String>,
    path: &Path,
) -> Vec<Cause> {
    if old.iter().all(|(k, v)| new.get(k) == Some(v)) {
        return Vec::new();
    }
    vec![invalid_rendered(
        path,
        &go_string_map(new),
        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
    )]
}

/// A short diff of two specs: one `-`/`+` pair per differing JSON field, like the tail of
/// Kubernetes' `cmp.Diff` but with JSON paths.
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    let new = serde_json::to_value(new).unwrap_or(Value::Null);
    let mut lines = Vec::new();
    diff_values("spec", &old, &new, &mut lines);
    let hidden = lines.len().saturating_sub(MAX_DIFF_LINES);
    lines.truncate(MAX_DIFF_LINES);
    if hidden > 0 {
        lines.push(format!("  ... and {hidden} more"));
    }
    lines.join("\n")
}

fn diff_values(path: &str, old: &Value, new: &Value, lines: &mut Vec<String>) {
    if old == new {
        return;
    }
    // An omitted field is an empty one, so a new map or list shows entry by entry.
    let empty_object = Value::Object(serde_json::Map::new());
    let empty_array = Value::Array(Vec::new());
    let (old, new) = match (old, new) {
        (Value::Null, Value::Object(_)) => (&empty_object, new),
        (Value::Object(_), Value::Null) => (old, &empty_object),
        (Value::Null, Value::Array(_)) => (&empty_array, new),
        (Value::Array(_), Value::Null) => (old, &empty_array),
        _ => (old, new),
    };
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for key in keys {
                let (ov, nv) = (o.get(key).unwrap_or(&Value::Null), n.get(key).unwrap_or(&Value::Null));
                diff_values(&format!("{path}.{key}"), ov, nv, lines);
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            for i in 0..o.len().max(n.len()) {
                let (ov, nv) = (o.get(i).unwrap_or(&Value::Null), n.get(i).unwrap_or(&Value::Null));
                diff_values(&format!("{path}[{i}]"), ov, nv, lines);
            }
        }
        _ => {
            if !old.is_null() {
                lines.push(format!("- {path}: {old}"));
            }
            if !new.is_null() {
                lines.push(format!("+ {path}: {new}"));
            }
        }
    }
}

const PHASES: [&str; 5] = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];

/// The rules for a status update (the pods/status subresource), `ValidatePodStatusUpdate`.
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<Cause> {
    let mut causes = Vec::new();
    let default_status = PodStatus::default();
    let status = new.status.as_ref().unwrap_or(&default_status);
    let old_status = old.status.as_ref().unwrap_or(&default_status);
    let default_spec = PodSpec::default();
    let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
    let new_spec = new.spec.as_ref().unwrap_or(&default_spec);

    // Kubernetes validates condition types under `metadata` (its field path starts there).
    let conditions_path = Path::new("metadata").child("conditions");
    for (i, condition) in status.conditions.iter().enumerate() {
        if matches!(condition.r#type.as_str(), "PodScheduled" | "Ready" | "Initialized") {
            continue;
        }
        let type_path = conditions_path.index(i).child("Type");
        for problem in names::is_qualified_name(&condition.r#type) {
            causes.push(Cause::invalid(&type_path, &condition.r#type, problem));
        }
    }

    let status_path = Path::new("status");
    // Not a Kubernetes rule (it accepts any phase), but every reader of phase relies on it.
    if !status.phase.is_empty() && !PHASES.contains(&status.phase.as_str()) {
        causes.push(Cause::not_supported(status_path.child("phase"), &status.phase, &PHASES));
    }
    if new_spec.node_name != old_spec.node_name {
        causes.push(Cause::forbidden(
            status_path.child("nodeName"),
            "may not be changed directly",
        ));
    }
    if status.nominated_node_name != old_status.nominated_node_name && !status.nominated_node_name.is_empty() {
        for problem in names::is_dns1123_subdomain(&status.nominated_node_name) {
            causes.push(Cause::invalid(
                status_path.child("nominatedNodeName"),
                &status.nominated_node_name,
                problem,
            ));
        }
    }

    let restart_policy = old_spec.restart_policy.as_str();
    causes.extend(validate_state_transitions(
        &status.container_statuses,
        &old_status.container_statuses,
        &status_path.child("containerStatuses"),
        |_| restart_policy == "Always",
        restart_policy,
    ));
    let sidecars: BTreeSet<&str> = old_spec
        .init_containers
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    causes.extend(validate_state_transitions(
        &status.init_container_statuses,
        &old_status.init_container_statuses,
        &status_path.child("initContainerStatuses"),
        |name| restart_policy == "Always" || sidecars.contains(name),
        restart_policy,
    ));
    // The kubelet never restarts ephemeral containers.
    causes.extend(validate_state_transitions(
        &status.ephemeral_container_statuses,
        &old_status.ephemeral_container_statuses,
        &status_path.child("ephemeralContainerStatuses"),
        |_| false,
        "Never",
    ));

    let pod_ips: Vec<&str> = if status.pod_ips.is_empty() {
        (!status.pod_ip.is_empty())
            .then_some(status.pod_ip.as_str())
            .into_iter()
            .collect()
    } else {
        status.pod_ips.iter().map(|ip| ip.ip.as_str()).collect()
    };
    causes.extend(validate_ips(&pod_ips, &status_path.child("podIPs")));
    let host_ips: Vec<&str> = if status.host_ips.is_empty() {
        (!status.host_ip.is_empty())
            .then_some(status.host_ip.as_str())
            .into_iter()
            .collect()
    } else {
        status.host_ips.iter().map(|ip| ip.ip.as_str()).collect()
    };
    causes.extend(validate_ips(&host_ips, &status_path.child("hostIPs")));
    causes
}

/// `ValidateContainerStateTransition`: a terminated container that will not be restarted
/// stays terminated. `restarts(name)` says whether the container is always restarted.
fn validate_state_transitions(
    new: &[ContainerStatus],
    old: &[ContainerStatus],
    path: &Path,
    restarts: impl Fn(&str) -> bool,
    restart_policy: &str,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let terminated = |s: &ContainerStatus| s.state.as_ref().and_then(|st| st.terminated.as_ref()).cloned();
    for (i, old_status) in old.iter().enumerate() {
        let Some(old_terminated) = terminated(old_status) else {
            continue;
        };
        if restarts(&old_status.name) || (old_terminated.exit_code != 0 && restart_policy == "OnFailure") {
            continue;
        }
        for new_status in new {
            if new_status.name == old_status.name && terminated(new_status).is_none() {
                causes.push(Cause::forbidden(
                    path.index(i).child("state"),
                    "may not be transitioned to non-terminated state",
                ));
            }
        }
    }
    causes
}

/// `validatePodIPs` / `validateHostIPs`: valid IPs, at most one per family, no duplicates.
fn validate_ips(ips: &[&str], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        causes.extend(valid_ip(ip, &path.index(i)));
    }
    if ips.len() > 1 {
        let families: Vec<Option<bool>> = ips
            .iter()
            .map(|ip| names::parse_ip_sloppy(ip).map(|a| a.is_ipv4()))
            .collect();
        let dual_stack = ips.len() == 2 && families[0].is_some() && families[1].is_some() && families[0] != families[1];
        if !dual_stack {
            let rendered: Vec<String> = ips.iter().map(|ip| format!("core.PodIP{{IP:{ip:?}}}")).collect();
            causes.push(invalid_rendered(
                path,
                &format!("[]core.PodIP{{{}}}", rendered.join(", ")),
                "may specify no more than one IP for each IP family",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, ip) in ips.iter().enumerate() {
            if !seen.insert(*ip) {
                causes.push(Cause::duplicate(path.index(i), ip));
            }
        }
    }
    causes
}

#[cfg(test)]
mod tests;
