//! `watch`: fan-out of pod creates to many watchers, and how late each event arrives.
//!
//! The benchmark opens `--watchers` gRPC watches on the pods of one namespace, spread
//! round-robin over `--watch-connections` HTTP/2 connections (the apiserver, like hyper's
//! default, admits 200 concurrent streams per connection, so 1000 watches need at least five).
//! Then `--writers` clients create pods on a fixed schedule (`--rate` per second for
//! `--seconds`), each pod carrying its send time in an annotation; every watcher takes the
//! difference between its arrival time and that send time. So a delivery latency covers the
//! whole path a controller sees: the create's durable commit, the fan-out, encoding, the wire
//! and decoding.
//!
//! To keep the benchmark's own share of the two cores small, watchers decode each event into a
//! cut-down message that holds only the event type and the pod's annotations (protobuf skips
//! the rest without building it); `--full-decode` decodes whole pods with `podium-client`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use http::uri::PathAndQuery;
use podium_client::{Client, ListParams, WatchParams};
use podium_proto::api::v1::WatchRequest;
use podium_proto::k8s::core::v1::Pod;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use crate::pods::{self, NAMESPACE, SENT_ANNOTATION};
use crate::process::{CpuMeter, CpuUse};
use crate::stats::{Latencies, Summary, ms, per_sec, rate, verdict};

/// The target delivery p99.
const TARGET_P99: Duration = Duration::from_millis(100);

const WATCH_PATH: &str = "/podium.api.v1.PodService/Watch";

#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Concurrent watches.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Pods created per second.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// How long to create pods for.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// HTTP/2 connections the watches share (at most 200 watches each).
    #[arg(long, default_value_t = 10)]
    pub watch_connections: usize,
    /// Concurrent clients creating the pods on schedule.
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// HTTP/2 connections the writers share.
    #[arg(long, default_value_t = 4)]
    pub writer_connections: usize,
    /// How long watchers wait for the last events once writing has stopped.
    #[arg(long, default_value_t = 15)]
    pub drain_seconds: u64,
    /// Decode whole pods with podium-client instead of only the annotations.
    #[arg(long)]
    pub full_decode: bool,
}

