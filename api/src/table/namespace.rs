//! Namespaces: Kubernetes' `printNamespace`: the phase (Active or Terminating) and age.

use chrono::{DateTime, Utc};
use podium_proto::k8s::core::v1::Namespace;
use serde_json::Value;

use super::{Printable, TableColumnDefinition, age, age_column, name_column};
use crate::Resource;

impl Printable for Namespace {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            TableColumnDefinition::new("Status", "string", "The status of the namespace"),
            age_column(),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let phase = self.status.as_ref().map_or("", |s| s.phase.as_str());
        vec![Value::from(self.name()), Value::from(phase), age(self, now)]
    }
}
