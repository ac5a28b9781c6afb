//! A Pod's quality-of-service class, Kubernetes' `ComputePodQOS`
//! (`pkg/apis/core/helper/qos`).
//!
//! Only cpu and memory count, summed over app and init containers (ephemeral containers have
//! no resources). BestEffort: nothing requested or limited. Guaranteed: every container has
//! cpu and memory limits, and the summed requests equal the summed limits. Otherwise Burstable.
//! The kubelet uses the class to pick the cgroup and the eviction order.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::{Pod, PodSpec};
use podium_proto::k8s::meta::v1::Quantity as QuantityField;

use crate::quantity::Quantity;

pub const GUARANTEED: &str = "Guaranteed";
pub const BURSTABLE: &str = "Burstable";
pub const BEST_EFFORT: &str = "BestEffort";

/// The resources that decide the class.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// The class Kubernetes computes from the spec.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    for container in spec.containers.iter().chain(&spec.init_containers) {
        let Some(resources) = &container.resources else {
            guaranteed = false;
            continue;
        };
        sum_positive(&resources.requests, &mut requests);
        let found = sum_positive(&resources.limits, &mut limits);
        if !QOS_RESOURCES.iter().all(|r| found.contains(r)) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return BEST_EFFORT;
    }
    let requests_match_limits = requests.iter().all(|(name, request)| limits.get(name) == Some(request));
    if guaranteed && requests_match_limits && requests.len() == limits.len() {
        GUARANTEED
    } else {
        BURSTABLE
    }
}

/// The class a Pod already has (`GetPodQOS`): its status once set, else computed.
pub fn pod_qos_class(pod: &Pod) -> String {
    match pod.status.as_ref().map(|s| s.qos_class.as_str()) {
        Some(class) if !class.is_empty() => class.to_owned(),
        _ => qos_class(pod.spec.as_ref().unwrap_or(&PodSpec::default())).to_owned(),
    }
}

/// Adds the positive cpu and memory quantities of `list` into `sums`; returns the names added.
/// Quantities that do not parse count as zero (validation reports them).
fn sum_positive<'a>(list: &'a BTreeMap<String, QuantityField>, sums: &mut BTreeMap<&'a str, Quantity>) -> Vec<&'a str> {
    let mut found = Vec::new();
    for (name, raw) in list {
        if !QOS_RESOURCES.contains(&name.as_str()) {
            continue;
        }
        let Ok(quantity) = Quantity::parse(&raw.string) else {
            continue;
        };
        if quantity.sign() > 0 {
            sums.entry(name.as_str()).or_default().add(&quantity);
            found.push(name.as_str());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{Container, ResourceRequirements};

    use super::*;

    /// A container from `(resource, request, limit)` triples; "" leaves a side unset.
    fn container(resources: &[(&str, &str, &str)]) -> Container {
        let mut requirements = ResourceRequirements::default();
        for (name, request, limit) in resources {
            if !request.is_empty() {
                requirements
                    .requests
                    .insert((*name).into(), QuantityField::new(*request));
            }
            if !limit.is_empty() {
                requirements.limits.insert((*name).into(), QuantityField::new(*limit));
            }
        }
        Container {
            name: "c".into(),
            resources: Some(requirements),
            ..Default::default()
        }
    }

    fn spec(containers: Vec<Container>, init: Vec<Container>) -> PodSpec {
        PodSpec {
            containers,
            init_containers: init,
            ..Default::default()
        }
    }

    #[test]
    fn classes() {
        let guaranteed = &[("cpu", "1", "1"), ("memory", "1Gi", "1Gi")][..];
        let cases: Vec<(&str, PodSpec, &str)> = vec![
            ("no resources", spec(vec![Container::default()], vec![]), BEST_EFFORT),
            ("empty requirements", spec(vec![container(&[])], vec![]), BEST_EFFORT),
            (
                "only extended resources",
                spec(vec![container(&[("example.com/gpu", "1", "1")])], vec![]),
                BEST_EFFORT,
            ),
            (
                "zero requests",
                spec(vec![container(&[("cpu", "0", ""), ("memory", "0", "")])], vec![]),
                BEST_EFFORT,
            ),
            (
                "requests equal limits",
                spec(vec![container(guaranteed)], vec![]),
                GUARANTEED,
            ),
            (
                "equal in another notation",
                spec(
                    vec![container(&[("cpu", "1000m", "1"), ("memory", "1024Mi", "1Gi")])],
                    vec![],
                ),
                GUARANTEED,
            ),
            (
                "limits only (requests not yet defaulted)",
                spec(vec![container(&[("cpu", "", "1"), ("memory", "", "1Gi")])], vec![]),
                BURSTABLE,
            ),
            (
                "request below limit",
                spec(
                    vec![container(&[("cpu", "500m", "1"), ("memory", "1Gi", "1Gi")])],
                    vec![],
                ),
                BURSTABLE,
            ),
            (
                "cpu limit only",
                spec(vec![container(&[("cpu", "1", "1")])], vec![]),
                BURSTABLE,
            ),
            (
                "memory request only",
                spec(vec![container(&[("memory", "1Gi", "")])], vec![]),
                BURSTABLE,
            ),
            (
                "one container without limits",
                spec(vec![container(guaranteed), container(&[])], vec![]),
                BURSTABLE,
            ),
            (
                "one container without resources",
                spec(vec![container(guaranteed), Container::default()], vec![]),
                BURSTABLE,
            ),
            (
                "init container counts",
                spec(vec![container(guaranteed)], vec![container(&[("cpu", "1", "")])]),
                BURSTABLE,
            ),
            (
                "guaranteed init container",
                spec(vec![container(guaranteed)], vec![container(guaranteed)]),
                GUARANTEED,
            ),
            (
                "extended resources do not break guaranteed",
                spec(
                    vec![container(&[
                        ("cpu", "1", "1"),
                        ("memory", "1Gi", "1Gi"),
                        ("example.com/gpu", "1", "2"),
                    ])],
                    vec![],
                ),
                GUARANTEED,
            ),
            (
                "ephemeral storage does not count",
                spec(vec![container(&[("ephemeral-storage", "1Gi", "")])], vec![]),
                BEST_EFFORT,
            ),
            (
                "unparsable quantities count as zero",
                spec(vec![container(&[("cpu", "abc", "")])], vec![]),
                BEST_EFFORT,
            ),
            (
                "sums are compared, not each container",
                spec(
                    vec![
                        container(&[("cpu", "2", "1"), ("memory", "1Gi", "1Gi")]),
                        container(&[("cpu", "1", "2"), ("memory", "1Gi", "1Gi")]),
                    ],
                    vec![],
                ),
                GUARANTEED,
            ),
        ];
        for (name, spec, want) in cases {
            assert_eq!(qos_class(&spec), want, "{name}");
        }
    }

    #[test]
    fn status_class_wins_once_set() {
        let mut pod = Pod {
            spec: Some(spec(vec![Container::default()], vec![])),
            ..Default::default()
        };
        assert_eq!(pod_qos_class(&pod), BEST_EFFORT);
        pod.status = Some(podium_proto::k8s::core::v1::PodStatus {
            qos_class: GUARANTEED.into(),
            ..Default::default()
        });
        assert_eq!(pod_qos_class(&pod), GUARANTEED);
    }
}
