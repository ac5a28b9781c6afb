//! Environment variables, `envFrom`, and the downward API selectors that env and volumes share
//! (`ValidateEnv`, `ValidateEnvFrom`, `validateObjectFieldSelector`,
//! `validateContainerResourceFieldSelector`).

use podium_proto::k8s::core::v1::{EnvFromSource, EnvVar, ObjectFieldSelector, ResourceFieldSelector};
use podium_proto::k8s::meta::v1::Quantity as QuantityField;

use super::path::Path;
use super::qualified_name;
use crate::error::Cause;
use crate::names;
use crate::quantity::Quantity;

/// The fields an env var may take from the Pod (labels and annotations only by key).
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// The fields a downward API volume file may hold.
pub(super) const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// The container resources the downward API exposes (besides `*.hugepages-*`).
const RESOURCE_FIELD_PATHS: [&str; 6] = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// Every field Kubernetes' `ConvertDownwardAPIFieldLabel` knows for v1 Pods.
const CONVERTIBLE_FIELD_PATHS: [&str; 14] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

pub(super) fn validate_env(vars: &[EnvVar], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let idx = path.index(i);
        if var.name.is_empty() {
            causes.push(Cause::required(idx.child("name")));
        }
        // Kubernetes 1.32 has the RelaxedEnvironmentVariableValidation gate on (beta).
        for problem in names::is_relaxed_env_var_name(&var.name) {
            causes.push(Cause::invalid(idx.child("name"), &var.name, problem));
        }
        causes.extend(validate_env_value_from(var, &idx.child("valueFrom")));
    }
    causes
}

