//! `…/pods/{name}/exec`: a command in a container, over a WebSocket speaking Kubernetes'
//! `v5.channel.k8s.io` (or `v4.channel.k8s.io`) protocol, relayed to the node's agent.
//!
//! Every binary frame starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the final
//! `Status`, 4 terminal resizes (`{"Width":…,"Height":…}`), and in v5 255 to close a channel
//! (`[255, 0]`: stdin is done). The session ends with the Status on channel 3 (Success, or
//! Failure with reason NonZeroExitCode and the exit code as a cause, which kubectl turns into
//! its own exit code) and a close frame with code 1000.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use podium_api::ApiError;
use podium_proto::agent::v1::exec_input::Input;
use podium_proto::agent::v1::exec_output::Output;
use podium_proto::agent::v1::{ExecInput, ExecOutput, ExecStart, TerminalSize};
use podium_proto::k8s::core::v1::Pod;
use serde_json::json;
use tokio::sync::mpsc;

use super::RestState;
use super::error::RestError;
use super::request::Query;
use crate::agents::{agent_error, check_started, choose_container, container_ref};

/// The subprotocols served, most preferred first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

pub async fn exec(
    State(state): State<RestState>,
    Path((namespace, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match start(&state, &namespace, &name, &Query::parse(uri.query()), &headers, upgrade).await {
        Ok(response) => response,
        Err(e) => RestError(e).into_response(),
    }
}

/// The subprotocol to speak: the most preferred one the client offers.
fn choose_protocol(headers: &HeaderMap) -> Option<&'static str> {
    let offered: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
        .collect();
    PROTOCOLS.into_iter().find(|p| offered.iter().any(|o| o == p))
}

async fn start(
    state: &RestState,
    namespace: &str,
    name: &str,
    query: &Query,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let pod: Pod = state.api.get(namespace, name).await?;
    let container = choose_container(&pod, query.get("container").unwrap_or_default())?;
    check_started(&pod, &container)?;
    let command = query.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let Ok(upgrade) = upgrade else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    let Some(protocol) = choose_protocol(headers) else {
        return Err(ApiError::bad_request(format!(
            "no supported WebSocket subprotocol offered; use one of {PROTOCOLS:?}"
        )));
    };
    let tty = query.flag("tty");
    let start = ExecStart {
        container: Some(container_ref(&pod, &container)),
        command,
        stdin: query.flag("stdin"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
        tty,
    };
    // Start the command before upgrading, so that a failure is an ordinary HTTP error.
    let (input, receiver) = mpsc::channel::<ExecInput>(16);
    input
        .send(ExecInput {
            input: Some(Input::Start(start)),
        })
        .await
        .map_err(|_| ApiError::internal("exec input closed"))?;
    let mut agent = state.agents.for_pod(&state.api, &pod).await?;
    let output = agent
        .exec(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .map_err(agent_error)?
        .into_inner();
    Ok(upgrade
        .protocols([protocol])
        .on_upgrade(move |socket| relay(socket, protocol == PROTOCOLS[0], input, output)))
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// The Status closing a session.
fn final_status(exit_code: Option<i32>, error: Option<String>) -> serde_json::Value {
    match (exit_code, error) {
        (_, Some(message)) => {
            json!({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500})
        }
        (Some(0), None) => json!({"metadata": {}, "status": "Success"}),
        (Some(code), None) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        (None, None) => {
            json!({"metadata": {}, "status": "Failure", "message": "the command ended without an exit code", "reason": "InternalError", "code": 500})
        }
    }
}

async fn relay(socket: WebSocket, v5: bool, input: mpsc::Sender<ExecInput>, mut output: tonic::Streaming<ExecOutput>) {
    let (mut sink, mut source) = socket.split();
    let from_client = async move {
        while let Some(Ok(message)) = source.next().await {
            // Some clients (the Python one) send text frames; their bytes count the same.
            let data = match message {
                Message::Binary(data) => data,
                Message::Text(text) => bytes::Bytes::copy_from_slice(text.as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, rest)) = data.split_first() else {
                continue;
            };
            let forwarded = match channel {
                STDIN => Some(Input::Stdin(rest.to_vec())),
                RESIZE => serde_json::from_slice::<serde_json::Value>(rest).ok().map(|size| {
                    let dim = |k: &str| u32::try_from(size[k].as_u64().unwrap_or(0)).unwrap_or(0);
                    Input::Resize(TerminalSize {
                        width: dim("Width"),
                        height: dim("Height"),
                    })
                }),
                CLOSE if v5 && rest.first() == Some(&STDIN) => Some(Input::CloseStdin(true)),
                _ => None,
            };
            if let Some(forwarded) = forwarded
                && input.send(ExecInput { input: Some(forwarded) }).await.is_err()
            {
                break;
            }
        }
    };
    let to_client = async move {
        let (mut exit_code, mut error) = (None, None);
        while let Some(item) = output.next().await {
            let sent = match item {
                Ok(ExecOutput {
                    output: Some(Output::Stdout(data)),
                }) => sink.send(frame(STDOUT, &data)).await,
                Ok(ExecOutput {
                    output: Some(Output::Stderr(data)),
                }) => sink.send(frame(STDERR, &data)).await,
                Ok(ExecOutput {
                    output: Some(Output::ExitCode(code)),
                }) => {
                    exit_code = Some(code);
                    Ok(())
                }
                Ok(ExecOutput { output: None }) => Ok(()),
                Err(status) => {
                    error = Some(status.message().to_owned());
                    Ok(())
                }
            };
            if sent.is_err() {
                return;
            }
        }
        let status = final_status(exit_code, error).to_string();
        let _ = sink.send(frame(ERROR, status.as_bytes())).await;
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
    };
    tokio::pin!(to_client);
    tokio::select! {
        () = &mut to_client => return,
        () = from_client => {}
    }
    to_client.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_protocol_the_client_offers_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-websocket-protocol",
            "v4.channel.k8s.io, v5.channel.k8s.io".parse().unwrap(),
        );
        assert_eq!(choose_protocol(&headers), Some("v5.channel.k8s.io"));
        headers.insert("sec-websocket-protocol", "v4.channel.k8s.io".parse().unwrap());
        assert_eq!(choose_protocol(&headers), Some("v4.channel.k8s.io"));
        headers.insert("sec-websocket-protocol", "channel.k8s.io".parse().unwrap());
        assert_eq!(choose_protocol(&headers), None);
    }

    #[test]
    fn exit_codes_become_kubernetes_statuses() {
        assert_eq!(final_status(Some(0), None)["status"], "Success");
        let failed = final_status(Some(3), None);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "3");
    }
}
