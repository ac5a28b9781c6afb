//! Label and field selectors: how list and watch requests (and controllers, and the
//! scheduler) say which objects they want.
//!
//! - [`label`]: label selectors (`app=web,tier in (a,b),!canary`), Kubernetes'
//!   `k8s.io/apimachinery/pkg/labels`.
//! - [`field`]: field selectors (`spec.nodeName=n1,status.phase!=Failed`), Kubernetes'
//!   `k8s.io/apimachinery/pkg/fields`.
//!
//! Both parse to a conjunction of requirements, match without IO, print their canonical
//! string, and expose the value an equality term pins (`exact_match_value`) so stores can use
//! an index. The empty string parses to the selector that matches everything.

pub mod field;
pub mod label;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, FieldSelectorError};
pub use label::{LabelSelector, LabelSelectorError, Labels, MatchExpression, Operator, Requirement};
