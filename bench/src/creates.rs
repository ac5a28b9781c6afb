//! `creates`: durable pod creates over gRPC with 1..N concurrent clients, and etcd taking the
//! same number of puts of the same size from the same number of clients.
//!
//! Each system gets a fresh server and runs every client count in turn. etcd's values are
//! the bytes of an encoded pod (the pod this benchmark sends, not the larger one Podium stores
//! after defaulting), under keys shaped like the Kubernetes apiserver's
//! (`/registry/pods/default/<name>`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use podium_client::{Client, Objects};
use podium_proto::k8s::core::v1::Pod;
use prost::Message;

use crate::etcd::EtcdKv;
use crate::load::{self, CreatePod, LoadResult, PutKey};
use crate::pods::{self, NAMESPACE};
use crate::process::{self, Binaries, CpuMeter, CpuUse};
use crate::stats::{Latencies, Summary, ms, per_sec, verdict};

/// The target rate with 64 clients, and its p99.
const TARGET_RATE: f64 = 10_000.0;
const TARGET_P99: Duration = Duration::from_millis(20);
/// The client count the targets are stated for.
const TARGET_CLIENTS: usize = 64;

#[derive(Debug, Clone, clap::Args)]
pub struct CreatesArgs {
    /// Client counts to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    pub clients: Vec<usize>,
    /// Creates (and etcd puts) per client count.
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Time limit of one run; a run that hits it reports what it did.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
    /// HTTP/2 connections the clients share, round-robin; 0 gives each client its own.
    #[arg(long, default_value_t = 0)]
    pub connections: usize,
    /// Skip the etcd comparison.
    #[arg(long)]
    pub no_etcd: bool,
}

/// One client count's results.
#[derive(Debug)]
pub struct Row {
    clients: usize,
    podium: LoadResult,
    podium_cpu: CpuUse,
    etcd: Option<(LoadResult, CpuUse)>,
}

#[derive(Debug)]
pub struct Report {
    /// Sequential gets of one pod by one client: the cost of a gRPC call without a write.
    get_round_trip: Summary,
    /// The encoded size of the pod sent, which is also etcd's value size.
    sent_bytes: usize,
    /// The encoded size of the pod as Podium returns (and stores) it.
    stored_bytes: usize,
    connections: usize,
    rows: Vec<Row>,
}

/// Which connection client `i` of `clients` uses.
fn connection_of(i: usize, connections: usize) -> usize {
    if connections == 0 { i } else { i % connections }
}

