//! Kubernetes API semantics, with no IO: what the apiserver applies to every object on the way
//! in, whichever face (gRPC or REST) it came through, and what the scheduler and agent share.
//!
//! # Layout
//! - `selector`: label and field selectors (parse, print, match).
//! - `quantity`: resource quantities ("100m", "1Gi") with exact arithmetic.
//! - `names`: Kubernetes' name, label and annotation syntax rules and their messages.
//! - `patch`: PATCH semantics: JSON patch, merge patch, strategic merge patch, per kind.
//! - `pod`: the Pod's API rules: defaults, validation, update rules and its QoS class.
//! - `resource`: the `Resource` trait: each kind's names, scope, metadata and list type.
//! - `schema`: which JSON fields the object model declares (strict field validation).
//! - `table`: server-side printing: the `meta.k8s.io/v1` Table `kubectl get` shows, per kind.
//! - `error`: `ApiError`, a Kubernetes `Status` failure, and `Cause` for one invalid field.

pub mod error;
pub mod names;
pub mod patch;
pub mod pod;
pub mod quantity;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod table;

pub use error::{ApiError, Cause};
pub use resource::Resource;
pub mod strategy;

pub use strategy::Strategy;
