//! What the scheduler reads: affinity, tolerations and topology spread constraints
//! (`validateAffinity`, `ValidateTolerations`, `validateTopologySpreadConstraints`).

use std::collections::BTreeSet;

use podium_proto::k8s::core::v1::{
    Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, Toleration,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use podium_proto::k8s::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::path::{Path, invalid_rendered, required};
use super::{label_value, qualified_name};
use crate::error::Cause;
use crate::names;
use crate::strategy::validate_labels;

pub(super) fn validate_affinity(affinity: Option<&Affinity>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(affinity) = affinity else {
        return causes;
    };
    if let Some(node) = &affinity.node_affinity {
        let p = path.child("nodeAffinity");
        if let Some(selector) = &node.required_during_scheduling_ignored_during_execution {
            causes.extend(validate_node_selector(
                selector,
                &p.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let preferred = p.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .enumerate()
        {
            causes.extend(validate_weight(term.weight, &preferred.index(i).child("weight")));
            let default = NodeSelectorTerm::default();
            // Preferred terms are not held to label-value syntax.
            causes.extend(validate_node_selector_term(
                term.preference.as_ref().unwrap_or(&default),
                true,
                &preferred.index(i).child("preference"),
            ));
        }
    }
    for (terms, field) in [
        (
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
            "podAffinity",
        ),
        (
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
            "podAntiAffinity",
        ),
    ] {
        let Some((required_terms, preferred_terms)) = terms else {
            continue;
        };
        let p = path.child(field);
        let required_path = p.child("requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in required_terms.iter().enumerate() {
            causes.extend(validate_pod_affinity_term(term, &required_path.index(i)));
        }
        causes.extend(validate_weighted_terms(
            preferred_terms,
            &p.child("preferredDuringSchedulingIgnoredDuringExecution"),
        ));
    }
    causes
}

fn validate_weight(weight: i32, path: &Path) -> Vec<Cause> {
    if (1..=100).contains(&weight) {
        Vec::new()
    } else {
        vec![Cause::invalid_number(path, weight, "must be in the range 1-100")]
    }
}

fn validate_weighted_terms(terms: &[WeightedPodAffinityTerm], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, weighted) in terms.iter().enumerate() {
        causes.extend(validate_weight(weighted.weight, &path.index(i).child("weight")));
        let default = PodAffinityTerm::default();
        let term = weighted.pod_affinity_term.as_ref().unwrap_or(&default);
        causes.extend(validate_pod_affinity_term(
            term,
            &path.index(i).child("podAffinityTerm"),
        ));
    }
    causes
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &Path) -> Vec<Cause> {
    let mut causes = validate_label_selector(term.label_selector.as_ref(), &path.child("labelSelector"));
    causes.extend(validate_label_selector(
        term.namespace_selector.as_ref(),
        &path.child("namespaceSelector"),
    ));
    for namespace in &term.namespaces {
        for problem in names::is_dns1123_label(namespace) {
            causes.push(Cause::invalid(path.child("namespace"), namespace, problem));
        }
    }
    if term.label_selector.is_none() {
        for (keys, field) in [
            (&term.match_label_keys, "matchLabelKeys"),
            (&term.mismatch_label_keys, "mismatchLabelKeys"),
        ] {
            if !keys.is_empty() {
                causes.push(Cause::forbidden(
                    path.child(field),
                    "must not be specified when labelSelector is not set",
                ));
            }
        }
    } else {
        for (keys, field) in [
            (&term.match_label_keys, "matchLabelKeys"),
            (&term.mismatch_label_keys, "mismatchLabelKeys"),
        ] {
            for (i, key) in keys.iter().enumerate() {
                causes.extend(qualified_name(key, &path.child(field).index(i)));
            }
        }
    }
    if term.topology_key.is_empty() {
        causes.push(required(&path.child("topologyKey"), "can not be empty"));
    }
    causes.extend(qualified_name(&term.topology_key, &path.child("topologyKey")));
    causes
}

fn validate_node_selector(selector: &NodeSelector, path: &Path) -> Vec<Cause> {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        return vec![required(&terms_path, "must have at least one node selector term")];
    }
    selector
        .node_selector_terms
        .iter()
        .enumerate()
        .flat_map(|(i, term)| validate_node_selector_term(term, false, &terms_path.index(i)))
        .collect()
}

fn validate_node_selector_term(term: &NodeSelectorTerm, allow_invalid_values: bool, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (j, requirement) in term.match_expressions.iter().enumerate() {
        causes.extend(validate_node_selector_requirement(
            requirement,
            allow_invalid_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, requirement) in term.match_fields.iter().enumerate() {
        causes.extend(validate_node_field_requirement(
            requirement,
            &path.child("matchFields").index(j),
        ));
    }
    causes
}

fn validate_node_selector_requirement(
    requirement: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    path: &Path,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let values = &requirement.values;
    match requirement.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => {
            causes.push(required(
                &path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ));
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => causes.push(Cause::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => {
            causes.push(required(
                &path.child("values"),
                "must be specified single value when `operator` is 'Lt' or 'Gt'",
            ));
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => causes.push(Cause::invalid(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    causes.extend(qualified_name(&requirement.key, &path.child("key")));
    if !allow_invalid_values {
        for (i, value) in values.iter().enumerate() {
            causes.extend(label_value(value, &path.child("values").index(i)));
        }
    }
    causes
}

/// Node field selectors only know `metadata.name`, with exactly one value.
fn validate_node_field_requirement(requirement: &NodeSelectorRequirement, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    match requirement.operator.as_str() {
        "In" | "NotIn" if requirement.values.len() != 1 => causes.push(required(
            &path.child("values"),
            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        )),
        "In" | "NotIn" => {}
        other => causes.push(Cause::invalid(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    if requirement.key == "metadata.name" {
        for (i, value) in requirement.values.iter().enumerate() {
            for problem in names::name_is_dns_subdomain(value, false) {
                causes.push(Cause::invalid(path.child("values").index(i), value, problem));
            }
        }
    } else {
        causes.push(Cause::invalid(
            path.child("key"),
            &requirement.key,
            "not a valid field selector key",
        ));
    }
    causes
}

/// metav1's `ValidateLabelSelector` (label values checked).
pub(super) fn validate_label_selector(selector: Option<&LabelSelector>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(selector) = selector else {
        return causes;
    };
    causes.extend(validate_labels(
        &selector.match_labels,
        &path.child("matchLabels").to_string(),
    ));
    for (i, requirement) in selector.match_expressions.iter().enumerate() {
        causes.extend(validate_label_selector_requirement(
            requirement,
            &path.child("matchExpressions").index(i),
        ));
    }
    causes
}

fn validate_label_selector_requirement(requirement: &LabelSelectorRequirement, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    match requirement.operator.as_str() {
        "In" | "NotIn" if requirement.values.is_empty() => {
            causes.push(required(
                &path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ));
        }
        "Exists" | "DoesNotExist" if !requirement.values.is_empty() => causes.push(Cause::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => causes.push(Cause::invalid(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    causes.extend(qualified_name(&requirement.key, &path.child("key")));
    for (i, value) in requirement.values.iter().enumerate() {
        causes.extend(label_value(value, &path.child("values").index(i)));
    }
    causes
}

pub(crate) fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let idx = path.index(i);
        if !toleration.key.is_empty() {
            causes.extend(qualified_name(&toleration.key, &idx.child("key")));
        }
        if toleration.key.is_empty() && toleration.operator != "Exists" {
            causes.push(Cause::invalid(
                idx.child("operator"),
                &toleration.operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if toleration.toleration_seconds.is_some() && toleration.effect != "NoExecute" {
            causes.push(Cause::invalid(
                idx.child("effect"),
                &toleration.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match toleration.operator.as_str() {
            "Equal" | "" => {
                let problems = names::is_valid_label_value(&toleration.value);
                if !problems.is_empty() {
                    causes.push(Cause::invalid(
                        idx.child("operator"),
                        &toleration.value,
                        problems.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !toleration.value.is_empty() {
                    causes.push(invalid_rendered(
                        &idx.child("operator"),
                        &render_toleration(toleration),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => causes.push(Cause::not_supported(idx.child("operator"), other, &["Equal", "Exists"])),
        }
        if !toleration.effect.is_empty() {
            const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
            if !EFFECTS.contains(&toleration.effect.as_str()) {
                causes.push(Cause::not_supported(idx.child("effect"), &toleration.effect, &EFFECTS));
            }
        }
    }
    causes
}

/// Go's `%#v` of a `core.Toleration` (a set `tolerationSeconds` is shown by value, where Go
/// would show a pointer address).
fn render_toleration(t: &Toleration) -> String {
    let seconds = t
        .toleration_seconds
        .map_or_else(|| "(*int64)(nil)".to_owned(), |s| format!("&{s}"));
    format!(
        "core.Toleration{{Key:{:?}, Operator:{:?}, Value:{:?}, Effect:{:?}, TolerationSeconds:{seconds}}}",
        t.key, t.operator, t.value, t.effect
    )
}

pub(super) fn validate_topology_spread_constraints(
    constraints: &[TopologySpreadConstraint],
    path: &Path,
) -> Vec<Cause> {
    const ACTIONS: [&str; 2] = ["DoNotSchedule", "ScheduleAnyway"];
    const POLICIES: [&str; 2] = ["Honor", "Ignore"];
    let mut causes = Vec::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let idx = path.index(i);
        if constraint.max_skew <= 0 {
            causes.push(Cause::invalid_number(
                idx.child("maxSkew"),
                constraint.max_skew,
                "must be greater than zero",
            ));
        }
        if constraint.topology_key.is_empty() {
            causes.push(required(&idx.child("topologyKey"), "can not be empty"));
        }
        if !ACTIONS.contains(&constraint.when_unsatisfiable.as_str()) {
            causes.push(Cause::not_supported(
                idx.child("whenUnsatisfiable"),
                &constraint.when_unsatisfiable,
                &ACTIONS,
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|c| {
            c.topology_key == constraint.topology_key && c.when_unsatisfiable == constraint.when_unsatisfiable
        });
        if repeated {
            causes.push(Cause::duplicate(
                idx.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", constraint.topology_key, constraint.when_unsatisfiable),
            ));
        }
        if let Some(min_domains) = constraint.min_domains {
            let p = idx.child("minDomains");
            if min_domains <= 0 {
                causes.push(Cause::invalid_number(&p, min_domains, "must be greater than zero"));
            }
            if constraint.when_unsatisfiable != "DoNotSchedule" {
                causes.push(Cause::invalid_number(
                    &p,
                    min_domains,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        constraint.when_unsatisfiable
                    ),
                ));
            }
        }
        for (policy, field) in [
            (&constraint.node_affinity_policy, "nodeAffinityPolicy"),
            (&constraint.node_taints_policy, "nodeTaintsPolicy"),
        ] {
            if let Some(policy) = policy.as_deref().filter(|p| !POLICIES.contains(p)) {
                causes.push(Cause::not_supported(idx.child(field), policy, &POLICIES));
            }
        }
        causes.extend(validate_spread_match_label_keys(
            constraint,
            &idx.child("matchLabelKeys"),
        ));
        causes.extend(validate_label_selector(
            constraint.label_selector.as_ref(),
            &idx.child("labelSelector"),
        ));
    }
    causes
}

fn validate_spread_match_label_keys(constraint: &TopologySpreadConstraint, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if constraint.match_label_keys.is_empty() {
        return causes;
    }
    let mut selector_keys = BTreeSet::new();
    match &constraint.label_selector {
        Some(selector) => {
            selector_keys.extend(selector.match_labels.keys().map(String::as_str));
            selector_keys.extend(selector.match_expressions.iter().map(|e| e.key.as_str()));
        }
        None => causes.push(Cause::forbidden(
            path,
            "must not be specified when labelSelector is not set",
        )),
    }
    for (i, key) in constraint.match_label_keys.iter().enumerate() {
        causes.extend(qualified_name(key, &path.index(i)));
        if selector_keys.contains(key.as_str()) {
            causes.push(Cause::invalid(
                path.index(i),
                key,
                "exists in both matchLabelKeys and labelSelector",
            ));
        }
    }
    causes
}