/// The parts of `podium.api.v1.PodWatchEvent` a watcher needs; field numbers as in
/// `proto/podium/api.proto` and `proto/k8s/{core,meta}.proto`.
mod lite {
    use std::collections::BTreeMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodWatchEvent {
        #[prost(string, tag = "1")]
        pub r#type: String,
        #[prost(message, optional, tag = "2")]
        pub object: Option<Pod>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Pod {
        #[prost(message, optional, tag = "1")]
        pub metadata: Option<ObjectMeta>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ObjectMeta {
        #[prost(btree_map = "string, string", tag = "12")]
        pub annotations: BTreeMap<String, String>,
    }
}

/// A watch reduced to what the benchmark needs: for each ADDED event, the pod's send time.
type Arrivals = BoxStream<'static, anyhow::Result<Option<u64>>>;

/// The send time of an ADDED event's pod; `None` for other events; an error for ERROR.
fn arrival(r#type: &str, annotations: Option<&BTreeMap<String, String>>) -> anyhow::Result<Option<u64>> {
    match r#type {
        "ADDED" => Ok(annotations
            .and_then(|a| a.get(SENT_ANNOTATION))
            .and_then(|v| v.parse().ok())),
        "ERROR" => anyhow::bail!("the watch ended with an ERROR event"),
        _ => Ok(None),
    }
}

async fn open_lite(channel: Channel, request: WatchRequest) -> anyhow::Result<Arrivals> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await?;
    let stream = grpc
        .server_streaming(
            tonic::Request::new(request),
            PathAndQuery::from_static(WATCH_PATH),
            ProstCodec::<WatchRequest, lite::PodWatchEvent>::default(),
        )
        .await?
        .into_inner();
    Ok(stream
        .map(|event| {
            let event = event?;
            let annotations = event
                .object
                .as_ref()
                .and_then(|p| p.metadata.as_ref())
                .map(|m| &m.annotations);
            arrival(&event.r#type, annotations)
        })
        .boxed())
}

async fn open_full(client: Client, resource_version: String) -> anyhow::Result<Arrivals> {
    let params = WatchParams {
        resource_version,
        ..Default::default()
    };
    let stream = client.resource::<Pod>(NAMESPACE).watch(&params).await?;
    Ok(stream
        .map(|event| {
            let event = event?;
            let annotations = event
                .object
                .as_ref()
                .and_then(|p| p.metadata.as_ref())
                .map(|m| &m.annotations);
            arrival(&event.r#type, annotations)
        })
        .boxed())
}

/// What the writers tell the watchers once they are done: how many pods to expect, and until
/// when to wait for them.
type Done = Option<(u64, Instant)>;

/// One watcher: records the delivery latency of each event until it has seen every written
/// pod, its stream ends, or time is up.
async fn watcher(
    mut arrivals: Arrivals,
    clock: Instant,
    mut done: watch::Receiver<Done>,
    hard_deadline: Instant,
    delivered: Arc<AtomicU64>,
    capacity: usize,
) -> (Latencies, Option<String>) {
    let mut latency = Latencies::with_capacity(capacity);
    let mut writers_gone = false;
    loop {
        let want = *done.borrow_and_update();
        if let Some((written, _)) = want
            && latency.len() as u64 >= written
        {
            return (latency, None);
        }
        let deadline = want.map_or(hard_deadline, |(_, drain)| drain.min(hard_deadline));
        tokio::select! {
            event = arrivals.next() => match event {
                Some(Ok(Some(sent))) => {
                    let now = nanos_since(clock);
                    latency.push_nanos(now.saturating_sub(sent));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(None)) => {}
                Some(Err(e)) => return (latency, Some(format!("{e:#}"))),
                None => return (latency, Some("the watch ended early".to_owned())),
            },
            changed = done.changed(), if !writers_gone => writers_gone = changed.is_err(),
            () = tokio::time::sleep_until(deadline.into()) => return (latency, None),
        }
    }
}

fn nanos_since(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
pub struct Report {
    watchers: usize,
    watch_connections: usize,
    full_decode: bool,
    planned: u64,
    target_rate: u64,
    written: u64,
    write_errors: u64,
    write_elapsed: Duration,
    create: Summary,
    delivered: u64,
    watcher_errors: usize,
    first_watcher_error: Option<String>,
    delivery: Summary,
    opened_in: Duration,
    /// From the first write until the last watcher stopped.
    cpu: CpuUse,
}

pub async fn run(binaries: &crate::process::Binaries, args: &WatchArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.watchers > 0 && args.rate > 0 && args.seconds > 0,
        "--watchers, --rate and --seconds must be positive"
    );
    anyhow::ensure!(
        args.watch_connections > 0 && args.writers > 0 && args.writer_connections > 0,
        "connection and writer counts must be positive"
    );
    let apiserver = crate::process::start_apiserver(binaries).await?;
    crate::progress(format_args!(
        "watch: apiserver pid {} on {}",
        apiserver.pid(),
        apiserver.url
    ));
    let clock = Instant::now();
    let planned = args.rate * args.seconds;

    // Watch from the current resourceVersion, so no watcher starts with a replay.
    let resource_version = Client::new(&apiserver.url)?
        .resource::<Pod>(NAMESPACE)
        .list(&ListParams {
            limit: 1,
            ..Default::default()
        })
        .await?
        .metadata
        .map(|m| m.resource_version)
        .unwrap_or_default();

    let opening = Instant::now();
    let streams: Vec<Arrivals> = if args.full_decode {
        let clients: Vec<Client> = (0..args.watch_connections)
            .map(|_| Client::new(&apiserver.url))
            .collect::<Result<_, _>>()?;
        futures::future::try_join_all(
            (0..args.watchers).map(|i| open_full(clients[i % clients.len()].clone(), resource_version.clone())),
        )
        .await?
    } else {
        let channels: Vec<Channel> = (0..args.watch_connections)
            .map(|_| Ok(Endpoint::from_shared(apiserver.url.clone())?.connect_lazy()))
            .collect::<anyhow::Result<_>>()?;
        let request = WatchRequest {
            namespace: NAMESPACE.to_owned(),
            resource_version: resource_version.clone(),
            ..Default::default()
        };
        futures::future::try_join_all(
            (0..args.watchers).map(|i| open_lite(channels[i % channels.len()].clone(), request.clone())),
        )
        .await?
    };
    let opened_in = opening.elapsed();
    crate::progress(format_args!(
        "watch: {} watches open over {} connections in {}",
        args.watchers,
        args.watch_connections,
        ms(opened_in)
    ));

    let period = Duration::from_secs(1) / u32::try_from(args.rate).unwrap_or(u32::MAX);
    let start = Instant::now() + Duration::from_millis(100);
    let writer_deadline = start + Duration::from_secs(args.seconds * 2 + 10);
    let hard_deadline = writer_deadline + Duration::from_secs(args.drain_seconds);
    let (done_tx, done_rx) = watch::channel::<Done>(None);
    let delivered = Arc::new(AtomicU64::new(0));
    let capacity = usize::try_from(planned).unwrap_or(0);
    let watchers: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            tokio::spawn(watcher(
                stream,
                clock,
                done_rx.clone(),
                hard_deadline,
                delivered.clone(),
                capacity,
            ))
        })
        .collect();

