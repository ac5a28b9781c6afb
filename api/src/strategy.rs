//! Per-kind API rules: defaulting on create, validation, and what an update may change.
//!
//! The apiserver's registry calls these for every write, from either face. Metadata rules
//! common to all kinds live here; each kind's own rules live in its module (`pod`, ...).

use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node};
use podium_proto::k8s::meta::v1::ObjectMeta;
use podium_proto::k8s::scheduling::v1::PriorityClass;

use crate::error::Cause;
use crate::names;
use crate::resource::Resource;

/// How names of a kind are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
}

/// A kind's API rules. Every method has the permissive default.
pub trait Strategy: Resource {
    const NAME_RULE: NameRule = NameRule::Dns1123Subdomain;

    /// Fills the kind's defaults into a new object (metadata is handled by the registry).
    fn default_on_create(&mut self) {}

    /// Fills the kind's defaults into an object sent as an update: Kubernetes defaults every
    /// object it decodes, so a PUT of a plain manifest compares equal to what is stored.
    fn default_on_update(&mut self) {}

    /// Resets or fills the status of a new object (pods start Pending, whatever was sent).
    fn prepare_status_on_create(&mut self) {}

    /// The kind's rules for a new object, beyond metadata.
    fn validate(&self) -> Vec<Cause> {
        Vec::new()
    }

    /// The kind's rules for a main-resource update; by default, the create rules.
    fn validate_update(&self, _old: &Self) -> Vec<Cause> {
        self.validate()
    }

    /// The kind's rules for a status update.
    fn validate_status_update(&self, _old: &Self) -> Vec<Cause> {
        Vec::new()
    }

    /// Whether a main-resource update changed the spec, which bumps metadata.generation.
    fn spec_changed(&self, _old: &Self) -> bool {
        false
    }
}

/// Kubernetes' ValidateObjectMeta for a new or updated object.
pub fn validate_metadata<K: Strategy>(meta: &ObjectMeta) -> Vec<Cause> {
    let mut causes = Vec::new();
    if meta.name.is_empty() && meta.generate_name.is_empty() {
        causes.push(Cause::required("metadata.name"));
    } else if !meta.name.is_empty() {
        let problems = match K::NAME_RULE {
            NameRule::Dns1123Subdomain => names::is_dns1123_subdomain(&meta.name),
            NameRule::Dns1123Label => names::is_dns1123_label(&meta.name),
        };
        for problem in problems {
            causes.push(Cause::invalid("metadata.name", &meta.name, problem));
        }
    }
    if K::NAMESPACED {
        if meta.namespace.is_empty() {
            causes.push(Cause::required("metadata.namespace"));
        } else {
            for problem in names::is_dns1123_label(&meta.namespace) {
                causes.push(Cause::invalid("metadata.namespace", &meta.namespace, problem));
            }
        }
    } else if !meta.namespace.is_empty() {
        causes.push(Cause::forbidden("metadata.namespace", "not allowed on this type"));
    }
    causes.extend(validate_labels(&meta.labels, "metadata.labels"));
    for key in meta.annotations.keys() {
        for problem in names::is_qualified_name(&key.to_lowercase()) {
            causes.push(Cause::invalid("metadata.annotations", key, problem));
        }
    }
    if let Some(problem) = names::validate_annotations_size(&meta.annotations) {
        causes.push(Cause {
            reason: "FieldValueTooLong",
            field: "metadata.annotations".into(),
            detail: format!("Too long: {problem}"),
        });
    }
    for (i, finalizer) in meta.finalizers.iter().enumerate() {
        for problem in names::is_qualified_name(finalizer) {
            causes.push(Cause::invalid(format!("metadata.finalizers[{i}]"), finalizer, problem));
        }
    }
    causes
}

/// Kubernetes' ValidateLabels: qualified-name keys and label values.
pub fn validate_labels(labels: &std::collections::BTreeMap<String, String>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (key, value) in labels {
        for problem in names::is_qualified_name(key) {
            causes.push(Cause::invalid(field, key, problem));
        }
        for problem in names::is_valid_label_value(value) {
            causes.push(Cause::invalid(field, value, problem));
        }
    }
    causes
}

impl Strategy for Namespace {
    const NAME_RULE: NameRule = NameRule::Dns1123Label;

    fn default_on_create(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if !spec.finalizers.iter().any(|f| f == "kubernetes") {
            spec.finalizers.push("kubernetes".into());
        }
    }
    fn prepare_status_on_create(&mut self) {
        let status = self.status.get_or_insert_with(Default::default);
        status.phase = "Active".into();
        status.conditions.clear();
    }
}

impl Strategy for Node {
    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }
    fn validate(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        if let Some(spec) = &self.spec {
            for (i, taint) in spec.taints.iter().enumerate() {
                let field = format!("spec.taints[{i}]");
                if taint.key.is_empty() {
                    causes.push(Cause::required(format!("{field}.key")));
                }
                for problem in names::is_qualified_name(&taint.key) {
                    causes.push(Cause::invalid(format!("{field}.key"), &taint.key, problem));
                }
                const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
                if !EFFECTS.contains(&taint.effect.as_str()) {
                    causes.push(Cause::not_supported(format!("{field}.effect"), &taint.effect, &EFFECTS));
                }
            }
        }
        causes
    }
}

impl Strategy for Event {
    fn validate(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        if self.involved_object.is_none() {
            causes.push(Cause::required("involvedObject"));
        }
        if !self.r#type.is_empty() && self.r#type != "Normal" && self.r#type != "Warning" {
            causes.push(Cause::not_supported("type", &self.r#type, &["Normal", "Warning"]));
        }
        causes
    }
}

impl Strategy for Lease {
    fn validate(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        if let Some(spec) = &self.spec {
            if spec.lease_duration_seconds.is_some_and(|d| d <= 0) {
                causes.push(Cause::invalid_number(
                    "spec.leaseDurationSeconds",
                    spec.lease_duration_seconds.unwrap_or_default(),
                    "must be greater than 0",
                ));
            }
            if spec.lease_transitions.is_some_and(|t| t < 0) {
                causes.push(Cause::invalid_number(
                    "spec.leaseTransitions",
                    spec.lease_transitions.unwrap_or_default(),
                    "must be greater than or equal to 0",
                ));
            }
        }
        causes
    }
}

/// The largest priority a user-defined class may have; above it are the system classes.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

impl Strategy for PriorityClass {
    fn default_on_create(&mut self) {
        // Kubernetes defaults the policy; clients (kubectl describe) dereference it.
        self.preemption_policy
            .get_or_insert_with(|| "PreemptLowerPriority".into());
    }

    fn default_on_update(&mut self) {
        self.default_on_create();
    }

    fn validate(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        let system = self.name().starts_with("system-");
        if self.value > HIGHEST_USER_DEFINABLE_PRIORITY && !system {
            causes.push(Cause::forbidden(
                "value",
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
            ));
        }
        if let Some(policy) = &self.preemption_policy {
            const POLICIES: [&str; 2] = ["PreemptLowerPriority", "Never"];
            if !POLICIES.contains(&policy.as_str()) {
                causes.push(Cause::not_supported("preemptionPolicy", policy, &POLICIES));
            }
        }
        causes
    }
    fn validate_update(&self, old: &Self) -> Vec<Cause> {
        let mut causes = self.validate();
        if self.value != old.value {
            causes.push(Cause::forbidden("value", "may not be changed in an update."));
        }
        causes
    }
}
