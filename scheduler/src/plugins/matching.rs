//! Matching rules several plugins share: tolerations against taints, node selector terms
//! against nodes, and label selectors (API form) against labels.

use std::collections::BTreeMap;

use podium_api::selector::label::{LabelSelector as Selector, MatchExpression};
use podium_proto::k8s::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration};
use podium_proto::k8s::meta::v1::LabelSelector;

pub use podium_api::pod::tolerations::{tolerated, tolerates};

/// The first taint with one of `effects` that no toleration tolerates.
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration], effects: &[&str]) -> Option<&'a Taint> {
    taints
        .iter()
        .find(|taint| effects.contains(&taint.effect.as_str()) && !tolerated(tolerations, taint))
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = &requirement.values;
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (value.and_then(|v| v.parse::<i64>().ok()), values.first()) else {
                return false;
            };
            let Ok(bound) = bound.parse::<i64>() else { return false };
            if requirement.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether a node satisfies one term: all its label expressions and all its field
/// expressions (only `metadata.name` is a node field). An empty term matches nothing.
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    if term.match_expressions.is_empty() && term.match_fields.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.as_ref().map_or(&empty, |m| &m.labels);
    let name = node.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key)))
        && term
            .match_fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&name)))
}

/// Whether a node satisfies any of the terms (terms are ORed).
pub fn any_term_matches(terms: &[NodeSelectorTerm], node: &Node) -> bool {
    terms.iter().any(|t| term_matches(t, node))
}

/// Whether a node satisfies a pod's nodeSelector and required node affinity (Kubernetes'
/// `GetRequiredNodeAffinity(pod).Match(node)`).
pub fn pod_matches_node_selector_and_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = &pod.spec else { return true };
    let empty = BTreeMap::new();
    let labels = node.metadata.as_ref().map_or(&empty, |m| &m.labels);
    if !spec.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    required.is_none_or(|selector| any_term_matches(&selector.node_selector_terms, node))
}

/// A label selector in API form as a matcher. An absent selector matches nothing (as in
/// Kubernetes); an invalid one matches nothing either.
pub fn selector(selector: Option<&LabelSelector>) -> Option<Selector> {
    let selector = selector?;
    let expressions: Vec<MatchExpression<'_>> = selector
        .match_expressions
        .iter()
        .map(|e| MatchExpression {
            key: &e.key,
            operator: &e.operator,
            values: &e.values,
        })
        .collect();
    Selector::from_match(&selector.match_labels, &expressions).ok()
}

/// Whether labels match a label selector in API form (absent: nothing matches).
pub fn selector_matches(label_selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    selector(label_selector).is_some_and(|s| s.matches(labels))
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::meta::v1::ObjectMeta;

    use super::*;
    use crate::plugins::testing::{taint, toleration};
    #[test]
    fn tolerations_follow_kubernetes_rules() {
        let t = taint("dedicated", "gpu", "NoSchedule");
        let cases = [
            (toleration("dedicated", "Equal", "gpu", "NoSchedule"), true),
            (toleration("dedicated", "", "gpu", ""), true),
            (toleration("dedicated", "Equal", "cpu", "NoSchedule"), false),
            (toleration("dedicated", "Exists", "", "NoSchedule"), true),
            (toleration("", "Exists", "", ""), true),
            (toleration("", "Exists", "", "NoExecute"), false),
            (toleration("other", "Exists", "", ""), false),
        ];
        for (tol, expected) in cases {
            assert_eq!(tolerates(&tol, &t), expected, "{tol:?}");
        }
    }

    #[test]
    fn node_selector_terms_match_labels_and_fields() {
        let node = Node {
            metadata: Some(ObjectMeta {
                name: "n1".into(),
                labels: [
                    ("zone".to_owned(), "a".to_owned()),
                    ("cores".to_owned(), "8".to_owned()),
                ]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = |key: &str, op: &str, values: &[&str]| NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let term = |exprs: Vec<NodeSelectorRequirement>, fields: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: exprs,
            match_fields: fields,
        };
        assert!(term_matches(&term(vec![req("zone", "In", &["a", "b"])], vec![]), &node));
        assert!(!term_matches(&term(vec![req("zone", "NotIn", &["a"])], vec![]), &node));
        assert!(term_matches(
            &term(vec![req("gpu", "DoesNotExist", &[])], vec![]),
            &node
        ));
        assert!(term_matches(&term(vec![req("cores", "Gt", &["4"])], vec![]), &node));
        assert!(!term_matches(&term(vec![req("cores", "Lt", &["4"])], vec![]), &node));
        assert!(term_matches(
            &term(vec![], vec![req("metadata.name", "In", &["n1"])]),
            &node
        ));
        assert!(
            !term_matches(&term(vec![], vec![]), &node),
            "an empty term matches nothing"
        );
    }
}
