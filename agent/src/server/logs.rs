//! `AgentService.Logs`: a container's output, as `kubectl logs` asks for it (follow, tail,
//! since, timestamps, previous, a byte limit).

use futures::StreamExt;
use futures::stream::BoxStream;
use podium_proto::agent::v1::{LogChunk, LogsRequest};
use tonic::Status;

use super::AgentService;
use crate::runtime::{ContainerRuntime, LogOptions, Output};

impl<R: ContainerRuntime> AgentService<R> {
    pub(super) async fn stream_logs(
        &self,
        request: LogsRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, Status>>, Status> {
        let target = request
            .container
            .ok_or_else(|| Status::invalid_argument("no container named"))?;
        let id = self.find(&target, request.previous).await?;
        let options = LogOptions {
            follow: request.follow && !request.previous,
            tail_lines: request.tail_lines.filter(|n| *n >= 0),
            since: request.since_seconds.map(|s| chrono::Utc::now().timestamp() - s.max(0)),
            timestamps: request.timestamps,
        };
        let output = self
            .runtime
            .logs(&id, &options)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let limit = request
            .limit_bytes
            .filter(|n| *n > 0)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        // stdout and stderr interleaved, as Kubernetes shows them; a byte limit ends the stream.
        Ok(output
            .scan(limit, |left, item| {
                let next = match item {
                    Err(e) => Some(Err(Status::unavailable(e.to_string()))),
                    Ok(Output::Stdout(data) | Output::Stderr(data)) => match left {
                        Some(0) => None,
                        Some(n) => {
                            let take = data.len().min(*n);
                            *n -= take;
                            Some(Ok(LogChunk {
                                data: data[..take].to_vec(),
                            }))
                        }
                        None => Some(Ok(LogChunk { data: data.to_vec() })),
                    },
                };
                futures::future::ready(next)
            })
            .boxed())
    }
}
