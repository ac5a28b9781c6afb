//! pods/binding: the scheduler's one write to a pod's spec, setting spec.nodeName once.

use podium_api::ApiError;
use podium_proto::k8s::core::v1::{Binding, Node, Pod, PodCondition};
use podium_proto::k8s::meta::v1::{ListMeta, Status};

use super::update::Next;
use super::{Api, Result};

impl Api {
    /// Binds a pod to a node. Binding a bound pod is a 409 Conflict; the node must exist.
    pub async fn bind(&self, namespace: &str, binding: Binding) -> Result<Status> {
        let meta = binding.metadata.clone().unwrap_or_default();
        let namespace = if namespace.is_empty() {
            meta.namespace.clone()
        } else {
            namespace.to_owned()
        };
        let target = binding.target.unwrap_or_default();
        if target.name.is_empty() {
            return Err(ApiError::invalid(
                "Binding",
                &meta.name,
                vec![podium_api::Cause::required("target.name")],
            ));
        }
        if !target.kind.is_empty() && target.kind != "Node" {
            return Err(ApiError::invalid(
                "Binding",
                &meta.name,
                vec![podium_api::Cause::not_supported("target.kind", &target.kind, &["Node"])],
            ));
        }
        if self.try_get::<Node>("", &target.name)?.is_none() {
            return Err(ApiError::not_found("nodes", &target.name));
        }
        let (pod_name, node, uid) = (meta.name.clone(), target.name.clone(), meta.uid.clone());
        self.modify::<Pod, _>(&namespace, &meta.name, move |old| {
            let mut pod = old.ok_or_else(|| ApiError::not_found("pods", &pod_name))?;
            let pod_meta = pod.metadata.clone().unwrap_or_default();
            if !uid.is_empty() && uid != pod_meta.uid {
                return Err(ApiError::conflict(
                    "pods",
                    &pod_name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        pod_meta.uid
                    ),
                ));
            }
            if pod_meta.deletion_timestamp.is_some() {
                return Err(ApiError::conflict(
                    "pods/binding",
                    &pod_name,
                    &format!("pod {pod_name} is being deleted, cannot be assigned to a host"),
                ));
            }
            let spec = pod.spec.get_or_insert_with(Default::default);
            if !spec.node_name.is_empty() {
                return Err(ApiError::conflict(
                    "pods/binding",
                    &pod_name,
                    &format!("pod {pod_name} is already assigned to node \"{}\"", spec.node_name),
                ));
            }
            spec.node_name = node;
            let status = pod.status.get_or_insert_with(Default::default);
            status.conditions.retain(|c| c.r#type != "PodScheduled");
            status.conditions.push(PodCondition {
                r#type: "PodScheduled".into(),
                status: "True".into(),
                last_transition_time: Some(podium_proto::now()),
                ..Default::default()
            });
            Ok(Next::Put(pod))
        })
        .await?;
        Ok(Status {
            kind: "Status".into(),
            api_version: "v1".into(),
            metadata: Some(ListMeta::default()),
            status: "Success".into(),
            code: 201,
            ..Default::default()
        })
    }
}
