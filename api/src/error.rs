//! `ApiError`: a Kubernetes `Status` failure, the one error type every API face renders.
//!
//! Constructors follow the reasons and message wording of Kubernetes' `apierrors` package, so
//! kubectl and the Python client show users what they would see on Kubernetes.

use std::fmt;

use podium_proto::k8s::meta::v1::{ListMeta, Status, StatusCause, StatusDetails};

/// One invalid field: Kubernetes' `field.Error`, shown as a `StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate,
    /// FieldValueForbidden or FieldValueTooLong.
    pub reason: &'static str,
    pub field: String,
    /// The message after the field path, e.g. `Required value`.
    pub detail: String,
}

impl Cause {
    pub fn required(field: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueRequired",
            field: field.into(),
            detail: "Required value".into(),
        }
    }
    pub fn invalid(field: impl Into<String>, value: impl fmt::Display, detail: impl fmt::Display) -> Self {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            detail: format!("Invalid value: {}: {detail}", quote(value)),
        }
    }
    /// An invalid value that is not a string (printed bare, as Go prints numbers).
    pub fn invalid_number(field: impl Into<String>, value: impl fmt::Display, detail: impl fmt::Display) -> Self {
        Cause {
            reason: "FieldValueInvalid",
            field: field.into(),
            detail: format!("Invalid value: {value}: {detail}"),
        }
    }
    pub fn not_supported(field: impl Into<String>, value: impl fmt::Display, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Cause {
            reason: "FieldValueNotSupported",
            field: field.into(),
            detail: format!(
                "Unsupported value: {}: supported values: {}",
                quote(value),
                list.join(", ")
            ),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: impl fmt::Display) -> Self {
        Cause {
            reason: "FieldValueDuplicate",
            field: field.into(),
            detail: format!("Duplicate value: {}", quote(value)),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueForbidden",
            field: field.into(),
            detail: format!("Forbidden: {}", detail.into()),
        }
    }
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Cause {
            reason: "FieldValueTooLong",
            field: field.into(),
            detail: format!("Too long: may not be more than {max} bytes"),
        }
    }
    /// `field: detail`, as Kubernetes prints a field error.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.detail)
    }
}

fn quote(value: impl fmt::Display) -> String {
    format!("{:?}", value.to_string())
}

/// A failed API call, as Kubernetes reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// Boxed: errors travel through many `Result`s and should stay small.
    pub status: Box<Status>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.status.message)
    }
}

impl std::error::Error for ApiError {}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(code: i32, reason: &str, message: impl Into<String>, details: Option<StatusDetails>) -> Self {
        ApiError {
            status: Box::new(Status {
                kind: "Status".into(),
                api_version: "v1".into(),
                metadata: Some(ListMeta::default()),
                status: "Failure".into(),
                message: message.into(),
                reason: reason.into(),
                details,
                code,
            }),
        }
    }

    fn details(kind: &str, name: &str) -> Option<StatusDetails> {
        Some(StatusDetails {
            name: name.into(),
            kind: kind.into(),
            ..Default::default()
        })
    }

    /// `resource` is the plural with its group, e.g. `pods` or `leases.coordination.k8s.io`.
    pub fn not_found(resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{resource} \"{name}\" not found"),
            Self::details(resource, name),
        )
    }
    pub fn already_exists(resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{resource} \"{name}\" already exists"),
            Self::details(resource, name),
        )
    }
    pub fn conflict(resource: &str, name: &str, detail: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {resource} \"{name}\": {detail}"),
            Self::details(resource, name),
        )
    }
    /// The stale-resourceVersion conflict.
    pub fn modified(resource: &str, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }
    /// `kind` is the Kind (e.g. `Pod`), as Kubernetes words Invalid errors.
    pub fn invalid(kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes.iter().map(Cause::message).collect();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let details = StatusDetails {
            name: name.into(),
            kind: kind.into(),
            causes: causes
                .into_iter()
                .map(|c| StatusCause {
                    reason: c.reason.into(),
                    message: c.detail,
                    field: c.field,
                })
                .collect(),
            ..Default::default()
        };
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {joined}"),
            Some(details),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message, None)
    }
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message, None)
    }
    pub fn forbidden(resource: &str, name: &str, detail: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{resource} \"{name}\" is forbidden: {detail}"),
            Self::details(resource, name),
        )
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message, None)
    }
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
            None,
        )
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message, None)
    }
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message, None)
    }

    pub fn code(&self) -> i32 {
        self.status.code
    }
    pub fn reason(&self) -> &str {
        &self.status.reason
    }
    pub fn is_not_found(&self) -> bool {
        self.reason() == "NotFound"
    }
    pub fn is_conflict(&self) -> bool {
        self.reason() == "Conflict"
    }
    pub fn is_already_exists(&self) -> bool {
        self.reason() == "AlreadyExists"
    }
    pub fn is_expired(&self) -> bool {
        self.code() == 410
    }
}
