//! Container resource requirements (`ValidateResourceRequirements`) and the resource-name
//! helpers of Kubernetes' `pkg/apis/core/helper`.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::ResourceRequirements;
use podium_proto::k8s::meta::v1::Quantity as QuantityField;

use super::path::{Path, required};
use super::qualified_name;
use crate::error::Cause;
use crate::names;
use crate::quantity::Quantity;

/// Resource names Kubernetes calls standard (`standardResources` plus quota names).
const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
    "storage",
    "requests.storage",
];

/// Resource names that only take whole numbers (`integerResources`).
const INTEGER_RESOURCES: [&str; 9] = [
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub(crate) fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Native resources are unprefixed or in the `kubernetes.io/` domain.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Extended resources (`example.com/gpu`): prefixed, outside kubernetes.io, and still a
/// qualified name once quota prefixes it with `requests.`.
fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && names::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether requests may be below limits; extended resources and hugepages may not.
fn is_overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_standard_resource(name: &str) -> bool {
    STANDARD_RESOURCES.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-")
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || is_hugepages(name)
}

/// `validateContainerResourceName` (with `validateResourceName` first).
fn validate_container_resource_name(name: &str, path: &Path) -> Vec<Cause> {
    let mut causes = qualified_name(name, path);
    if !causes.is_empty() {
        return causes;
    }
    let unprefixed = !name.contains('/');
    if unprefixed && !is_standard_resource(name) {
        causes.push(Cause::invalid(
            path,
            name,
            "must be a standard resource type or fully qualified",
        ));
    }
    if unprefixed {
        if !is_standard_container_resource(name) {
            causes.push(Cause::invalid(path, name, "must be a standard resource for containers"));
        }
    } else if !is_native(name) && !is_extended(name) {
        causes.push(Cause::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    causes
}

/// Parses a quantity; an unparsable one is reported on `path` with the parser's message.
pub(crate) fn parse_quantity(quantity: &QuantityField, path: &Path, causes: &mut Vec<Cause>) -> Option<Quantity> {
    match Quantity::parse(&quantity.string) {
        Ok(q) => Some(q),
        Err(error) => {
            causes.push(Cause::invalid(path, &quantity.string, error));
            None
        }
    }
}

/// `ValidateResourceQuantityValue`: non-negative, and whole for integer resources.
fn validate_quantity_value(name: &str, quantity: &Quantity, raw: &QuantityField, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if quantity.sign() < 0 {
        causes.push(Cause::invalid(path, quantity, "must be greater than or equal to 0"));
    }
    if (INTEGER_RESOURCES.contains(&name) || is_extended(name)) && quantity.milli_value() % 1000 != 0 {
        // Go prints the Quantity struct here; the text the user sent is clearer.
        causes.push(Cause::invalid(path, &raw.string, "must be an integer"));
    }
    causes
}

fn validate_list(
    list: &BTreeMap<String, QuantityField>,
    path: &Path,
    causes: &mut Vec<Cause>,
) -> BTreeMap<String, Quantity> {
    let mut parsed = BTreeMap::new();
    for (name, raw) in list {
        let key_path = path.key(name);
        causes.extend(validate_container_resource_name(name, &key_path));
        if let Some(quantity) = parse_quantity(raw, &key_path, causes) {
            causes.extend(validate_quantity_value(name, &quantity, raw, &key_path));
            parsed.insert(name.clone(), quantity);
        }
    }
    parsed
}

pub(super) fn validate_resource_requirements(requirements: Option<&ResourceRequirements>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(requirements) = requirements else {
        return causes;
    };
    let limits_path = path.child("limits");
    let requests_path = path.child("requests");
    let limits = validate_list(&requirements.limits, &limits_path, &mut causes);
    let requests = validate_list(&requirements.requests, &requests_path, &mut causes);
    for (name, request) in &requests {
        match limits.get(name) {
            Some(limit) if request != limit && !is_overcommit_allowed(name) => causes.push(Cause::invalid(
                &requests_path,
                request,
                format!("must be equal to {name} limit of {limit}"),
            )),
            Some(limit) if request > limit => causes.push(Cause::invalid(
                &requests_path,
                request,
                format!("must be less than or equal to {name} limit of {limit}"),
            )),
            // An unparsable limit was reported already.
            None if !requirements.limits.contains_key(name) && !is_overcommit_allowed(name) => {
                causes.push(required(
                    &limits_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            _ => {}
        }
    }
    let names = || requirements.limits.keys().chain(requirements.requests.keys());
    if names().any(|n| is_hugepages(n)) && !names().any(|n| n == "cpu" || n == "memory") {
        causes.push(Cause::forbidden(path, "HugePages require cpu or memory"));
    }
    causes
}

/// `validateOverhead`: the overhead is checked as if it were a container's limits.
pub(super) fn validate_overhead(overhead: &BTreeMap<String, QuantityField>, path: &Path) -> Vec<Cause> {
    let requirements = ResourceRequirements {
        limits: overhead.clone(),
        ..Default::default()
    };
    validate_resource_requirements(Some(&requirements), path)
}
