//! What a pod worker asks of the apiserver, behind a trait so its tests can stand in for it.

use std::future::Future;

use podium_client::{Client, ClientError};
use podium_proto::k8s::core::v1::Pod;
use podium_proto::k8s::meta::v1::{DeleteOptions, Preconditions};

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
}
