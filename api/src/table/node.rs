//! Nodes: Kubernetes' `printNode`. STATUS comes from the Ready condition alone ("Ready",
//! "NotReady", or "Unknown" before the kubelet has reported), with ",SchedulingDisabled" for a
//! cordoned node; ROLES from the `node-role.kubernetes.io/<role>` and `kubernetes.io/role`
//! labels.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use podium_proto::k8s::core::v1::Node;
use serde_json::Value;

use super::{Printable, TableColumnDefinition, age, age_column, name_column};
use crate::Resource;

/// A label `node-role.kubernetes.io/<role>` gives the node that role, whatever its value.
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The older form: `kubernetes.io/role=<role>`.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

impl Printable for Node {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            TableColumnDefinition::new("Status", "string", "The status of the node"),
            TableColumnDefinition::new("Roles", "string", "The roles of the node"),
            age_column(),
            TableColumnDefinition::new("Version", "string", "Kubelet Version reported by the node."),
            TableColumnDefinition::new("Internal-IP", "string", ADDRESSES_DESCRIPTION).wide(),
            TableColumnDefinition::new("External-IP", "string", ADDRESSES_DESCRIPTION).wide(),
            TableColumnDefinition::new(
                "OS-Image",
                "string",
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            )
            .wide(),
            TableColumnDefinition::new(
                "Kernel-Version",
                "string",
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            )
            .wide(),
            TableColumnDefinition::new(
                "Container-Runtime",
                "string",
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            )
            .wide(),
        ]
    }

    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let info = self
            .status
            .as_ref()
            .and_then(|s| s.node_info.clone())
            .unwrap_or_default();
        let roles = node_roles(self);
        vec![
            Value::from(self.name()),
            Value::from(node_status(self)),
            Value::from(if roles.is_empty() {
                "<none>".to_owned()
            } else {
                roles.join(",")
            }),
            age(self, now),
            Value::from(info.kubelet_version),
            Value::from(address(self, "InternalIP")),
            Value::from(address(self, "ExternalIP")),
            Value::from(or_unknown(info.os_image)),
            Value::from(or_unknown(info.kernel_version)),
            Value::from(or_unknown(info.container_runtime_version)),
        ]
    }
}

/// `NodeStatus.addresses`' description, shared by both IP columns.
const ADDRESSES_DESCRIPTION: &str = "List of addresses reachable to the node. Queried from cloud provider, if \
    available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is \
    declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is \
    merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. \
    Consumers should assume that addresses can change during the lifetime of a Node. However, there are some \
    exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or \
    consumers of the downward API (status.hostIP).";

/// The STATUS column: "Ready", "NotReady" or "Unknown", then ",SchedulingDisabled" when the
/// node is cordoned.
pub fn node_status(node: &Node) -> String {
    // As in Kubernetes, a repeated Ready condition counts by its last occurrence.
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().rev().find(|c| c.r#type == "Ready"));
    let mut status = match ready {
        Some(c) if c.status == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node.spec.as_ref().is_some_and(|s| s.unschedulable) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// The node's roles, sorted and without repeats.
pub fn node_roles(node: &Node) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for (key, value) in node.labels().into_iter().flatten() {
        if let Some(role) = key.strip_prefix(NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_owned());
            }
        } else if key == NODE_ROLE_LABEL && !value.is_empty() {
            roles.insert(value.clone());
        }
    }
    roles.into_iter().collect()
}

/// The first address of this type, or "<none>".
fn address(node: &Node, r#type: &str) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.iter().find(|a| a.r#type == r#type))
        .map_or_else(|| "<none>".to_owned(), |a| a.address.clone())
}

fn or_unknown(value: String) -> String {
    if value.is_empty() {
        "<unknown>".to_owned()
    } else {
        value
    }
}
