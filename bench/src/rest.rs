//! `rest`: pod creates over Kubernetes' REST face (HTTP/1.1, JSON) beside gRPC creates in the
//! same run, then reads of one pod at a fixed rate over both.
//!
//! Creates: each protocol gets a fresh apiserver (a fresh data directory), and the same number
//! of clients (64) create the same pod, closed loop, each client over its own connection: an
//! HTTP/2 connection for gRPC (`podium-client`), an HTTP/1.1 keep-alive connection for REST
//! (hyper-util's client with HTTP/1 only, its pool held to that one connection). A REST
//! create is `POST /api/v1/namespaces/default/pods` with the pod as JSON; a create counts when
//! the 201 response has been read and decoded into a `Pod`, as the gRPC client decodes its
//! answer.
//!
//! Reads: on the REST run's apiserver (which then holds its pods), `GET` one pod by name on a
//! fixed schedule of `--read-rate` per second for `--read-seconds`, first over REST, then over
//! gRPC. The schedule is open loop: request k is due at start + k / rate and goes to reader
//! k mod `--read-clients` (each on its own connection). A reader still busy with an earlier
//! read when the next one is due sends it late, and that read's latency is counted from when it
//! was due, so a slow server shows up in the latency instead of silently lowering the rate. A
//! reader that was idle counts from when it sent: tokio's timers wake up to a millisecond late,
//! and that is the benchmark's slack, not the server's.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podium_client::{Client, Objects};
use podium_proto::k8s::core::v1::Pod;
use prost::Message;
use tokio::sync::Barrier;

use crate::load::{self, CreatePod, LoadResult, Request};
use crate::pods::{self, NAMESPACE};
use crate::process::{self, Binaries, CpuMeter, CpuUse};
use crate::stats::{Latencies, Summary, ms, per_sec, rate, verdict};

/// REST creates must reach at least this share of gRPC's rate ("within 2x").
const TARGET_RATIO: f64 = 0.5;
/// The p99 of single-object reads at the target read rate.
const TARGET_READ_P99: Duration = Duration::from_millis(5);
const TARGET_READ_RATE: u64 = 1000;

/// A reader that has made this many failed requests stops.
const MAX_READ_ERRORS_PER_CLIENT: u64 = 100;

#[derive(Debug, Clone, clap::Args)]
pub struct RestArgs {
    /// Concurrent creating clients, each on its own connection, for both protocols.
    #[arg(long, default_value_t = 64)]
    pub rest_clients: usize,
    /// Creates per protocol.
    #[arg(long, default_value_t = 10_000)]
    pub rest_count: u64,
    /// Time limit of one protocol's creates.
    #[arg(long, default_value_t = 60)]
    pub rest_max_seconds: u64,
    /// Reads of one pod per second, on a fixed schedule.
    #[arg(long, default_value_t = TARGET_READ_RATE)]
    pub read_rate: u64,
    /// How long to read for, per protocol.
    #[arg(long, default_value_t = 10)]
    pub read_seconds: u64,
    /// Readers sharing the schedule, each on its own connection.
    #[arg(long, default_value_t = 16)]
    pub read_clients: usize,
}

type Http = HttpClient<HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client that keeps (at most) one idle connection: used by one sequential
/// caller, it opens one connection and keeps it alive.
fn http1_client() -> Http {
    let mut connector = HttpConnector::new();
    // As tonic does for gRPC: a small request must not wait for Nagle.
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    HttpClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(300))
        .build(connector)
}

/// One REST caller: its own HTTP/1.1 connection to the apiserver.
struct RestPods {
    http: Http,
    /// `http://127.0.0.1:<port>/api/v1/namespaces/default/pods`.
    collection: String,
}

impl RestPods {
    fn new(base: &str) -> Self {
        RestPods {
            http: http1_client(),
            collection: format!("{base}/api/v1/namespaces/{NAMESPACE}/pods"),
        }
    }

