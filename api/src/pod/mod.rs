//! Kubernetes' Pod API rules: defaults, validation, what an update may change, the QoS
//! class, and tolerations against taints (`tolerations`).
//!
//! The registry drives these through `impl Strategy for Pod` below, the counterpart of
//! Kubernetes' `podStrategy` (`pkg/registry/core/pod/strategy.go`). Start there; then
//! `defaults` (what a new Pod is filled with), `validation` (`ValidatePodCreate` and
//! `ValidatePodSpec`), `update` (`ValidatePodUpdate`, `ValidatePodStatusUpdate`) and `qos`.
//! Everything here is pure: no IO, and no panic on any input.

pub mod defaults;
pub mod qos;
pub mod tolerations;
pub mod update;
pub mod validation;

use podium_proto::k8s::core::v1::{Pod, PodCondition, PodStatus};

use crate::error::Cause;
use crate::strategy::Strategy;

pub use defaults::default_pod;
pub use qos::qos_class;
pub use update::{validate_pod_status_update, validate_pod_update};
pub use validation::validate_pod;

impl Strategy for Pod {
    fn default_on_create(&mut self) {
        default_pod(self);
        defaults::apply_match_label_keys(self);
    }

    fn default_on_update(&mut self) {
        default_pod(self);
    }

    /// Whatever status a client sent is replaced: a new Pod is Pending, with its QoS class.
    fn prepare_status_on_create(&mut self) {
        let spec = self.spec.clone().unwrap_or_default();
        let mut status = PodStatus {
            phase: "Pending".into(),
            qos_class: qos_class(&spec).into(),
            ..Default::default()
        };
        // A gated Pod says why it is not being scheduled.
        if !spec.scheduling_gates.is_empty() {
            status.conditions.push(PodCondition {
                r#type: "PodScheduled".into(),
                status: "False".into(),
                reason: "SchedulingGated".into(),
                message: "Scheduling is blocked due to non-empty scheduling gates".into(),
                ..Default::default()
            });
        }
        self.status = Some(status);
    }

    fn validate(&self) -> Vec<Cause> {
        validate_pod(self)
    }

    fn validate_update(&self, old: &Self) -> Vec<Cause> {
        validate_pod_update(self, old)
    }

    fn validate_status_update(&self, old: &Self) -> Vec<Cause> {
        validate_pod_status_update(self, old)
    }

    fn spec_changed(&self, old: &Self) -> bool {
        self.spec != old.spec
    }
}

#[cfg(test)]
mod tests {
    use podium_proto::k8s::core::v1::{Container, PodSchedulingGate, PodSpec, ResourceRequirements};
    use podium_proto::k8s::meta::v1::Quantity;

    use super::*;

    fn pod() -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: "nginx".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn create_flow_yields_a_valid_pending_pod() {
        let mut pod = pod();
        pod.status = Some(PodStatus {
            phase: "Running".into(),
            pod_ip: "10.0.0.1".into(),
            ..Default::default()
        });
        pod.default_on_create();
        pod.prepare_status_on_create();
        assert_eq!(pod.validate(), Vec::<Cause>::new());
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase, "Pending");
        assert_eq!(status.qos_class, "BestEffort");
        assert!(status.pod_ip.is_empty(), "the client's status is dropped");
        assert!(status.conditions.is_empty());
    }

    #[test]
    fn qos_class_is_computed_after_requests_default_to_limits() {
        let mut pod = pod();
        let limits = [
            ("cpu".to_owned(), Quantity::new("1")),
            ("memory".to_owned(), Quantity::new("1Gi")),
        ];
        pod.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
            limits: limits.into_iter().collect(),
            ..Default::default()
        });
        pod.default_on_create();
        pod.prepare_status_on_create();
        assert_eq!(pod.status.unwrap().qos_class, "Guaranteed");
    }

    #[test]
    fn gated_pod_gets_a_scheduling_gated_condition() {
        let mut pod = pod();
        pod.spec.as_mut().unwrap().scheduling_gates = vec![PodSchedulingGate {
            name: "example.com/wait".into(),
        }];
        pod.default_on_create();
        pod.prepare_status_on_create();
        let condition = &pod.status.unwrap().conditions[0];
        assert_eq!(
            (condition.r#type.as_str(), condition.status.as_str()),
            ("PodScheduled", "False")
        );
        assert_eq!(condition.reason, "SchedulingGated");
    }

    #[test]
    fn spec_changed_compares_specs_only() {
        let old = pod();
        let mut new = old.clone();
        new.status = Some(PodStatus {
            phase: "Running".into(),
            ..Default::default()
        });
        assert!(!new.spec_changed(&old));
        new.spec.as_mut().unwrap().containers[0].image = "nginx:1.27".into();
        assert!(new.spec_changed(&old));
    }

    #[test]
    fn strategy_delegates_updates() {
        let mut old = pod();
        old.default_on_create();
        let mut new = old.clone();
        new.spec.as_mut().unwrap().containers[0].image = "nginx:1.27".into();
        assert_eq!(new.validate_update(&old), Vec::<Cause>::new());
        new.spec.as_mut().unwrap().restart_policy = "Never".into();
        let causes = new.validate_update(&old);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec");
        let mut moved = old.clone();
        moved.spec.as_mut().unwrap().node_name = "n1".into();
        assert_eq!(
            moved.validate_status_update(&old)[0].message(),
            "status.nodeName: Forbidden: may not be changed directly"
        );
    }
}
