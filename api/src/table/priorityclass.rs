//! PriorityClasses: Kubernetes' `printPriorityClass`. Value is an integer cell and
//! Global-Default a boolean one; PreemptionPolicy (added in v1.32, after Age) shows the default,
//! PreemptLowerPriority, when unset.

use chrono::{DateTime, Utc};
use podium_proto::k8s::scheduling::v1::PriorityClass;
use serde_json::Value;

use super::{Printable, TableColumnDefinition, age, age_column, name_column};
use crate::Resource;

impl Printable for PriorityClass {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            TableColumnDefinition::new(
                "Value",
                "integer",
                "value represents the integer value of this priority class. This is the actual priority that pods \
                 receive when they have the name of this class in their pod spec.",
            ),
            TableColumnDefinition::new(
                "Global-Default",
                "boolean",
                "globalDefault specifies whether this PriorityClass should be considered as the default priority \
                 for pods that do not have any priority class. Only one PriorityClass can be marked as \
                 `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field \
                 set to true, the smallest value of such global default PriorityClasses will be used as the default \
                 priority.",
            ),
            age_column(),
            TableColumnDefinition::new(
                "PreemptionPolicy",
                "string",
                "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, \
                 PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
            ),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let policy = self.preemption_policy.as_deref().unwrap_or("PreemptLowerPriority");
        vec![
            Value::from(self.name()),
            Value::from(i64::from(self.value)),
            Value::from(self.global_default),
            age(self, now),
            Value::from(policy),
        ]
    }
}
