//! Events (core/v1): Kubernetes' `printEvent`.
//!
//! Last Seen falls back to First Seen, and First Seen to `eventTime`, so events written through
//! events.k8s.io (which set only eventTime) still show an age; a series' last observation and
//! count win over the deprecated fields. Object is "<kind>/<name>" with the kind lower-cased.

use chrono::{DateTime, Utc};
use podium_proto::k8s::core::v1::{Event, ObjectReference};
use serde_json::Value;

use super::duration::{micro_time, since, time};
use super::{Printable, TableColumnDefinition, name_column};

impl Printable for Event {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            TableColumnDefinition::new(
                "Last Seen",
                "string",
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            TableColumnDefinition::new(
                "Type",
                "string",
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            TableColumnDefinition::new(
                "Reason",
                "string",
                "This should be a short, machine understandable string that gives the reason for the transition \
                 into the object's current status.",
            ),
            TableColumnDefinition::new("Object", "string", "The object that this event is about."),
            TableColumnDefinition::new(
                "Subobject",
                "string",
                "If referring to a piece of an object instead of an entire object, this string should contain a \
                 valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if \
                 the object reference is to a container within a pod, this would take on a value like: \
                 \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the \
                 event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this \
                 pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
            )
            .wide(),
            TableColumnDefinition::new(
                "Source",
                "string",
                "The component reporting this event. Should be a short machine understandable string.",
            )
            .wide(),
            TableColumnDefinition::new(
                "Message",
                "string",
                "A human-readable description of the status of this operation.",
            ),
            TableColumnDefinition::new(
                "First Seen",
                "string",
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            )
            .wide(),
            // A string column with an integer cell, as in Kubernetes.
            TableColumnDefinition::new("Count", "string", "The number of times this event has occurred.").wide(),
            name_column().wide(),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let first_seen = match time(self.first_timestamp.as_ref()) {
            Some(first) => since(Some(first), now),
            None => since(micro_time(self.event_time.as_ref()), now),
        };
        let mut last_seen = match time(self.last_timestamp.as_ref()) {
            Some(last) => since(Some(last), now),
            None => first_seen.clone(),
        };
        let mut count = self.count;
        if let Some(series) = &self.series {
            last_seen = since(micro_time(series.last_observed_time.as_ref()), now);
            count = series.count;
        } else if count == 0 {
            // Events written through events.k8s.io without a series happened once.
            count = 1;
        }
        let default_object = ObjectReference::default();
        let object = self.involved_object.as_ref().unwrap_or(&default_object);
        let source = self.source.clone().unwrap_or_default();
        vec![
            Value::from(last_seen),
            Value::from(self.r#type.as_str()),
            Value::from(self.reason.as_str()),
            Value::from(target(object)),
            Value::from(object.field_path.as_str()),
            Value::from(event_source(
                first_non_empty(&source.component, &self.reporting_component),
                first_non_empty(&source.host, &self.reporting_instance),
            )),
            Value::from(self.message.trim()),
            Value::from(first_seen),
            Value::from(i64::from(count)),
            Value::from(crate::Resource::name(self)),
        ]
    }
}

/// The Object column: "pod/web", or just the kind when the reference has no name.
fn target(object: &ObjectReference) -> String {
    let kind = object.kind.to_lowercase();
    if object.name.is_empty() {
        kind
    } else {
        format!("{kind}/{}", object.name)
    }
}

/// The Source column: "kubelet, node-1", or only the component when there is no host.
fn event_source(component: &str, instance: &str) -> String {
    if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    }
}

fn first_non_empty<'a>(first: &'a str, second: &'a str) -> &'a str {
    if first.is_empty() { second } else { first }
}
