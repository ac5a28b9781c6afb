//! What the apiserver, the client and the REST face need to know about each kind: its names,
//! its scope, its metadata and its list type.

use std::collections::BTreeMap;
use std::fmt::Debug;

use podium_proto::k8s::coordination::v1::{Lease, LeaseList};
use podium_proto::k8s::core::v1::{Event, EventList, Namespace, NamespaceList, Node, NodeList, Pod, PodList};
use podium_proto::k8s::meta::v1::{ListMeta, ObjectMeta};
use podium_proto::k8s::scheduling::v1::{PriorityClass, PriorityClassList};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A Kubernetes kind that Podium stores and serves.
pub trait Resource:
    prost::Message + Default + Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The list envelope of this kind.
    type List: prost::Message + Default + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    const KIND: &'static str;
    /// The full name of the kind's protobuf message, e.g. `k8s.core.v1.Pod`.
    const PROTO_NAME: &'static str;
    const LIST_KIND: &'static str;
    /// The API group; empty for core/v1.
    const GROUP: &'static str;
    const VERSION: &'static str;
    /// The lower-case plural used in paths and store keys ("pods").
    const PLURAL: &'static str;
    const SINGULAR: &'static str;
    const SHORT_NAMES: &'static [&'static str];
    const NAMESPACED: bool;
    /// Whether the kind has a status that only the status subresource writes.
    const HAS_STATUS: bool;
    /// The field selector fields this kind supports besides metadata.name/namespace.
    const SELECTABLE_FIELDS: &'static [&'static str];

    fn metadata(&self) -> Option<&ObjectMeta>;
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
    fn set_type_meta(&mut self);
    fn clear_type_meta(&mut self);
    /// The value of a field-selector field (`None` when unsupported).
    fn field(&self, field: &str) -> Option<String>;
    /// Moves `from`'s status into `self` (used to keep status out of main writes).
    fn take_status_from(&mut self, from: &mut Self);
    fn new_list(items: Vec<Self>, metadata: ListMeta) -> Self::List;
    fn list_items(list: Self::List) -> Vec<Self>;
    fn list_metadata(list: &Self::List) -> Option<&ListMeta>;

    /// "v1" or "group/version".
    fn api_version() -> String {
        if Self::GROUP.is_empty() {
            Self::VERSION.to_owned()
        } else {
            format!("{}/{}", Self::GROUP, Self::VERSION)
        }
    }
    fn name(&self) -> &str {
        self.metadata().map_or("", |m| m.name.as_str())
    }
    fn namespace(&self) -> &str {
        self.metadata().map_or("", |m| m.namespace.as_str())
    }
    fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.metadata().map(|m| &m.labels)
    }
    fn resource_version(&self) -> &str {
        self.metadata().map_or("", |m| m.resource_version.as_str())
    }
    fn uid(&self) -> &str {
        self.metadata().map_or("", |m| m.uid.as_str())
    }
    /// The value of any field selector field, including the common metadata ones.
    fn selectable_field(&self, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(self.name().to_owned()),
            "metadata.namespace" if Self::NAMESPACED => Some(self.namespace().to_owned()),
            _ => self.field(field),
        }
    }
    /// Every field a field selector on this kind may name.
    fn field_selector_fields() -> Vec<&'static str> {
        let mut fields = vec!["metadata.name"];
        if Self::NAMESPACED {
            fields.push("metadata.namespace");
        }
        fields.extend_from_slice(Self::SELECTABLE_FIELDS);
        fields
    }
}

