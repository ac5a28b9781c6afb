//! `traces`: the cost of exporting spans. Durable pod creates over gRPC against a fresh
//! apiserver with span export off (no `OTEL_EXPORTER_OTLP_ENDPOINT`: spans are made, for ids
//! and propagation, but not exported) and on (exported over OTLP/gRPC to an in-process
//! receiver that keeps them), alternating over several rounds in one run.

use std::fmt::Write as _;
use std::time::Duration;

use podium_client::Client;
use podium_e2e::otlp;

use crate::load::{self, CreatePod, LoadResult};
use crate::pods::NAMESPACE;
use crate::process::{self, Binaries, CpuMeter, CpuUse};
use crate::stats::{ms, per_sec, verdict};

/// Export may cost at most this share of the create rate.
const TARGET_SLOWDOWN: f64 = 0.10;

#[derive(Debug, Clone, clap::Args)]
pub struct TracesArgs {
    /// Concurrent clients.
    #[arg(long = "trace-clients", default_value_t = 64)]
    pub clients: usize,
    /// Creates per run.
    #[arg(long = "trace-count", default_value_t = 10_000)]
    pub count: u64,
    /// Rounds of export off, then on.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// One run's results.
#[derive(Debug)]
struct Run {
    export: bool,
    result: LoadResult,
    cpu: CpuUse,
    /// Spans the receiver got during the run (and until the next one starts).
    spans: usize,
}

#[derive(Debug)]
pub struct Report {
    clients: usize,
    runs: Vec<Run>,
}

pub async fn run(binaries: &Binaries, args: &TracesArgs) -> anyhow::Result<Report> {
    let (addr, sink) = otlp::serve().await?;
    let endpoint = format!("http://{addr}");
    let mut runs = Vec::new();
    for round in 0..args.rounds {
        for export in [false, true] {
            let env: Vec<(&str, &str)> = if export {
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]
            } else {
                Vec::new()
            };
            let apiserver = process::start_apiserver_with(binaries, &env).await?;
            let connections: Vec<Client> = (0..args.clients)
                .map(|_| Client::new(&apiserver.url))
                .collect::<Result<_, _>>()?;
            let requests = connections
                .iter()
                .map(|c| CreatePod {
                    pods: c.resource(NAMESPACE),
                    prefix: format!("r{round}"),
                })
                .collect();
            let label = format!(
                "creates, export {}, round {}",
                if export { "on" } else { "off" },
                round + 1
            );
            let before = sink.count();
            let cpu = CpuMeter::start(&apiserver);
            let result = load::run(&label, requests, 0..args.count, Duration::from_secs(120)).await?;
            let cpu = cpu.stop(&apiserver);
            // Let the last batch arrive before the server goes.
            tokio::time::sleep(Duration::from_secs(6)).await;
            let spans = sink.count() - before;
            crate::progress(format_args!(
                "{label}: {} in {:.1} s = {}, p99 {}, {spans} spans received",
                result.done,
                result.elapsed.as_secs_f64(),
                per_sec(result.rate()),
                ms(result.latency.p99)
            ));
            runs.push(Run {
                export,
                result,
                cpu,
                spans,
            });
        }
    }
    Ok(Report {
        clients: args.clients,
        runs,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

impl Report {
    fn median_rate(&self, export: bool) -> f64 {
        median(
            self.runs
                .iter()
                .filter(|r| r.export == export)
                .map(|r| r.result.rate())
                .collect(),
        )
    }

    /// How much slower creates are with export on (the medians of the rounds).
    fn slowdown(&self) -> f64 {
        let off = self.median_rate(false);
        if off > 0.0 {
            1.0 - self.median_rate(true) / off
        } else {
            0.0
        }
    }

    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Span export\n\nDurable creates over gRPC, {} clients, a fresh apiserver per run; \
             export off and on alternate.\n\n| run | export | creates | rate | p50 | p99 | apiserver \
             CPU | others' CPU | spans received | errors |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.clients
        );
        for (i, run) in self.runs.iter().enumerate() {
            let r = &run.result;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.1} s | {:.1} s | {} | {} |",
                i + 1,
                if run.export { "on" } else { "off" },
                r.done,
                per_sec(r.rate()),
                ms(r.latency.p50),
                ms(r.latency.p99),
                run.cpu.server.as_secs_f64(),
                run.cpu.others.as_secs_f64(),
                run.spans,
                r.errors,
            );
        }
        let _ = writeln!(
            out,
            "\nMedian rate: {} with export off, {} with export on: {:.1}% slower.",
            per_sec(self.median_rate(false)),
            per_sec(self.median_rate(true)),
            self.slowdown() * 100.0
        );
        out
    }

    pub fn targets(&self) -> Vec<[String; 4]> {
        vec![[
            "creates/s with span export on vs off".to_owned(),
            format!("< {:.0}% slower", TARGET_SLOWDOWN * 100.0),
            format!("{:.1}% slower", self.slowdown() * 100.0),
            verdict(self.slowdown() < TARGET_SLOWDOWN).to_owned(),
        ]]
    }
}