pub async fn run(binaries: &Binaries, args: &CreatesArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.clients.iter().all(|c| *c > 0), "client counts must be positive");
    anyhow::ensure!(
        args.no_etcd || binaries.etcd.exists(),
        "{} not found: install Debian's etcd-server (bench/run.sh does), pass --etcd, or \
         skip the comparison with --no-etcd",
        binaries.etcd.display()
    );
    let limit = Duration::from_secs(args.max_seconds);
    let template = pods::pod(pods::name("size", 0), false);
    let sent_bytes = template.encoded_len();

    let apiserver = process::start_apiserver(binaries).await?;
    crate::progress(format_args!(
        "creates: apiserver pid {} on {}",
        apiserver.pid(),
        apiserver.url
    ));
    let probe = Client::new(&apiserver.url)?.resource::<Pod>(NAMESPACE);
    let created = probe.create(template).await?;
    let stored_bytes = created.encoded_len();
    let get_round_trip = round_trip(&probe, &created.metadata.unwrap_or_default().name).await?;
    let mut rows = Vec::new();
    for &clients in &args.clients {
        let connections: Vec<Client> = (0..connection_count(clients, args.connections))
            .map(|_| Client::new(&apiserver.url))
            .collect::<Result<_, _>>()?;
        let requests = (0..clients)
            .map(|i| CreatePod {
                pods: connections[connection_of(i, args.connections)].resource(NAMESPACE),
                prefix: format!("c{clients}"),
            })
            .collect();
        let label = format!("podium creates, {clients} clients");
        let cpu = CpuMeter::start(&apiserver);
        let result = load::run(&label, requests, 0..args.count, limit).await?;
        let cpu = cpu.stop(&apiserver);
        crate::progress(format_args!(
            "{label}: {} in {:.1} s = {}, p50 {}, p99 {}",
            result.done,
            result.elapsed.as_secs_f64(),
            per_sec(result.rate()),
            ms(result.latency.p50),
            ms(result.latency.p99)
        ));
        rows.push(Row {
            clients,
            podium: result,
            podium_cpu: cpu,
            etcd: None,
        });
    }
    drop(apiserver);

    if !args.no_etcd {
        let etcd = process::start_etcd(binaries).await?;
        crate::progress(format_args!("creates: etcd pid {} on {}", etcd.pid(), etcd.url));
        let value = Bytes::from(pods::pod(pods::name("size", 0), false).encode_to_vec());
        for row in &mut rows {
            let clients = row.clients;
            let connections: Vec<EtcdKv> = (0..connection_count(clients, args.connections))
                .map(|_| EtcdKv::connect_lazy(&etcd.url))
                .collect::<Result<_, _>>()?;
            let prefix = format!("/registry/pods/{NAMESPACE}/c{clients}");
            let requests = (0..clients)
                .map(|i| PutKey {
                    kv: connections[connection_of(i, args.connections)].clone(),
                    prefix: prefix.clone(),
                    value: value.clone(),
                })
                .collect();
            // The same number of puts as Podium did creates.
            let label = format!("etcd puts, {clients} clients");
            let cpu = CpuMeter::start(&etcd);
            let result = load::run(&label, requests, 0..row.podium.done, limit).await?;
            let cpu = cpu.stop(&etcd);
            let stored = connections[0]
                .clone()
                .count_prefix(format!("{prefix}-").as_bytes())
                .await?;
            anyhow::ensure!(
                u64::try_from(stored).ok() == Some(result.done),
                "etcd holds {stored} keys under {prefix} after {} acknowledged puts",
                result.done
            );
            crate::progress(format_args!(
                "{label}: {} in {:.1} s = {}, p50 {}, p99 {}",
                result.done,
                result.elapsed.as_secs_f64(),
                per_sec(result.rate()),
                ms(result.latency.p50),
                ms(result.latency.p99)
            ));
            row.etcd = Some((result, cpu));
        }
    }
    Ok(Report {
        get_round_trip,
        sent_bytes,
        stored_bytes,
        connections: args.connections,
        rows,
    })
}

/// Server CPU time per operation, in microseconds.
fn cpu_per_op(cpu: &CpuUse, ops: u64) -> String {
    if ops == 0 {
        return "-".to_owned();
    }
    format!("{:.0} µs", cpu.server.as_secs_f64() * 1e6 / ops as f64)
}

/// How many sequential gets `round_trip` times.
const ROUND_TRIPS: usize = 200;

async fn round_trip(pods: &Objects<Pod>, name: &str) -> anyhow::Result<Summary> {
    let mut latency = Latencies::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let sent = Instant::now();
        pods.get(name).await?;
        latency.push(sent.elapsed());
    }
    Ok(latency.summary())
}

fn connection_count(clients: usize, connections: usize) -> usize {
    if connections == 0 {
        clients
    } else {
        connections.min(clients)
    }
}

