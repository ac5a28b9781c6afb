//! Errors on the REST face: every failure is a Kubernetes `Status` body with its HTTP code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use podium_api::ApiError;

/// An `ApiError` rendered as Kubernetes renders it: JSON `Status`, code from the status.
#[derive(Debug)]
pub struct RestError(pub ApiError);

impl From<ApiError> for RestError {
    fn from(err: ApiError) -> Self {
        RestError(err)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let code = u16::try_from(self.0.code())
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok());
        let code = code.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0.status).unwrap_or_default();
        let mut response = (code, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

pub type RestResult<T> = Result<T, RestError>;

/// Kubernetes' answer for a path it does not serve.
pub fn not_found() -> ApiError {
    let mut err = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
        None,
    );
    err.status.details = Some(Default::default());
    err
}

/// Kubernetes' answer for a method a path does not allow.
pub fn method_not_allowed() -> ApiError {
    let mut err = ApiError::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        None,
    );
    err.status.details = Some(Default::default());
    err
}
