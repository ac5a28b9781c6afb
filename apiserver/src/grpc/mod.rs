//! The gRPC face: one tonic service per kind, each a thin translation onto `registry::Api`.
//!
//! Errors become `tonic::Status` once, here: the gRPC code follows the HTTP code, the message
//! is Kubernetes' message, and the details carry the protobuf-encoded `k8s.meta.v1.Status` so
//! a client recovers the exact reason and causes.

mod services;

use podium_api::ApiError;
use prost::Message;
use tonic::Code;

pub use services::{GrpcApi, routes};

/// The gRPC code for a Kubernetes HTTP status code.
pub fn code_for(http: i32) -> Code {
    match http {
        400 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 | 415 => Code::Unimplemented,
        409 => Code::Aborted,
        410 => Code::OutOfRange,
        413 | 429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

/// Renders an API error for gRPC; `podium_client` turns it back into the same `ApiError`.
pub fn to_grpc(err: ApiError) -> tonic::Status {
    let code = if err.reason() == "AlreadyExists" {
        Code::AlreadyExists
    } else {
        code_for(err.code())
    };
    let details = err.status.encode_to_vec();
    tonic::Status::with_details(
        code,
        format!("{}: {}", err.reason(), err.status.message),
        details.into(),
    )
}