impl Report {
    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let connections = if self.connections == 0 {
            "one HTTP/2 connection per client".to_owned()
        } else {
            format!("clients sharing {} HTTP/2 connections", self.connections)
        };
        let _ = writeln!(
            out,
            "### Durable creates\n\nPod: {} bytes encoded as sent (etcd's value size), {} bytes \
             as stored by Podium. {connections}. A get of one pod by one client (no write) \
             takes p50 {} / p99 {}.\n",
            self.sent_bytes,
            self.stored_bytes,
            ms(self.get_round_trip.p50),
            ms(self.get_round_trip.p99)
        );
        out.push_str(
            "| clients | creates | Podium rate | Podium p50 | Podium p99 | etcd rate | etcd p50 \
             | etcd p99 | Podium/etcd rate | errors |\n",
        );
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let p = &row.podium;
            let (e_rate, e_p50, e_p99, ratio, e_errors) = match &row.etcd {
                Some((e, _)) => (
                    per_sec(e.rate()),
                    ms(e.latency.p50),
                    ms(e.latency.p99),
                    if e.rate() > 0.0 {
                        format!("{:.2}×", p.rate() / e.rate())
                    } else {
                        "-".to_owned()
                    },
                    e.errors,
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into(), 0),
            };
            let timed_out = if p.timed_out { " (time limit)" } else { "" };
            let _ = writeln!(
                out,
                "| {} | {}{timed_out} | {} | {} | {} | {e_rate} | {e_p50} | {e_p99} | {ratio} | {} |",
                row.clients,
                p.done,
                per_sec(p.rate()),
                ms(p.latency.p50),
                ms(p.latency.p99),
                p.errors + e_errors,
            );
        }
        out.push_str(
            "\nCPU during each run (a core is one of the machine's two):\n\n\
             | clients | apiserver CPU per create | apiserver cores | benchmark cores \
             | other processes | etcd CPU per put | etcd cores | benchmark cores \
             | other processes |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            let (e_op, e_cores, e_bench, e_others) = match &row.etcd {
                Some((e, cpu)) => (
                    cpu_per_op(cpu, e.done),
                    format!("{:.2}", cpu.server_cores()),
                    format!("{:.2}", cpu.bench_cores()),
                    format!("{:.2}", cpu.other_cores()),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.2} | {e_op} | {e_cores} | {e_bench} | {e_others} |",
                row.clients,
                cpu_per_op(&row.podium_cpu, row.podium.done),
                row.podium_cpu.server_cores(),
                row.podium_cpu.bench_cores(),
                row.podium_cpu.other_cores(),
            );
        }
        for row in &self.rows {
            if let Some(e) = row.podium.first_error.as_ref() {
                let _ = writeln!(out, "\nFirst Podium error ({} clients): {e}", row.clients);
            }
            if let Some(e) = row.etcd.as_ref().and_then(|(e, _)| e.first_error.as_ref()) {
                let _ = writeln!(out, "\nFirst etcd error ({} clients): {e}", row.clients);
            }
        }
        out
    }

    /// The target rows for the summary table.
    pub fn targets(&self) -> Vec<[String; 4]> {
        let Some(row) = self.rows.iter().find(|r| r.clients == TARGET_CLIENTS) else {
            return Vec::new();
        };
        let p = &row.podium;
        let mut targets = vec![
            [
                format!("creates/s, {TARGET_CLIENTS} clients"),
                format!("≥ {}", per_sec(TARGET_RATE)),
                per_sec(p.rate()),
                verdict(p.rate() >= TARGET_RATE && p.errors == 0).to_owned(),
            ],
            [
                format!("create p99, {TARGET_CLIENTS} clients"),
                format!("≤ {}", ms(TARGET_P99)),
                ms(p.latency.p99),
                verdict(p.latency.p99 <= TARGET_P99 && p.done > 0).to_owned(),
            ],
        ];
        if let Some((e, _)) = &row.etcd {
            targets.push([
                format!("creates/s vs etcd puts/s, {TARGET_CLIENTS} clients"),
                format!("≥ etcd ({})", per_sec(e.rate())),
                format!("{} ({:.2}×)", per_sec(p.rate()), p.rate() / e.rate().max(1.0)),
                verdict(p.rate() >= e.rate()).to_owned(),
            ]);
        }
        targets
    }
}