macro_rules! resource {
    (
        $kind:ident, $list:ident, proto: $proto:literal, group: $group:literal, version: $version:literal,
        plural: $plural:literal, singular: $singular:literal, short: [$($short:literal),*],
        namespaced: $namespaced:literal, status: $has_status:tt,
        fields: [$($field:literal => |$o:ident| $value:expr),* $(,)?]
    ) => {
        impl Resource for $kind {
            type List = $list;
            const KIND: &'static str = stringify!($kind);
            const PROTO_NAME: &'static str = concat!($proto, ".", stringify!($kind));
            const LIST_KIND: &'static str = stringify!($list);
            const GROUP: &'static str = $group;
            const VERSION: &'static str = $version;
            const PLURAL: &'static str = $plural;
            const SINGULAR: &'static str = $singular;
            const SHORT_NAMES: &'static [&'static str] = &[$($short),*];
            const NAMESPACED: bool = $namespaced;
            const HAS_STATUS: bool = resource!(@has $has_status);
            const SELECTABLE_FIELDS: &'static [&'static str] = &[$($field),*];

            fn metadata(&self) -> Option<&ObjectMeta> {
                self.metadata.as_ref()
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                self.metadata.get_or_insert_with(Default::default)
            }
            fn set_type_meta(&mut self) {
                self.kind = Self::KIND.to_owned();
                self.api_version = Self::api_version();
            }
            fn clear_type_meta(&mut self) {
                self.kind.clear();
                self.api_version.clear();
            }
            #[allow(unused_variables)]
            fn field(&self, field: &str) -> Option<String> {
                match field {
                    $($field => { let $o = self; Some($value) })*
                    _ => None,
                }
            }
            #[allow(unused_variables)]
            fn take_status_from(&mut self, from: &mut Self) {
                resource!(@status self, from, $has_status);
            }
            fn new_list(items: Vec<Self>, metadata: ListMeta) -> $list {
                $list {
                    kind: stringify!($list).to_owned(),
                    api_version: Self::api_version(),
                    metadata: Some(metadata),
                    items,
                }
            }
            fn list_items(list: $list) -> Vec<Self> {
                list.items
            }
            fn list_metadata(list: &$list) -> Option<&ListMeta> {
                list.metadata.as_ref()
            }
        }
    };
    (@has status) => { true };
    (@has none) => { false };
    (@status $self:ident, $from:ident, status) => { $self.status = $from.status.take() };
    (@status $self:ident, $from:ident, none) => { () };
}

fn or_empty<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

resource!(Pod, PodList, proto: "k8s.core.v1", group: "", version: "v1", plural: "pods", singular: "pod", short: ["po"],
namespaced: true, status: status,
fields: [
    "spec.nodeName" => |p| or_empty(p.spec.as_ref().map(|s| &s.node_name)),
    "spec.schedulerName" => |p| or_empty(p.spec.as_ref().map(|s| &s.scheduler_name)),
    "spec.serviceAccountName" => |p| or_empty(p.spec.as_ref().map(|s| &s.service_account_name)),
    "spec.hostNetwork" => |p| p.spec.as_ref().is_some_and(|s| s.host_network).to_string(),
    "spec.restartPolicy" => |p| or_empty(p.spec.as_ref().map(|s| &s.restart_policy)),
    "status.phase" => |p| or_empty(p.status.as_ref().map(|s| &s.phase)),
    "status.podIP" => |p| or_empty(p.status.as_ref().map(|s| &s.pod_ip)),
    "status.nominatedNodeName" => |p| or_empty(p.status.as_ref().map(|s| &s.nominated_node_name)),
]);
resource!(Node, NodeList, proto: "k8s.core.v1", group: "", version: "v1", plural: "nodes", singular: "node", short: ["no"],
    namespaced: false, status: status,
    fields: ["spec.unschedulable" => |n| n.spec.as_ref().is_some_and(|s| s.unschedulable).to_string()]);
resource!(Namespace, NamespaceList, proto: "k8s.core.v1", group: "", version: "v1", plural: "namespaces", singular: "namespace", short: ["ns"],
    namespaced: false, status: status,
    fields: ["status.phase" => |n| or_empty(n.status.as_ref().map(|s| &s.phase))]);
resource!(Event, EventList, proto: "k8s.core.v1", group: "", version: "v1", plural: "events", singular: "event", short: ["ev"],
namespaced: true, status: none,
fields: [
    "involvedObject.kind" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.kind)),
    "involvedObject.namespace" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.namespace)),
    "involvedObject.name" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.name)),
    "involvedObject.uid" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.uid)),
    "involvedObject.apiVersion" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.api_version)),
    "involvedObject.resourceVersion" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.resource_version)),
    "involvedObject.fieldPath" => |e| or_empty(e.involved_object.as_ref().map(|o| &o.field_path)),
    "reason" => |e| e.reason.clone(),
    "reportingComponent" => |e| e.reporting_component.clone(),
    "source" => |e| or_empty(e.source.as_ref().map(|s| &s.component)),
    "type" => |e| e.r#type.clone(),
]);
resource!(Lease, LeaseList, proto: "k8s.coordination.v1", group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", short: [],
    namespaced: true, status: none, fields: []);
resource!(PriorityClass, PriorityClassList, proto: "k8s.scheduling.v1", group: "scheduling.k8s.io", version: "v1", plural: "priorityclasses",
    singular: "priorityclass", short: ["pc"], namespaced: false, status: none, fields: []);
