//! Leases: Kubernetes' `printLease`: who holds the lease, and its age.

use chrono::{DateTime, Utc};
use podium_proto::k8s::coordination::v1::Lease;
use serde_json::Value;

use super::{Printable, TableColumnDefinition, age, age_column, name_column};
use crate::Resource;

impl Printable for Lease {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            TableColumnDefinition::new(
                "Holder",
                "string",
                "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader \
                 Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name \
                 field.",
            ),
            age_column(),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let holder = self
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            .unwrap_or("");
        vec![Value::from(self.name()), Value::from(holder), age(self, now)]
    }
}
