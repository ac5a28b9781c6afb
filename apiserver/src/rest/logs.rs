//! `GET …/pods/{name}/log`: the container's output from its node's agent, as `text/plain`,
//! streamed while `follow` holds.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use podium_api::ApiError;
use podium_proto::agent::v1::LogsRequest;
use podium_proto::k8s::core::v1::Pod;

use super::RestState;
use super::error::RestError;
use super::request::Query;
use crate::agents::{agent_error, check_started, choose_container, container_ref};

pub async fn logs(
    State(state): State<RestState>,
    Path((namespace, name)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    match stream(&state, &namespace, &name, &Query::parse(uri.query())).await {
        Ok(response) => response,
        Err(e) => RestError(e).into_response(),
    }
}

async fn stream(state: &RestState, namespace: &str, name: &str, query: &Query) -> Result<Response, ApiError> {
    let pod: Pod = state.api.get(namespace, name).await?;
    let container = choose_container(&pod, query.get("container").unwrap_or_default())?;
    let previous = query.flag("previous");
    if !previous {
        check_started(&pod, &container)?;
    }
    let request = LogsRequest {
        container: Some(container_ref(&pod, &container)),
        follow: query.flag("follow"),
        tail_lines: query.int("tailLines")?,
        since_seconds: query.int("sinceSeconds")?,
        timestamps: query.flag("timestamps"),
        previous,
        limit_bytes: query.int("limitBytes")?,
    };
    let mut agent = state.agents.for_pod(&state.api, &pod).await?;
    let chunks = agent.logs(request).await.map_err(agent_error)?.into_inner();
    let body = Body::from_stream(chunks.map(|chunk| {
        chunk
            .map(|c| bytes::Bytes::from(c.data))
            .map_err(|e| std::io::Error::other(e.message().to_owned()))
    }));
    Ok(([(header::CONTENT_TYPE, "text/plain")], body).into_response())
}
