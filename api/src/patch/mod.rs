//! Kubernetes' PATCH semantics on JSON documents: the four patch types a client may send.
//!
//! The apiserver serialises the live object to JSON, calls [`apply_patch`] with the request's
//! patch type (from its `Content-Type`, see [`PatchType::from_content_type`]) and body, and
//! decodes the result back into the object. Start at [`apply_patch`]; each patch type lives in
//! its own file:
//! - `json`: RFC 6902 JSON Patch (`application/json-patch+json`), through the `json-patch` crate.
//! - `merge`: RFC 7386 JSON Merge Patch (`application/merge-patch+json`), what
//!   `kubectl label` and `kubectl annotate` send.
//! - `strategic`: Kubernetes' strategic merge patch (`application/strategic-merge-patch+json`),
//!   what `kubectl apply` and `kubectl patch` send, with its `$patch`, `$setElementOrder`,
//!   `$retainKeys` and `$deleteFromPrimitiveList` directives.
//! - `schema`: the per-kind table of list merge strategies and merge keys the strategic merge
//!   patch follows.
//!
//! Server-side apply (`application/apply-patch+yaml`) is refused with 415. Everything here is
//! pure, and no input panics: a patch that cannot be read is a 400, one that cannot be applied to
//! this object is a 422, as Kubernetes answers.

mod json;
mod merge;
mod schema;
mod strategic;

#[cfg(test)]
mod tests;

use podium_proto::k8s::meta::v1::{StatusCause, StatusDetails};
use serde_json::Value;

use crate::error::ApiError;

/// How a PATCH body is to be read, named after its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json`: a list of RFC 6902 operations.
    Json,
    /// `application/merge-patch+json`: an RFC 7386 merge patch.
    Merge,
    /// `application/strategic-merge-patch+json`: Kubernetes' strategic merge patch.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply, which this server does not implement.
    Apply,
}

impl PatchType {
    /// The patch type of a request's `Content-Type`, ignoring parameters such as `charset`.
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        [
            PatchType::Json,
            PatchType::Merge,
            PatchType::StrategicMerge,
            PatchType::Apply,
        ]
        .into_iter()
        .find(|t| t.content_type().eq_ignore_ascii_case(media_type))
    }

    /// The media type that selects this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Applies `patch` to `original`, an object of the given kind (`Pod`, `Node`, `Namespace` or any
/// other), and returns the patched document.
///
/// `kind` only matters to the strategic merge patch, which follows that kind's list merge rules
/// (kinds without rules get plain merge semantics, plus `ObjectMeta`'s). The original is never
/// modified. Errors are what Kubernetes answers: 400 BadRequest for a body that cannot be read,
/// 422 Invalid for a patch that does not apply to this object, 413 for a JSON patch of too many
/// operations and 415 for server-side apply.
pub fn apply_patch(kind: &str, patch_type: PatchType, original: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let patched = match patch_type {
        PatchType::Json => json::apply(original, patch),
        PatchType::Merge => merge::apply(original, patch),
        PatchType::StrategicMerge => strategic::apply(kind, original, patch),
        PatchType::Apply => Err(PatchError::Unsupported(
            "server-side apply (application/apply-patch+yaml) is not supported by this server: \
             use client-side apply (kubectl apply without --server-side)"
                .into(),
        )),
    };
    patched.map_err(ApiError::from)
}

/// Why a patch failed, before it is rendered as a Kubernetes `Status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatchError {
    /// The body cannot be read as a patch of its type: 400 BadRequest.
    #[error("{0}")]
    Malformed(String),
    /// The patch is readable but does not apply to this object: 422 Invalid, naming the field.
    #[error("{message}")]
    Inapplicable { field: String, message: String },
    /// A JSON patch of more operations than Kubernetes accepts: 413 RequestEntityTooLarge.
    #[error("{0}")]
    TooLarge(String),
    /// A patch type this server does not implement: 415 UnsupportedMediaType.
    #[error("{0}")]
    Unsupported(String),
}

pub(crate) type Result<T, E = PatchError> = std::result::Result<T, E>;

impl PatchError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PatchError::Malformed(message.into())
    }

    pub(crate) fn inapplicable(field: impl Into<String>, message: impl Into<String>) -> Self {
        PatchError::Inapplicable {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<PatchError> for ApiError {
    fn from(error: PatchError) -> Self {
        match error {
            PatchError::Malformed(message) => ApiError::bad_request(message),
            // Kubernetes' reply to a patch that does not apply carries the detail as a cause, which
            // kubectl prints as `The request is invalid: * <field>: <message>`.
            PatchError::Inapplicable { field, message } => {
                let details = StatusDetails {
                    causes: vec![StatusCause {
                        reason: "FieldValueInvalid".into(),
                        message: message.clone(),
                        field,
                    }],
                    ..Default::default()
                };
                ApiError::new(422, "Invalid", message, Some(details))
            }
            PatchError::TooLarge(message) => ApiError::new(413, "RequestEntityTooLarge", message, None),
            PatchError::Unsupported(message) => ApiError::new(415, "UnsupportedMediaType", message, None),
        }
    }
}

/// The JSON type of a value, as messages name it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut short so a large patch does not make a large error.
pub(crate) fn excerpt(value: &impl serde::Serialize) -> String {
    const MAX: usize = 200;
    let mut text = serde_json::to_string(value).unwrap_or_default();
    if text.len() > MAX {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
