//! Watch over HTTP: one JSON watch event per line on a chunked response, as Kubernetes
//! streams them; a too-old resourceVersion is an ERROR event carrying a 410 Status.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use podium_api::table::IncludeObject;
use serde_json::{Value, json};

use super::error::RestResult;
use super::resources::RestKind;
use crate::registry::{Api, WatchEvent, WatchEventType, WatchOptions};

/// How long a watch without timeoutSeconds lasts; clients then watch again from where they were.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn line(event_type: &str, object: Value) -> Result<Bytes, Infallible> {
    let mut bytes = serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Ok(Bytes::from(bytes))
}

fn render<K: RestKind>(event: WatchEvent<K>, table: Option<IncludeObject>) -> Result<Bytes, Infallible> {
    let kind = event.r#type.as_str();
    if let Some(error) = event.error {
        return line(kind, serde_json::to_value(&error.status).unwrap_or_default());
    }
    let Some(object) = event.object else {
        return line(kind, Value::Null);
    };
    let value = match table {
        Some(include) if event.r#type != WatchEventType::Bookmark => {
            let now = chrono::Utc::now();
            serde_json::to_value(podium_api::table::table(std::slice::from_ref(&object), include, now))
        }
        _ => serde_json::to_value(&object),
    };
    line(kind, value.unwrap_or_default())
}

/// The streaming response of a watch.
pub async fn watch_response<K: RestKind>(
    api: &Api,
    namespace: &str,
    options: WatchOptions,
    table: Option<IncludeObject>,
) -> RestResult<Response> {
    let body = match api.watch::<K>(namespace, options).await {
        Ok(events) => Body::from_stream(events.map(move |e| render(e, table))),
        Err(e) if e.is_expired() => Body::from_stream(futures::stream::iter([line(
            "ERROR",
            serde_json::to_value(&e.status).unwrap_or_default(),
        )])),
        Err(e) => return Err(e.into()),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
