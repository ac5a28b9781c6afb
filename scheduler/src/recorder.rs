//! Events the scheduler reports (Scheduled, FailedScheduling, Preempted), de-duplicated by
//! counting: a repeat of the same reason and message about the same object bumps the count
//! of the existing Event instead of creating another.

use std::collections::HashMap;

use parking_lot::Mutex;
use podium_client::Client;
use podium_proto::k8s::core::v1::{Event, EventSource, ObjectReference, Pod};
use podium_proto::k8s::meta::v1::ObjectMeta;

/// The component name Events carry, as kube-scheduler's.
pub const COMPONENT: &str = "default-scheduler";

/// How many recent Events are remembered for counting repeats.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub struct Recorder {
    client: Client,
    instance: String,
    /// (object uid, reason, message) → the Event's name.
    seen: Mutex<HashMap<(String, String, String), String>>,
}

impl Recorder {
    pub fn new(client: Client, instance: String) -> Self {
        Recorder {
            client,
            instance,
            seen: Mutex::default(),
        }
    }

    /// Records an event about a pod; failures are logged, never fatal.
    pub async fn pod_event(&self, pod: &Pod, kind: &str, reason: &str, message: &str) {
        let meta = pod.metadata.clone().unwrap_or_default();
        let key = (meta.uid.clone(), reason.to_owned(), message.to_owned());
        let events = self.client.resource::<Event>(&meta.namespace);
        let existing = self.seen.lock().get(&key).cloned();
        let now = podium_proto::now();
        if let Some(name) = existing
            && let Ok(Some(mut event)) = events.get_opt(&name).await
        {
            event.count = event.count.max(1) + 1;
            event.last_timestamp = Some(now);
            if events.update(event).await.is_ok() {
                return;
            }
        }
        let name = format!("{}.{:x}", meta.name, rand::random::<u64>());
        let event = Event {
            metadata: Some(ObjectMeta {
                name: name.clone(),
                namespace: meta.namespace.clone(),
                ..Default::default()
            }),
            involved_object: Some(ObjectReference {
                kind: "Pod".into(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone(),
                uid: meta.uid.clone(),
                api_version: "v1".into(),
                resource_version: meta.resource_version.clone(),
                ..Default::default()
            }),
            reason: reason.into(),
            message: message.into(),
            source: Some(EventSource {
                component: COMPONENT.into(),
                ..Default::default()
            }),
            first_timestamp: Some(now),
            last_timestamp: Some(now),
            count: 1,
            r#type: kind.into(),
            reporting_component: COMPONENT.into(),
            reporting_instance: self.instance.clone(),
            ..Default::default()
        };
        match events.create(event).await {
            Ok(_) => {
                let mut seen = self.seen.lock();
                if seen.len() >= MAX_REMEMBERED {
                    // Forgetting only means a later repeat starts a new Event instead of counting.
                    seen.clear();
                }
                seen.insert(key, name);
            }
            Err(e) => tracing::debug!(error = %e, reason, "recording an event failed"),
        }
    }
}
