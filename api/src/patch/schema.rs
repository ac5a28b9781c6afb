//! What the strategic merge patch knows about the object model: Kubernetes' `patchStrategy` and
//! `patchMergeKey` struct tags, written down as one table.
//!
//! Kubernetes reads these tags from its Go types (`k8s.io/api/core/v1/types.go`) by reflection.
//! Here each row names a field as `Type.field`, where `Type` is a Kubernetes type name (a kind
//! such as `Pod`, or a nested type such as `PodSpec` or `Container`), and says how a patch treats
//! that field and which type its value (or, for a list, each element) has. A field missing from
//! the table has no strategy: maps merge key by key and lists are replaced whole. Adding a field
//! is one row.

/// Kubernetes' `patchStrategy` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No tag: a map merges key by key, a list is replaced whole.
    Plain,
    /// `merge`: a list of maps merges with the live list element by element, matched by the merge
    /// key; a list of primitives merges as a set.
    Merge,
    /// `merge,retainKeys`: merged like `Merge`; the tag tells clients to send `$retainKeys` in each
    /// element (the server honours `$retainKeys` wherever it appears, as Kubernetes does).
    MergeRetainKeys,
}

use Strategy::{Merge, MergeRetainKeys, Plain};

/// The table: `(Type.field, strategy, merge key, type of the value or of each list element)`.
///
/// A merge key of `""` on a `Merge` list means a list of primitives (merged as a set). A type of
/// `""` means the value has no rows of its own. `Object` is the type of every kind without rows
/// of its own: all kinds share `ObjectMeta`, whose finalizers and owner references merge.
/// Rows with `Plain` change nothing; they record that Kubernetes replaces those lists, so no
/// one adds them as merge lists by mistake.
const FIELDS: &[(&str, Strategy, &str, &str)] = &[
    ("Object.metadata", Plain, "", "ObjectMeta"),
    ("ObjectMeta.finalizers", Merge, "", ""),
    ("ObjectMeta.ownerReferences", Merge, "uid", ""),
    // Pod.
    ("Pod.metadata", Plain, "", "ObjectMeta"),
    ("Pod.spec", Plain, "", "PodSpec"),
    ("Pod.status", Plain, "", "PodStatus"),
    ("PodSpec.volumes", MergeRetainKeys, "name", ""),
    ("PodSpec.initContainers", Merge, "name", "Container"),
    ("PodSpec.containers", Merge, "name", "Container"),
    ("PodSpec.ephemeralContainers", Merge, "name", "Container"),
    ("PodSpec.imagePullSecrets", Merge, "name", ""),
    ("PodSpec.hostAliases", Merge, "ip", ""),
    ("PodSpec.topologySpreadConstraints", Merge, "topologyKey", ""),
    ("PodSpec.schedulingGates", Merge, "name", ""),
    ("PodSpec.resourceClaims", MergeRetainKeys, "name", ""),
    ("PodSpec.tolerations", Plain, "", ""),
    ("PodSpec.readinessGates", Plain, "", ""),
    ("Container.ports", Merge, "containerPort", ""),
    ("Container.env", Merge, "name", ""),
    ("Container.envFrom", Plain, "", ""),
    ("Container.volumeMounts", Merge, "mountPath", ""),
    ("Container.volumeDevices", Merge, "devicePath", ""),
    ("Container.resources", Plain, "", "ResourceRequirements"),
    ("ResourceRequirements.claims", Plain, "", ""),
    ("PodStatus.conditions", Merge, "type", ""),
    ("PodStatus.podIPs", Merge, "ip", ""),
    ("PodStatus.hostIPs", Merge, "ip", ""),
    ("PodStatus.resourceClaimStatuses", MergeRetainKeys, "name", ""),
    ("PodStatus.containerStatuses", Plain, "", ""),
    // Node.
    ("Node.metadata", Plain, "", "ObjectMeta"),
    ("Node.spec", Plain, "", "NodeSpec"),
    ("Node.status", Plain, "", "NodeStatus"),
    ("NodeSpec.podCIDRs", Merge, "", ""),
    ("NodeSpec.taints", Plain, "", ""),
    ("NodeStatus.conditions", Merge, "type", ""),
    ("NodeStatus.addresses", Merge, "type", ""),
    ("NodeStatus.images", Plain, "", ""),
    // Namespace.
    ("Namespace.metadata", Plain, "", "ObjectMeta"),
    ("Namespace.spec", Plain, "", "NamespaceSpec"),
    ("Namespace.status", Plain, "", "NamespaceStatus"),
    ("NamespaceSpec.finalizers", Plain, "", ""),
    ("NamespaceStatus.conditions", Merge, "type", ""),
];