fn validate_env_value_from(var: &EnvVar, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(from) = &var.value_from else {
        return causes;
    };
    let mut sources = 0;
    if let Some(field_ref) = &from.field_ref {
        sources += 1;
        causes.extend(validate_object_field_selector(
            field_ref,
            &ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(resource_ref) = &from.resource_field_ref {
        sources += 1;
        causes.extend(validate_resource_field_selector(
            resource_ref,
            false,
            &path.child("resourceFieldRef"),
        ));
    }
    if let Some(key_ref) = &from.config_map_key_ref {
        sources += 1;
        causes.extend(validate_key_selector(
            &key_ref.name,
            &key_ref.key,
            &path.child("configMapKeyRef"),
        ));
    }
    if let Some(key_ref) = &from.secret_key_ref {
        sources += 1;
        causes.extend(validate_key_selector(
            &key_ref.name,
            &key_ref.key,
            &path.child("secretKeyRef"),
        ));
    }
    if sources == 0 {
        causes.push(Cause::invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if !var.value.is_empty() {
        causes.push(Cause::invalid(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        causes.push(Cause::invalid(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    causes
}

/// `validateConfigMapKeySelector` and `validateSecretKeySelector`, which are the same.
fn validate_key_selector(name: &str, key: &str, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for problem in names::name_is_dns_subdomain(name, false) {
        causes.push(Cause::invalid(path.child("name"), name, problem));
    }
    if key.is_empty() {
        causes.push(Cause::required(path.child("key")));
    } else {
        for problem in names::is_config_map_key(key) {
            causes.push(Cause::invalid(path.child("key"), key, problem));
        }
    }
    causes
}

pub(super) fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let idx = path.index(i);
        if !source.prefix.is_empty() {
            for problem in names::is_relaxed_env_var_name(&source.prefix) {
                causes.push(Cause::invalid(idx.child("prefix"), &source.prefix, problem));
            }
        }
        let mut count = 0;
        for (name, field) in [
            (source.config_map_ref.as_ref().map(|r| &r.name), "configMapRef"),
            (source.secret_ref.as_ref().map(|r| &r.name), "secretRef"),
        ] {
            let Some(name) = name else { continue };
            count += 1;
            let name_path = idx.child(field).child("name");
            if name.is_empty() {
                causes.push(Cause::required(name_path));
            } else {
                for problem in names::name_is_dns_subdomain(name, true) {
                    causes.push(Cause::invalid(&name_path, name, problem));
                }
            }
        }
        // Kubernetes reports these two on the list, not the entry.
        if count == 0 {
            causes.push(Cause::invalid(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            causes.push(Cause::invalid(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    causes
}

/// Go's `fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['key']` → (`metadata.labels`, `key`).
fn split_subscripted(field_path: &str) -> Option<(&str, &str)> {
    let inner = field_path.strip_suffix("']")?;
    let (path, subscript) = inner.split_once("['")?;
    (!path.is_empty()).then_some((path, subscript))
}

pub(super) fn validate_object_field_selector(
    selector: &ObjectFieldSelector,
    allowed: &[&str],
    path: &Path,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if selector.api_version.is_empty() {
        causes.push(Cause::required(path.child("apiVersion")));
        return causes;
    }
    if selector.field_path.is_empty() {
        causes.push(Cause::required(path.child("fieldPath")));
        return causes;
    }
    let field_path = selector.field_path.as_str();
    // ConvertDownwardAPIFieldLabel first: unknown versions and labels fail to convert.
    let conversion_error = if selector.api_version != "v1" {
        Some(format!("unsupported pod version: {}", selector.api_version))
    } else if let Some((base, _)) = split_subscripted(field_path) {
        (base != "metadata.annotations" && base != "metadata.labels")
            .then(|| format!("field label does not support subscript: {field_path}"))
    } else {
        (!CONVERTIBLE_FIELD_PATHS.contains(&field_path) && field_path != "spec.host")
            .then(|| format!("field label not supported: {field_path}"))
    };
    if let Some(error) = conversion_error {
        causes.push(Cause::invalid(
            path.child("fieldPath"),
            field_path,
            format!("error converting fieldPath: {error}"),
        ));
        return causes;
    }
    // `spec.host` is the old v1 spelling of `spec.nodeName`.
    let internal = if field_path == "spec.host" {
        "spec.nodeName"
    } else {
        field_path
    };
    match split_subscripted(internal) {
        Some(("metadata.annotations", key)) => causes.extend(qualified_name(&key.to_lowercase(), path)),
        Some(("metadata.labels", key)) => causes.extend(qualified_name(key, path)),
        Some((base, _)) => causes.push(Cause::invalid(path, base, "does not support subscript")),
        None if !allowed.contains(&internal) => {
            causes.push(Cause::not_supported(path.child("fieldPath"), internal, allowed));
        }
        None => {}
    }
    causes
}

/// `validateContainerResourceFieldSelector`; `volume` requires the container name.
pub(super) fn validate_resource_field_selector(
    selector: &ResourceFieldSelector,
    volume: bool,
    path: &Path,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let resource = selector.resource.as_str();
    if volume && selector.container_name.is_empty() {
        causes.push(Cause::required(path.child("containerName")));
    } else if resource.is_empty() {
        causes.push(Cause::required(path.child("resource")));
    } else if !RESOURCE_FIELD_PATHS.contains(&resource) && !is_hugepages_field(resource) {
        causes.push(Cause::not_supported(
            path.child("resource"),
            resource,
            &RESOURCE_FIELD_PATHS,
        ));
    }
    causes.extend(validate_divisor(resource, selector.divisor.as_ref(), path));
    causes
}

fn is_hugepages_field(resource: &str) -> bool {
    resource.starts_with("requests.hugepages-") || resource.starts_with("limits.hugepages-")
}

const MEMORY_DIVISORS: &str = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei";

/// `validateContainerResourceDivisor`: a divisor must be one of the unit values.
fn validate_divisor(resource: &str, divisor: Option<&QuantityField>, path: &Path) -> Vec<Cause> {
    let Some(divisor) = divisor.filter(|d| !d.string.is_empty()) else {
        return Vec::new();
    };
    let parsed = Quantity::parse(&divisor.string).ok();
    // A zero divisor is Go's unset Quantity.
    if parsed.as_ref().is_some_and(|q| q.is_zero()) {
        return Vec::new();
    }
    let one_of = |units: &[&str]| {
        parsed
            .as_ref()
            .is_some_and(|q| units.iter().any(|u| Quantity::parse(u).is_ok_and(|unit| &unit == q)))
    };
    let memory_units = [
        "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
    ];
    let message = match resource {
        "limits.cpu" | "requests.cpu" if !one_of(&["1m", "1"]) => {
            "only divisor's values 1m and 1 are supported with the cpu resource".to_owned()
        }
        "limits.memory" | "requests.memory" if !one_of(&memory_units) => {
            format!("only divisor's values {MEMORY_DIVISORS} are supported with the memory resource")
        }
        "limits.ephemeral-storage" | "requests.ephemeral-storage" if !one_of(&memory_units) => {
            format!("only divisor's values {MEMORY_DIVISORS} are supported with the local ephemeral storage resource")
        }
        _ if is_hugepages_field(resource) && !one_of(&memory_units) => {
            format!("only divisor's values {MEMORY_DIVISORS} are supported with the hugepages resource")
        }
        _ => return Vec::new(),
    };
    vec![Cause::invalid(path.child("divisor"), resource, message)]
}
