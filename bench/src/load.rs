//! The closed-loop load generator shared by the create benchmark and the list benchmark's
//! population: N clients, each sending its next request as soon as the last one is answered,
//! until a count or a time limit is reached.
//!
//! Each client first makes one untimed warm-up call (so connection set-up is not measured),
//! then all start together. Request numbers are handed out from one counter, so the run does
//! exactly `range.len()` requests however uneven the clients are.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use podium_client::Objects;
use podium_proto::k8s::core::v1::Pod;
use tokio::sync::Barrier;

use crate::etcd::EtcdKv;
use crate::pods;
use crate::stats::{Latencies, Summary, rate};

/// A client stops after this many failed requests: a broken server should end the run, not
/// spin through the rest of the count.
const MAX_ERRORS_PER_CLIENT: u64 = 100;

/// How often a long run prints its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// One client's request.
pub trait Request: Send + 'static {
    /// An untimed call that opens the connection; by default, a call that is not counted.
    fn warm_up(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send {
        self.call(0)
    }
    /// Request number `i`.
    fn call(&mut self, i: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Creates pod `i` (`pods::name(prefix, i)`), one in a hundred labelled `bench=selected`.
pub struct CreatePod {
    pub pods: Objects<Pod>,
    pub prefix: String,
}

impl Request for CreatePod {
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        self.pods.get_opt("podium-bench-warm-up").await?;
        Ok(())
    }

    async fn call(&mut self, i: u64) -> anyhow::Result<()> {
        let pod = pods::pod(pods::name(&self.prefix, i), pods::is_selected(i));
        self.pods.create(pod).await?;
        Ok(())
    }
}

/// Puts key `i` (`<prefix>/<name>`, as the Kubernetes apiserver lays out pods in etcd) with a
/// value of the size of an encoded pod.
pub struct PutKey {
    pub kv: EtcdKv,
    pub prefix: String,
    pub value: Bytes,
}

impl Request for PutKey {
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        self.kv.count_prefix(b"/podium-bench/warm-up").await?;
        Ok(())
    }

    async fn call(&mut self, i: u64) -> anyhow::Result<()> {
        let key = pods::name(&self.prefix, i).into_bytes();
        self.kv.put(key, self.value.clone()).await?;
        Ok(())
    }
}

/// What a run did.
#[derive(Debug)]
pub struct LoadResult {
    /// Requests answered with success.
    pub done: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the start signal until the last client stopped.
    pub elapsed: Duration,
    /// Whether the time limit stopped the run before the count was reached.
    pub timed_out: bool,
    pub latency: Summary,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        rate(self.done, self.elapsed)
    }
}

/// Runs requests `range` over `clients` (one per client), at most for `limit`.
pub async fn run<R: Request>(
    label: &str,
    clients: Vec<R>,
    range: Range<u64>,
    limit: Duration,
) -> anyhow::Result<LoadResult> {
    let total = range.end.saturating_sub(range.start);
    let start_line = Arc::new(Barrier::new(clients.len() + 1));
    let next = Arc::new(AtomicU64::new(range.start));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients.len());
    for mut client in clients {
        let start_line = start_line.clone();
        let next = next.clone();
        let done = done.clone();
        let end = range.end;
        tasks.push(tokio::spawn(async move {
            let warm = client.warm_up().await;
            start_line.wait().await;
            warm?;
            let deadline = Instant::now() + limit;
            let mut latency = Latencies::with_capacity(1024);
            let (mut errors, mut first_error) = (0u64, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end || Instant::now() >= deadline || errors >= MAX_ERRORS_PER_CLIENT {
                    break;
                }
                let sent = Instant::now();
                match client.call(i).await {
                    Ok(()) => {
                        latency.push(sent.elapsed());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("request {i}: {e:#}"));
                    }
                }
            }
            anyhow::Ok((latency, errors, first_error))
        }));
    }
    start_line.wait().await;
    let started = Instant::now();
    let progress = {
        let label = label.to_owned();
        let done = done.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PROGRESS_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                crate::progress(format_args!(
                    "{label}: {n}/{total} ({:.0}/s)",
                    rate(n, started.elapsed())
                ));
            }
        })
    };
    let mut latency = Latencies::with_capacity(usize::try_from(total).unwrap_or(0));
    let (mut errors, mut first_error) = (0, None);
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok((l, e, first)) => {
                latency.merge(l);
                errors += e;
                if first_error.is_none() {
                    first_error = first;
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    let elapsed = started.elapsed();
    progress.abort();
    if let Some(e) = failure {
        return Err(e.context(format!("{label}: warm-up call failed")));
    }
    let done = done.load(Ordering::Relaxed);
    Ok(LoadResult {
        done,
        errors,
        first_error,
        elapsed,
        timed_out: done + errors < total,
        latency: latency.summary(),
    })
}