/// How a patch treats one field. The merge key is borrowed: from the table, or from a patch
/// when the strategic merge patch learns it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub strategy: Strategy,
    /// The key list elements are matched by; empty for a list of primitives or no merge.
    pub merge_key: &'a str,
    /// Where to look up the fields inside the value (or inside each element of a list).
    pub schema: Schema,
}

impl Field<'_> {
    /// A field the table does not know: no strategy, nothing known below it.
    pub const UNKNOWN: Field<'static> = Field {
        strategy: Strategy::Plain,
        merge_key: "",
        schema: Schema(None),
    };

    /// Whether a list in this field merges with the live list rather than replacing it.
    pub fn merges(&self) -> bool {
        matches!(self.strategy, Strategy::Merge | Strategy::MergeRetainKeys)
    }
}

/// A position in the object model: the Kubernetes type of a map, or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schema(Option<&'static str>);

impl Schema {
    /// The schema of a whole object of this kind; kinds without rows of their own get `Object`.
    pub fn for_kind(kind: &str) -> Schema {
        let own = FIELDS
            .iter()
            .filter_map(|(path, ..)| path.split_once('.').map(|(ty, _)| ty))
            .find(|ty| *ty == kind);
        Schema(Some(own.unwrap_or("Object")))
    }

    /// The field `name` of this type, or `None` if the table does not know it.
    pub fn field(self, name: &str) -> Option<Field<'static>> {
        let ty = self.0?;
        FIELDS.iter().find_map(|&(path, strategy, merge_key, schema)| {
            (path.split_once('.') == Some((ty, name))).then_some(Field {
                strategy,
                merge_key,
                schema: Schema((!schema.is_empty()).then_some(schema)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_well_formed() {
        for (path, strategy, merge_key, schema) in FIELDS {
            let (ty, field) = path.split_once('.').unwrap();
            assert!(!ty.is_empty() && !field.is_empty() && !field.contains('.'), "{path}");
            if !merge_key.is_empty() {
                assert!(
                    matches!(strategy, Merge | MergeRetainKeys),
                    "{path} has a key but no merge"
                );
            }
            if !schema.is_empty() {
                let known = FIELDS
                    .iter()
                    .any(|(p, ..)| p.split_once('.').map(|(t, _)| t) == Some(schema));
                assert!(known, "{path} refers to {schema}, which has no rows");
            }
            let duplicates = FIELDS.iter().filter(|(p, ..)| p == path).count();
            assert_eq!(duplicates, 1, "{path} appears twice");
        }
    }

    #[test]
    fn lookups() {
        let pod = Schema::for_kind("Pod");
        let spec = pod.field("spec").unwrap().schema;
        let containers = spec.field("containers").unwrap();
        assert_eq!((containers.strategy, containers.merge_key), (Merge, "name"));
        let ports = containers.schema.field("ports").unwrap();
        assert_eq!(ports.merge_key, "containerPort");
        assert_eq!(spec.field("tolerations").unwrap().strategy, Plain);
        assert_eq!(spec.field("nodeName"), None);

        let lease = Schema::for_kind("Lease");
        let meta = lease.field("metadata").unwrap().schema;
        assert!(meta.field("finalizers").unwrap().merges());
        assert_eq!(lease.field("spec"), None);
        assert_eq!(Schema(None).field("metadata"), None);
    }
}
