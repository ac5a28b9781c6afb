//! Field paths and the few `field.Error` shapes that `Cause` has no constructor for.
//!
//! Paths print as Kubernetes prints a `field.Path`: `spec.containers[0].resources.limits[cpu]`.
//! Values that Go prints with `%#v` (slices, maps, structs) are rendered here the same way, so
//! messages read as they do on Kubernetes.

use std::fmt;

use crate::error::Cause;

/// A field path, built like Kubernetes' `field.NewPath("spec").Child("containers").Index(0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Self {
        Path(root.to_owned())
    }
    pub fn child(&self, name: &str) -> Self {
        Path(format!("{}.{name}", self.0))
    }
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{key}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(path: &Path) -> String {
        path.0.clone()
    }
}

impl From<Path> for String {
    fn from(path: Path) -> String {
        path.0
    }
}

/// `field.Required(path, detail)` with a detail, which `Cause::required` does not take.
pub fn required(path: &Path, detail: &str) -> Cause {
    if detail.is_empty() {
        return Cause::required(path);
    }
    Cause {
        reason: "FieldValueRequired",
        field: path.into(),
        detail: format!("Required value: {detail}"),
    }
}

/// `field.NotFound(path, value)`.
pub fn not_found(path: &Path, value: &str) -> Cause {
    Cause {
        reason: "FieldValueNotFound",
        field: path.into(),
        detail: format!("Not found: {value:?}"),
    }
}

/// `field.Invalid` for a value Go prints with `%#v`; `rendered` is that rendering.
pub fn invalid_rendered(path: &Path, rendered: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: path.into(),
        detail: format!("Invalid value: {rendered}: {detail}"),
    }
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Go's `%#v` of a `map[string]string` (keys sorted, as Go's fmt prints maps).
pub fn go_string_map(map: &std::collections::BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("map[string]string{{{}}}", entries.join(", "))
}