    let cpu = CpuMeter::start(&apiserver);
    let written = Arc::new(AtomicU64::new(0));
    let writer_clients: Vec<Client> = (0..args.writer_connections)
        .map(|_| Client::new(&apiserver.url))
        .collect::<Result<_, _>>()?;
    let writers: Vec<_> = (0..args.writers)
        .map(|w| {
            let pods = writer_clients[w % writer_clients.len()].resource::<Pod>(NAMESPACE);
            let written = written.clone();
            let step = args.writers as u64;
            tokio::spawn(async move {
                let mut latency = Latencies::with_capacity(capacity / step as usize + 1);
                let (mut errors, mut last) = (0u64, start);
                let mut k = w as u64;
                while k < planned && Instant::now() < writer_deadline {
                    let due = start + period * u32::try_from(k).unwrap_or(u32::MAX);
                    tokio::time::sleep_until(due.into()).await;
                    let mut pod = pods::pod(pods::name("watched", k), false);
                    pods::stamp(&mut pod, nanos_since(clock));
                    let sent = Instant::now();
                    match pods.create(pod).await {
                        Ok(_) => {
                            latency.push(sent.elapsed());
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => errors += 1,
                    }
                    last = Instant::now();
                    k += step;
                }
                (latency, errors, last)
            })
        })
        .collect();

    let progress = {
        let (written, delivered) = (written.clone(), delivered.clone());
        let watchers = args.watchers as u64;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let w = written.load(Ordering::Relaxed);
                crate::progress(format_args!(
                    "watch: {w}/{planned} pods written, {}/{} events delivered",
                    delivered.load(Ordering::Relaxed),
                    w * watchers
                ));
            }
        })
    };

    let mut create = Latencies::with_capacity(capacity);
    let (mut write_errors, mut last_write) = (0, start);
    for writer in writers {
        let (latency, errors, last) = writer.await?;
        create.merge(latency);
        write_errors += errors;
        last_write = last_write.max(last);
    }
    let written = written.load(Ordering::Relaxed);
    let drain = Instant::now() + Duration::from_secs(args.drain_seconds);
    done_tx.send_replace(Some((written, drain)));

    let mut delivery = Latencies::with_capacity(capacity * args.watchers);
    let (mut watcher_errors, mut first_watcher_error) = (0, None);
    for w in watchers {
        let (latency, error) = w.await?;
        delivery.merge(latency);
        if let Some(e) = error {
            watcher_errors += 1;
            first_watcher_error.get_or_insert(e);
        }
    }
    progress.abort();
    let cpu = cpu.stop(&apiserver);
    drop(done_tx);
    let delivered = delivered.load(Ordering::Relaxed);
    crate::progress(format_args!(
        "watch: {delivered}/{} events delivered",
        written * args.watchers as u64
    ));
    Ok(Report {
        watchers: args.watchers,
        watch_connections: args.watch_connections,
        full_decode: args.full_decode,
        planned,
        target_rate: args.rate,
        written,
        write_errors,
        write_elapsed: last_write.saturating_duration_since(start),
        create: create.summary(),
        delivered,
        watcher_errors,
        first_watcher_error,
        delivery: delivery.summary(),
        opened_in,
        cpu,
    })
}

impl Report {
    fn expected(&self) -> u64 {
        self.written * self.watchers as u64
    }

    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::from("### Watch fan-out\n\n");
        let _ = writeln!(
            out,
            "{} watches over {} HTTP/2 connections (opened in {}), watchers decoding {}. \
             Pods written: {}/{} at {} (target {}), create p50 {} / p99 {} while watched, \
             {} failed creates. CPU from the first write until the last watcher stopped \
             ({:.1} s): {}.\n",
            self.watchers,
            self.watch_connections,
            ms(self.opened_in),
            if self.full_decode {
                "whole pods"
            } else {
                "only the annotations"
            },
            self.written,
            self.planned,
            per_sec(rate(self.written, self.write_elapsed)),
            per_sec(self.target_rate as f64),
            ms(self.create.p50),
            ms(self.create.p99),
            self.write_errors,
            self.cpu.wall.as_secs_f64(),
            self.cpu.describe("apiserver"),
        );
        out.push_str("| watchers | events delivered / expected | p50 | p99 | max | watcher errors |\n");
        out.push_str("|---:|---:|---:|---:|---:|---:|\n");
        let _ = writeln!(
            out,
            "| {} | {} / {} | {} | {} | {} | {} |",
            self.watchers,
            self.delivered,
            self.expected(),
            ms(self.delivery.p50),
            ms(self.delivery.p99),
            ms(self.delivery.max),
            self.watcher_errors
        );
        if let Some(e) = &self.first_watcher_error {
            let _ = writeln!(out, "\nFirst watcher error: {e}");
        }
        out
    }

    /// The target rows for the summary table.
    pub fn targets(&self) -> Vec<[String; 4]> {
        vec![
            [
                format!(
                    "watch delivery p99, {} watchers, {} pods/s",
                    self.watchers, self.target_rate
                ),
                format!("≤ {}", ms(TARGET_P99)),
                ms(self.delivery.p99),
                verdict(self.delivery.count > 0 && self.delivery.p99 <= TARGET_P99).to_owned(),
            ],
            [
                "watch events delivered (of pods written)".to_owned(),
                "all".to_owned(),
                format!("{} / {}", self.delivered, self.expected()),
                verdict(self.delivered == self.expected()).to_owned(),
            ],
            [
                "pods written while watched".to_owned(),
                format!("{} at {}", self.planned, per_sec(self.target_rate as f64)),
                format!(
                    "{} at {}",
                    self.written,
                    per_sec(rate(self.written, self.write_elapsed))
                ),
                verdict(
                    self.written == self.planned
                        && rate(self.written, self.write_elapsed) >= 0.95 * self.target_rate as f64,
                )
                .to_owned(),
            ],
        ]
    }
}