    /// Sends one request and reads the whole answer.
    async fn send(&self, method: Method, uri: String, body: Bytes) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let response = self.http.request(request.body(Full::new(body))?).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// Creates a pod from its JSON; returns the pod the apiserver answered with.
    async fn create(&self, json: Bytes) -> anyhow::Result<Pod> {
        let (status, body) = self.send(Method::POST, self.collection.clone(), json).await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "create answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body)?)
    }

    /// Reads a pod by name.
    async fn get(&self, name: &str) -> anyhow::Result<Pod> {
        let (status, body) = self
            .send(Method::GET, format!("{}/{name}", self.collection), Bytes::new())
            .await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "get answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body)?)
    }
}

/// The JSON a REST client sends to create the `i`th pod: the same pod the gRPC clients send,
/// with its kind and apiVersion as Kubernetes clients set them.
fn pod_json(prefix: &str, i: u64) -> Bytes {
    let mut pod = pods::pod(pods::name(prefix, i), pods::is_selected(i));
    pod.kind = "Pod".to_owned();
    pod.api_version = "v1".to_owned();
    Bytes::from(serde_json::to_vec(&pod).unwrap_or_default())
}

/// Creates pod `i` over REST.
struct RestCreate {
    pods: RestPods,
    prefix: String,
}

impl Request for RestCreate {
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        // A 404 opens the connection as well as a 200 would.
        let uri = format!("{}/podium-bench-warm-up", self.pods.collection);
        self.pods.send(Method::GET, uri, Bytes::new()).await?;
        Ok(())
    }

    async fn call(&mut self, i: u64) -> anyhow::Result<()> {
        self.pods.create(pod_json(&self.prefix, i)).await?;
        Ok(())
    }
}

/// Reads one pod over REST.
struct RestGet {
    pods: RestPods,
    name: Arc<str>,
}

impl Request for RestGet {
    async fn call(&mut self, _: u64) -> anyhow::Result<()> {
        self.pods.get(&self.name).await?;
        Ok(())
    }
}

/// Reads one pod over gRPC.
struct GrpcGet {
    pods: Objects<Pod>,
    name: Arc<str>,
}

impl Request for GrpcGet {
    async fn call(&mut self, _: u64) -> anyhow::Result<()> {
        self.pods.get(&self.name).await?;
        Ok(())
    }
}

/// One protocol's creates.
#[derive(Debug)]
pub struct CreateRun {
    protocol: &'static str,
    result: LoadResult,
    cpu: CpuUse,
}

/// One protocol's reads on the fixed schedule.
#[derive(Debug)]
pub struct ReadRun {
    protocol: &'static str,
    planned: u64,
    done: u64,
    errors: u64,
    first_error: Option<String>,
    /// From the first due time to the last answer.
    elapsed: Duration,
    /// To the decoded answer from the due time (reader busy) or the send (reader idle).
    latency: Summary,
    /// The longest a read waited for its reader to finish the one before.
    worst_queueing: Duration,
    cpu: CpuUse,
}

impl ReadRun {
    fn rate(&self) -> f64 {
        rate(self.done, self.elapsed)
    }
}

#[derive(Debug)]
pub struct Report {
    clients: usize,
    json_bytes: usize,
    proto_bytes: usize,
    stored_json_bytes: usize,
    creates: Vec<CreateRun>,
    read_rate: u64,
    read_clients: usize,
    reads: Vec<ReadRun>,
}

