//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, reproducing Kubernetes v1.32's
//! printers (`pkg/printers/internalversion/printers.go`). Without it kubectl shows only NAME
//! and AGE.
//!
//! Start at [`table`]: it turns objects of any [`Printable`] kind into a [`Table`], carrying each
//! object in its row as [`IncludeObject`] (the `includeObject` query parameter) asks. Each kind's
//! columns and cells live in a file named after it; `pod.rs` holds kubectl's pod STATUS logic,
//! the one subtle printer. `duration` is `HumanDuration`, the format of every age.
//!
//! Like the apiserver, this always prints every column, wide ones included (priority 1):
//! kubectl drops them itself unless given `-o wide`. Ages are relative to the `now` the caller
//! passes, so tests pin it.

mod duration;
mod event;
mod lease;
mod namespace;
mod node;
mod pod;
mod priorityclass;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use podium_proto::k8s::meta::v1::ListMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ApiError, Cause};
use crate::resource::Resource;

pub use duration::human_duration;
pub use node::{node_roles, node_status};
pub use pod::PodSummary;

/// The API version of `Table` and `PartialObjectMetadata`.
pub const API_VERSION: &str = "meta.k8s.io/v1";

/// `metav1.ObjectMeta`'s description of `name`, shared by every Name column.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although \
    some resources may allow a client to request the generation of an appropriate name automatically. Name is \
    primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// `metav1.ObjectMeta`'s description of `creationTimestamp`, shared by every Age column.
const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when \
    this object was created. It is not guaranteed to be set in happens-before order across separate operations. \
    Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. \
    Read-only. Null for lists. More info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// A `meta.k8s.io/v1` Table: column definitions and one row of cells per object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Always "Table".
    pub kind: String,
    /// Always "meta.k8s.io/v1".
    pub api_version: String,
    /// The list's resourceVersion and continue token; the caller fills them in.
    #[serde(default)]
    pub metadata: ListMeta,
    /// Kubernetes sends `null` here for the second and later events of a watch.
    #[serde(default, deserialize_with = "podium_proto::json::null_as_default")]
    pub column_definitions: Vec<TableColumnDefinition>,
    #[serde(default, deserialize_with = "podium_proto::json::null_as_default")]
    pub rows: Vec<TableRow>,
}

/// One column: kubectl prints `name` upper-cased as the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableColumnDefinition {
    pub name: String,
    /// An OpenAPI type: "string", "integer", "number" or "boolean".
    #[serde(rename = "type")]
    pub r#type: String,
    /// An OpenAPI format; "name" marks the column `-o name` and sorting use as the object name.
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub description: String,
    /// 0 for the default columns, 1 for those kubectl shows only with `-o wide`.
    #[serde(default)]
    pub priority: i32,
}

impl TableColumnDefinition {
    pub fn new(name: &str, r#type: &str, description: &str) -> Self {
        TableColumnDefinition {
            name: name.to_owned(),
            r#type: r#type.to_owned(),
            format: String::new(),
            description: description.to_owned(),
            priority: 0,
        }
    }

    pub fn with_format(mut self, format: &str) -> Self {
        self.format = format.to_owned();
        self
    }

    /// A column kubectl shows only with `-o wide`.
    pub fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }
}

/// One object's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// One value per column: strings, integers or booleans.
    pub cells: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TableRowCondition>,
    /// A `PartialObjectMetadata`, the full object, or `null`, as [`IncludeObject`] says.
    #[serde(default)]
    pub object: Value,
}

/// A condition on a row. Kubernetes marks finished pods "Completed" so clients can tell them
/// apart without parsing the cells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRowCondition {
    #[serde(rename = "type")]
    pub r#type: String,
    /// True, False or Unknown.
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// What each row's `object` holds: the `includeObject` query parameter of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `null`.
    None,
    /// A `PartialObjectMetadata` with the object's metadata: what kubectl asks for by default.
    #[default]
    Metadata,
    /// The whole object, with its kind and apiVersion.
    Object,
}

impl IncludeObject {
    /// Parses `includeObject`; empty means the default, `Metadata`. An unknown value is a 400,
    /// as in Kubernetes.
    pub fn from_query(value: &str) -> Result<Self, ApiError> {
        match value {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => {
                let cause = Cause::not_supported("includeObject", other, &["Metadata", "None", "Object"]);
                Err(ApiError::bad_request(format!(
                    "Unable to convert to Table as requested: {}",
                    cause.message()
                )))
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IncludeObject::None => "None",
            IncludeObject::Metadata => "Metadata",
            IncludeObject::Object => "Object",
        }
    }
}

/// A kind Podium can print as table rows, as Kubernetes' printer for it does.
pub trait Printable: Resource {
    /// Every column, wide ones included, in the order [`Printable::cells`] fills them.
    fn columns() -> Vec<TableColumnDefinition>;

    /// One cell per column; ages are measured at `now`.
    fn cells(&self, now: DateTime<Utc>) -> Vec<Value>;

    /// The row's conditions; only finished pods have any.
    fn row_conditions(&self) -> Vec<TableRowCondition> {
        Vec::new()
    }
}

/// The Table for `items`, with empty list metadata: the caller sets `metadata` to the list's
/// resourceVersion and continue token. A watch event carries a one-item Table.
pub fn table<K: Printable>(items: &[K], include: IncludeObject, now: DateTime<Utc>) -> Table {
    Table {
        kind: "Table".to_owned(),
        api_version: API_VERSION.to_owned(),
        metadata: ListMeta::default(),
        column_definitions: K::columns(),
        rows: items.iter().map(|item| row(item, include, now)).collect(),
    }
}

/// One object's row.
pub fn row<K: Printable>(item: &K, include: IncludeObject, now: DateTime<Utc>) -> TableRow {
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => partial_object_metadata(item),
        IncludeObject::Object => {
            let mut full = item.clone();
            full.set_type_meta();
            // Only a timestamp out of JSON's range fails, and the plain list would fail too.
            serde_json::to_value(&full).unwrap_or(Value::Null)
        }
    };
    TableRow {
        cells: item.cells(now),
        conditions: item.row_conditions(),
        object,
    }
}

/// The object's metadata as a `meta.k8s.io/v1` `PartialObjectMetadata`.
pub fn partial_object_metadata<K: Resource>(item: &K) -> Value {
    let metadata = item
        .metadata()
        .and_then(|m| serde_json::to_value(m).ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": API_VERSION,
        "metadata": metadata,
    })
}

/// The Name column every printer starts with.
fn name_column() -> TableColumnDefinition {
    TableColumnDefinition::new("Name", "string", NAME_DESCRIPTION).with_format("name")
}

/// The Age column: how long ago the object was created.
fn age_column() -> TableColumnDefinition {
    TableColumnDefinition::new("Age", "string", CREATION_TIMESTAMP_DESCRIPTION)
}

/// The Age cell of an object.
fn age<K: Resource>(item: &K, now: DateTime<Utc>) -> Value {
    let created = duration::time(item.metadata().and_then(|m| m.creation_timestamp.as_ref()));
    Value::from(duration::since(created, now))
}
