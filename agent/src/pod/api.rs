//! What a pod worker asks of the apiserver, behind a trait so its tests can stand in for it.

use std::future::Future;

use podium_client::{Client, ClientError};
use podium_proto::k8s::core::v1::{Event, EventSource, ObjectReference, Pod};
use podium_proto::k8s::meta::v1::{DeleteOptions, ObjectMeta, Preconditions};

/// The `source.component` of the agent's Events (the kubelet's name, which tools filter on).
pub const COMPONENT: &str = "kubelet";

/// The pod verbs a worker uses.
pub trait PodApi: Send + Sync + 'static {
    /// Writes `pod`'s status (unconditionally: the agent owns it).
    fn update_status(&self, pod: Pod) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Deletes the pod with grace 0, only if it is still the one with this UID.
    fn confirm_deletion(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;
    /// Records an Event about `pod` (`kind` Normal or Warning) from node `node`.
    fn record_event(
        &self,
        pod: &Pod,
        node: &str,
        kind: &str,
        reason: &str,
        message: &str,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;
}

/// The Event the agent writes about `pod`.
pub fn pod_event(pod: &Pod, node: &str, kind: &str, reason: &str, message: &str) -> Event {
    let meta = pod.metadata.clone().unwrap_or_default();
    let now = podium_proto::now();
    let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    Event {
        metadata: Some(ObjectMeta {
            name: format!("{}.{stamp:x}", meta.name),
            namespace: meta.namespace.clone(),
            ..Default::default()
        }),
        involved_object: Some(ObjectReference {
            kind: "Pod".into(),
            namespace: meta.namespace,
            name: meta.name,
            uid: meta.uid,
            api_version: "v1".into(),
            ..Default::default()
        }),
        reason: reason.into(),
        message: message.into(),
        source: Some(EventSource {
            component: COMPONENT.into(),
            host: node.into(),
        }),
        first_timestamp: Some(now),
        last_timestamp: Some(now),
        count: 1,
        r#type: kind.into(),
        reporting_component: COMPONENT.into(),
        reporting_instance: node.into(),
        ..Default::default()
    }
}

impl PodApi for Client {
    async fn update_status(&self, mut pod: Pod) -> Result<(), ClientError> {
        let namespace = pod.metadata.as_ref().map(|m| m.namespace.clone()).unwrap_or_default();
        if let Some(m) = pod.metadata.as_mut() {
            m.resource_version.clear();
        }
        self.resource::<Pod>(&namespace).update_status(pod).await.map(drop)
    }

    async fn confirm_deletion(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ClientError> {
        let options = DeleteOptions {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..Default::default()
        };
        self.resource::<Pod>(namespace).delete(name, options).await.map(drop)
    }

    async fn record_event(
        &self,
        pod: &Pod,
        node: &str,
        kind: &str,
        reason: &str,
        message: &str,
    ) -> Result<(), ClientError> {
        let event = pod_event(pod, node, kind, reason, message);
        let namespace = event.metadata.as_ref().map(|m| m.namespace.clone()).unwrap_or_default();
        self.resource::<Event>(&namespace).create(event).await.map(drop)
    }
}