pub async fn run(binaries: &Binaries, args: &RestArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.rest_clients > 0 && args.rest_count > 0,
        "--rest-clients and --rest-count must be positive"
    );
    anyhow::ensure!(
        args.read_rate > 0 && args.read_seconds > 0 && args.read_clients > 0,
        "--read-rate, --read-seconds and --read-clients must be positive"
    );
    let limit = Duration::from_secs(args.rest_max_seconds);
    let json_bytes = pod_json("size", 0).len();
    let proto_bytes = pods::pod(pods::name("size", 0), false).encoded_len();

    // gRPC first, on its own apiserver.
    let mut creates = Vec::new();
    {
        let apiserver = process::start_apiserver(binaries).await?;
        crate::progress(format_args!(
            "rest: apiserver pid {} on {} (gRPC creates)",
            apiserver.pid(),
            apiserver.url
        ));
        let requests = (0..args.rest_clients)
            .map(|_| {
                Ok(CreatePod {
                    pods: Client::new(&apiserver.url)?.resource(NAMESPACE),
                    prefix: "grpc".to_owned(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let label = format!("gRPC creates, {} clients", args.rest_clients);
        let cpu = CpuMeter::start(&apiserver);
        let result = load::run(&label, requests, 0..args.rest_count, limit).await?;
        let cpu = cpu.stop(&apiserver);
        report_creates(&label, &result);
        creates.push(CreateRun {
            protocol: "gRPC (HTTP/2, protobuf)",
            result,
            cpu,
        });
    }

    // REST on a fresh apiserver, which then serves the reads.
    let apiserver = process::start_apiserver(binaries).await?;
    crate::progress(format_args!(
        "rest: apiserver pid {} on {} (REST creates, then reads)",
        apiserver.pid(),
        apiserver.url
    ));
    let requests = (0..args.rest_clients)
        .map(|_| RestCreate {
            pods: RestPods::new(&apiserver.url),
            prefix: "rest".to_owned(),
        })
        .collect();
    let label = format!("REST creates, {} clients", args.rest_clients);
    let cpu = CpuMeter::start(&apiserver);
    let result = load::run(&label, requests, 0..args.rest_count, limit).await?;
    let cpu = cpu.stop(&apiserver);
    report_creates(&label, &result);
    creates.push(CreateRun {
        protocol: "REST (HTTP/1.1, JSON)",
        result,
        cpu,
    });

    // The pod every read fetches: one the REST clients created.
    let name: Arc<str> = Arc::from(pods::name("rest", 1).as_str());
    let stored = RestPods::new(&apiserver.url).get(&name).await?;
    let stored_json_bytes = serde_json::to_vec(&stored)?.len();
    // Let the creates' background work (log flushes) settle before timing reads.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut reads = Vec::new();
    let readers = (0..args.read_clients)
        .map(|_| RestGet {
            pods: RestPods::new(&apiserver.url),
            name: name.clone(),
        })
        .collect();
    reads.push(read_on_schedule("REST (HTTP/1.1, JSON)", &apiserver, readers, args).await?);
    let readers = (0..args.read_clients)
        .map(|_| {
            Ok(GrpcGet {
                pods: Client::new(&apiserver.url)?.resource(NAMESPACE),
                name: name.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    reads.push(read_on_schedule("gRPC (HTTP/2, protobuf)", &apiserver, readers, args).await?);

    Ok(Report {
        clients: args.rest_clients,
        json_bytes,
        proto_bytes,
        stored_json_bytes,
        creates,
        read_rate: args.read_rate,
        read_clients: args.read_clients,
        reads,
    })
}

fn report_creates(label: &str, result: &LoadResult) {
    crate::progress(format_args!(
        "{label}: {} in {:.1} s = {}, p50 {}, p99 {}, {} errors",
        result.done,
        result.elapsed.as_secs_f64(),
        per_sec(result.rate()),
        ms(result.latency.p50),
        ms(result.latency.p99),
        result.errors
    ));
}

/// Runs `read_seconds × read_rate` requests on the fixed schedule over `readers`.
async fn read_on_schedule<R: Request>(
    protocol: &'static str,
    apiserver: &process::Service,
    readers: Vec<R>,
    args: &RestArgs,
) -> anyhow::Result<ReadRun> {
    let planned = args.read_rate * args.read_seconds;
    let period = Duration::from_secs(1) / u32::try_from(args.read_rate).unwrap_or(u32::MAX);
    let step = readers.len() as u64;
    let start_line = Arc::new(Barrier::new(readers.len() + 1));
    // Every reader learns the start time from the same place once all are warm.
    let (start_tx, start_rx) = tokio::sync::watch::channel::<Option<Instant>>(None);
    let mut tasks = Vec::with_capacity(readers.len());
    for (w, mut reader) in readers.into_iter().enumerate() {
        let start_line = start_line.clone();
        let mut start_rx = start_rx.clone();
        tasks.push(tokio::spawn(async move {
            let warm = reader.warm_up().await;
            start_line.wait().await;
            warm?;
            let start = (*start_rx.wait_for(Option::is_some).await?).unwrap_or_else(Instant::now);
            // A schedule that cannot be kept ends anyway: twice its length plus ten seconds.
            let deadline = start + period * u32::try_from(planned).unwrap_or(u32::MAX) * 2 + Duration::from_secs(10);
            let mut latency = Latencies::with_capacity(usize::try_from(planned / step + 1).unwrap_or(0));
            let (mut errors, mut first_error, mut worst_lag, mut last) = (0u64, None, Duration::ZERO, start);
            let mut k = w as u64;
            while k < planned && Instant::now() < deadline && errors < MAX_READ_ERRORS_PER_CLIENT {
                let due = start + period * u32::try_from(k).unwrap_or(u32::MAX);
                let from = if last > due {
                    // Busy past the due time: the wait counts.
                    worst_lag = worst_lag.max(last - due);
                    due
                } else {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                };
                match reader.call(k).await {
                    Ok(()) => latency.push(from.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("read {k}: {e:#}"));
                    }
                }
                last = Instant::now();
                k += step;
            }
            anyhow::Ok((latency, errors, first_error, worst_lag, last))
        }));
    }
    start_line.wait().await;
    let start = Instant::now() + Duration::from_millis(50);
    let cpu = CpuMeter::start(apiserver);
    start_tx.send_replace(Some(start));
    crate::progress(format_args!(
        "{protocol} reads: {planned} at {}/s over {step} connections",
        args.read_rate
    ));
    let mut latency = Latencies::with_capacity(usize::try_from(planned).unwrap_or(0));
    let (mut errors, mut first_error, mut worst_queueing, mut last) = (0, None, Duration::ZERO, start);
    for task in tasks {
        let (l, e, first, lag, end) = task.await??;
        latency.merge(l);
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
        worst_queueing = worst_queueing.max(lag);
        last = last.max(end);
    }
    let cpu = cpu.stop(apiserver);
    let done = latency.len() as u64;
    let run = ReadRun {
        protocol,
        planned,
        done,
        errors,
        first_error,
        elapsed: last.saturating_duration_since(start),
        latency: latency.summary(),
        worst_queueing,
        cpu,
    };
    crate::progress(format_args!(
        "{protocol} reads: {done} at {}, p50 {}, p99 {}, max {}, {errors} errors",
        per_sec(run.rate()),
        ms(run.latency.p50),
        ms(run.latency.p99),
        ms(run.latency.max)
    ));
    Ok(run)
}

fn cpu_per_op(cpu: &CpuUse, ops: u64) -> String {
    if ops == 0 {
        return "-".to_owned();
    }
    format!("{:.0} µs", cpu.server.as_secs_f64() * 1e6 / ops as f64)
}

impl Report {
    fn create(&self, rest: bool) -> Option<&CreateRun> {
        self.creates.iter().find(|c| c.protocol.starts_with("REST") == rest)
    }

    fn read(&self, rest: bool) -> Option<&ReadRun> {
        self.reads.iter().find(|r| r.protocol.starts_with("REST") == rest)
    }

    /// REST's create rate over gRPC's.
    fn ratio(&self) -> Option<f64> {
        let (rest, grpc) = (self.create(true)?, self.create(false)?);
        (grpc.result.rate() > 0.0).then(|| rest.result.rate() / grpc.result.rate())
    }

    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::from("### REST beside gRPC\n\n");
        let _ = writeln!(
            out,
            "The same pod, {} bytes as JSON (REST) and {} bytes as protobuf (gRPC); {} bytes of \
             JSON as the apiserver answers it. {} clients, each on its own connection, a fresh \
             apiserver per protocol.\n",
            self.json_bytes, self.proto_bytes, self.stored_json_bytes, self.clients
        );
        out.push_str(
            "| protocol | creates | rate | p50 | p99 | apiserver CPU per create | apiserver cores \
             | benchmark cores | other processes | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for c in &self.creates {
            let r = &c.result;
            let timed_out = if r.timed_out { " (time limit)" } else { "" };
            let _ = writeln!(
                out,
                "| {} | {}{timed_out} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                c.protocol,
                r.done,
                per_sec(r.rate()),
                ms(r.latency.p50),
                ms(r.latency.p99),
                cpu_per_op(&c.cpu, r.done),
                c.cpu.server_cores(),
                c.cpu.bench_cores(),
                c.cpu.other_cores(),
                r.errors
            );
        }
        if let Some(ratio) = self.ratio() {
            let _ = writeln!(out, "\nREST's create rate is {ratio:.2}× gRPC's.");
        }
        let _ = writeln!(
            out,
            "\nReads of one pod by name, {} per second on a fixed schedule over {} connections, \
             on the REST run's apiserver (holding its pods); latency to the decoded answer, from \
             the send, or from the due time when the reader was still busy.\n",
            self.read_rate, self.read_clients
        );
        out.push_str(
            "| protocol | reads | achieved rate | p50 | p99 | max | longest queueing | apiserver CPU per read \
             | apiserver cores | benchmark cores | other processes | errors |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.reads {
            let _ = writeln!(
                out,
                "| {} | {} / {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
                r.protocol,
                r.done,
                r.planned,
                per_sec(r.rate()),
                ms(r.latency.p50),
                ms(r.latency.p99),
                ms(r.latency.max),
                ms(r.worst_queueing),
                cpu_per_op(&r.cpu, r.done),
                r.cpu.server_cores(),
                r.cpu.bench_cores(),
                r.cpu.other_cores(),
                r.errors
            );
        }
        out.push_str(
            "\n(\"longest queueing\": the longest a read waited past its due time for its reader to \
             finish the read before; zero when every reader kept up.)\n",
        );
        for c in &self.creates {
            if let Some(e) = &c.result.first_error {
                let _ = writeln!(out, "\nFirst {} create error: {e}", c.protocol);
            }
        }
        for r in &self.reads {
            if let Some(e) = &r.first_error {
                let _ = writeln!(out, "\nFirst {} read error: {e}", r.protocol);
            }
        }
        out
    }

    /// The target rows for the summary table.
    pub fn targets(&self) -> Vec<[String; 4]> {
        let mut targets = Vec::new();
        if let (Some(rest), Some(grpc), Some(ratio)) = (self.create(true), self.create(false), self.ratio()) {
            targets.push([
                format!("REST creates/s vs gRPC, {} clients", self.clients),
                format!("≥ 0.5× gRPC ({})", per_sec(grpc.result.rate())),
                format!("{} ({ratio:.2}×)", per_sec(rest.result.rate())),
                verdict(ratio >= TARGET_RATIO && rest.result.errors == 0).to_owned(),
            ]);
        }
        for rest in [true, false] {
            let Some(r) = self.read(rest) else { continue };
            let met = r.done == r.planned
                && r.errors == 0
                && r.latency.p99 <= TARGET_READ_P99
                && r.rate() >= 0.95 * self.read_rate as f64
                && self.read_rate >= TARGET_READ_RATE;
            targets.push([
                format!(
                    "{} read p99 at {}",
                    if rest { "REST" } else { "gRPC" },
                    per_sec(self.read_rate as f64)
                ),
                format!("≤ {} at {}", ms(TARGET_READ_P99), per_sec(TARGET_READ_RATE as f64)),
                format!("{} at {}", ms(r.latency.p99), per_sec(r.rate())),
                verdict(met).to_owned(),
            ]);
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_pod_is_the_grpc_pod() {
        let json = pod_json("p", 7);
        let decoded: Pod = serde_json::from_slice(&json).unwrap();
        assert_eq!(decoded.kind, "Pod");
        assert_eq!(decoded.api_version, "v1");
        let mut expected = pods::pod(pods::name("p", 7), pods::is_selected(7));
        expected.kind = "Pod".to_owned();
        expected.api_version = "v1".to_owned();
        assert_eq!(decoded, expected);
    }
}
