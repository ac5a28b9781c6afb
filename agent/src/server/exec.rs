//! `AgentService.Exec`: a command in a running container, with stdin, a terminal that can be
//! resized, and the exit code as the last message.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_proto::agent::v1::exec_input::Input;
use podium_proto::agent::v1::exec_output::Output as Out;
use podium_proto::agent::v1::{ExecInput, ExecOutput};
use tokio::io::AsyncWriteExt;
use tonic::{Status, Streaming};

use super::AgentService;
use crate::runtime::{ContainerRuntime, ExecConfig, Output};

/// How long the exit code may take to show once the output has ended.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(5);

impl<R: ContainerRuntime> AgentService<R> {
    pub(super) async fn start_exec(
        &self,
        mut input: Streaming<ExecInput>,
    ) -> Result<BoxStream<'static, Result<ExecOutput, Status>>, Status> {
        let Some(ExecInput {
            input: Some(Input::Start(start)),
        }) = input.message().await?
        else {
            return Err(Status::invalid_argument("an exec starts with `start`"));
        };
        let target = start
            .container
            .ok_or_else(|| Status::invalid_argument("no container named"))?;
        if start.command.is_empty() {
            return Err(Status::invalid_argument("no command given"));
        }
        let id = self.find(&target, false).await?;
        let config = ExecConfig {
            command: start.command,
            stdin: start.stdin,
            tty: start.tty,
        };
        let session = self
            .runtime
            .exec(&id, &config)
            .await
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
        // The caller's stdin and resizes, until it closes its side.
        let runtime = self.runtime.clone();
        let exec_id = session.id.clone();
        let mut stdin = session.input;
        tokio::spawn(async move {
            while let Ok(Some(message)) = input.message().await {
                match message.input {
                    Some(Input::Stdin(data)) => {
                        if let Some(writer) = stdin.as_mut()
                            && writer.write_all(&data).await.is_err()
                        {
                            stdin = None;
                        }
                    }
                    Some(Input::Resize(size)) => {
                        let (w, h) = (
                            u16::try_from(size.width).unwrap_or(u16::MAX),
                            u16::try_from(size.height).unwrap_or(u16::MAX),
                        );
                        let _ = runtime.resize_exec(&exec_id, w, h).await;
                    }
                    Some(Input::CloseStdin(_)) => {
                        if let Some(mut writer) = stdin.take() {
                            let _ = writer.shutdown().await;
                        }
                    }
                    Some(Input::Start(_)) | None => {}
                }
            }
            if let Some(mut writer) = stdin.take() {
                let _ = writer.shutdown().await;
            }
        });
        let output = session.output.map(|item| match item {
            Ok(Output::Stdout(data)) => Ok(ExecOutput {
                output: Some(Out::Stdout(data.to_vec())),
            }),
            Ok(Output::Stderr(data)) => Ok(ExecOutput {
                output: Some(Out::Stderr(data.to_vec())),
            }),
            Err(e) => Err(Status::unavailable(e.to_string())),
        });
        let runtime = self.runtime.clone();
        let exec_id = session.id;
        let exit = futures::stream::once(async move {
            let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
            loop {
                match runtime.exec_exit_code(&exec_id).await {
                    Ok(Some(code)) => {
                        return Ok(ExecOutput {
                            output: Some(Out::ExitCode(i32::try_from(code).unwrap_or(i32::MAX))),
                        });
                    }
                    Ok(None) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(None) => return Err(Status::deadline_exceeded("the command's exit code did not show")),
                    Err(e) => return Err(Status::unavailable(e.to_string())),
                }
            }
        });
        Ok(output.chain(exit).boxed())
    }
}
