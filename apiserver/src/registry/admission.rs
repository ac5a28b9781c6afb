//! Per-kind rules that need the store: what Kubernetes' admission plugins and registry
//! strategies do beyond pure defaulting and validation.

use std::future::Future;

use podium_api::{ApiError, Strategy};
use podium_proto::k8s::coordination::v1::Lease;
use podium_proto::k8s::core::v1::{Event, Namespace, Node, Pod};
use podium_proto::k8s::scheduling::v1::PriorityClass;

use super::{Api, Result, resource_name};

/// A kind the registry serves.
pub trait Kind: Strategy {
    /// Whether an update of a missing object creates it (Kubernetes' AllowCreateOnUpdate).
    const CREATE_ON_UPDATE: bool = false;

    /// The grace period of a delete that names none; 0 deletes at once.
    fn default_grace_seconds(&self) -> i64 {
        0
    }

    /// Whether the kind's own finalizers (beyond metadata.finalizers) still hold the object.
    fn pending_finalizers(&self) -> bool {
        false
    }

    /// Marks the object as being deleted, beyond its deletionTimestamp.
    fn mark_terminating(&mut self) {}

    /// Refuses the deletion of objects that must stay.
    fn check_delete(&self) -> Result<()> {
        Ok(())
    }

    /// Checks and fills that read other objects, run before a new object is stored.
    fn admit_create(&mut self, _api: &Api) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

impl Kind for Pod {
    fn default_grace_seconds(&self) -> i64 {
        let unbound = self.spec.as_ref().is_none_or(|s| s.node_name.is_empty());
        let finished = self
            .status
            .as_ref()
            .is_some_and(|s| s.phase == "Succeeded" || s.phase == "Failed");
        if unbound || finished {
            return 0;
        }
        self.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0)
    }

    /// Kubernetes' Priority admission: the priority comes from the pod's PriorityClass (or the
    /// global default class), never from the client.
    async fn admit_create(&mut self, api: &Api) -> Result<()> {
        let name = self.metadata.as_ref().map(|m| m.name.clone()).unwrap_or_default();
        let spec = self.spec.get_or_insert_with(Default::default);
        let class = if spec.priority_class_name.is_empty() {
            let classes = api.list_all::<PriorityClass>("")?;
            classes.into_iter().find(|c| c.global_default)
        } else {
            match api.try_get::<PriorityClass>("", &spec.priority_class_name)? {
                Some(class) => Some(class),
                None => {
                    return Err(ApiError::forbidden(
                        "pods",
                        &name,
                        &format!("no PriorityClass with name {} was found", spec.priority_class_name),
                    ));
                }
            }
        };
        let (priority, policy) = match &class {
            Some(class) => (class.value, class.preemption_policy.clone()),
            None => (0, None),
        };
        if let Some(given) = spec.priority
            && given != priority
        {
            return Err(ApiError::forbidden(
                "pods",
                &name,
                &format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
                ),
            ));
        }
        spec.priority = Some(priority);
        if let Some(class) = class {
            spec.priority_class_name = class.metadata.map(|m| m.name).unwrap_or_default();
        }
        if spec.preemption_policy.is_none() {
            spec.preemption_policy = Some(policy.unwrap_or_else(|| "PreemptLowerPriority".into()));
        }
        // The creating request's trace context: the scheduler and the agent continue it, so
        // one trace shows the pod from creation to running. Only when traces are exported:
        // otherwise no one will see them, and every pod would carry the annotation for nothing.
        if podium_telemetry::traces::exporting()
            && let Some(traceparent) = podium_telemetry::propagation::current_traceparent()
        {
            let meta = self.metadata.get_or_insert_with(Default::default);
            meta.annotations
                .entry(podium_telemetry::propagation::TRACE_ANNOTATION.to_owned())
                .or_insert(traceparent);
        }
        Ok(())
    }
}

impl Kind for Node {}
/// Namespaces the cluster cannot work without.
pub const PROTECTED_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

impl Kind for Namespace {
    fn pending_finalizers(&self) -> bool {
        self.spec.as_ref().is_some_and(|s| !s.finalizers.is_empty())
    }

    fn mark_terminating(&mut self) {
        self.status.get_or_insert_with(Default::default).phase = "Terminating".into();
    }

    fn check_delete(&self) -> Result<()> {
        let name = self.metadata.as_ref().map_or("", |m| m.name.as_str());
        if PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                "namespaces",
                name,
                "this namespace may not be deleted",
            ));
        }
        Ok(())
    }
}
impl Kind for PriorityClass {}

impl Kind for Event {
    const CREATE_ON_UPDATE: bool = true;
}

impl Kind for Lease {
    const CREATE_ON_UPDATE: bool = true;
}

/// Refuses writes into a namespace that does not exist or is being deleted.
pub(super) fn check_namespace<K: Kind>(api: &Api, namespace: &str, name: &str) -> Result<()> {
    match api.try_get::<Namespace>("", namespace)? {
        None => Err(ApiError::not_found("namespaces", namespace)),
        Some(ns) if ns.metadata.as_ref().is_some_and(|m| m.deletion_timestamp.is_some()) => {
            let mut err = ApiError::forbidden(
                &resource_name::<K>(),
                name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            );
            // Kubernetes' NamespaceTerminating cause lets clients tell this apart.
            if let Some(details) = err.status.details.as_mut() {
                details.causes.push(podium_proto::k8s::meta::v1::StatusCause {
                    reason: "NamespaceTerminating".into(),
                    message: format!("namespace {namespace} is being terminated"),
                    field: "metadata.namespace".into(),
                });
            }
            Err(err)
        }
        Some(_) => Ok(()),
    }
}
