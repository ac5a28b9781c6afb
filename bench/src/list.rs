//! `list`: full and label-selected lists of 10k and 100k pods.
//!
//! One apiserver is filled in steps (to 10k, then on to 100k) by 64 concurrent creators; 1% of
//! the pods carry `bench=selected`. At each size the benchmark times, several times, an
//! unpaged list of every pod and an unpaged list with the selector `bench=selected`, from
//! sending the request to holding the decoded `PodList` (so the client's decoding is part of
//! the time, as it is for any caller; the report shows how much by decoding the same bytes
//! again on their own).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use podium_client::{Client, ListParams};
use podium_proto::k8s::core::v1::{Pod, PodList};
use prost::Message;

use crate::load::{self, CreatePod};
use crate::pods::{self, NAMESPACE, SELECTED, SELECTOR_LABEL};
use crate::process::{self, Binaries, CpuMeter, CpuUse};
use crate::stats::{median, ms, per_sec, verdict};

/// The pod count the targets are stated for, and the targets.
const TARGET_PODS: u64 = 100_000;
const TARGET_SELECTOR: Duration = Duration::from_millis(50);
const TARGET_FULL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// Pod counts to list at, filled in increasing order.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub pods: Vec<u64>,
    /// Timed lists of each kind at each size.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Concurrent creators filling the store.
    #[arg(long, default_value_t = 64)]
    pub populate_clients: usize,
    /// Time limit for filling the store to one size.
    #[arg(long, default_value_t = 600)]
    pub populate_max_seconds: u64,
}

/// The timings of one kind of list at one size.
#[derive(Debug)]
pub struct Timing {
    pods: u64,
    selector: bool,
    items: usize,
    bytes: usize,
    times: Vec<Duration>,
    /// Decoding the response's bytes alone, once, in this process.
    decode: Duration,
    /// CPU over all repetitions.
    cpu: CpuUse,
}

impl Timing {
    fn min(&self) -> Duration {
        self.times.iter().min().copied().unwrap_or_default()
    }
    fn median(&self) -> Duration {
        median(&self.times)
    }
}

#[derive(Debug)]
pub struct Report {
    populate_clients: usize,
    populate: Vec<(u64, f64)>,
    timings: Vec<Timing>,
}

pub async fn run(binaries: &Binaries, args: &ListArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.reps > 0, "--reps must be positive");
    anyhow::ensure!(args.populate_clients > 0, "--populate-clients must be positive");
    let mut sizes = args.pods.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let apiserver = process::start_apiserver(binaries).await?;
    crate::progress(format_args!(
        "list: apiserver pid {} on {}",
        apiserver.pid(),
        apiserver.url
    ));
    let client = Client::new(&apiserver.url)?;
    let pods = client.resource::<Pod>(NAMESPACE);
    let mut report = Report {
        populate_clients: args.populate_clients,
        populate: Vec::new(),
        timings: Vec::new(),
    };
    let mut have = 0;
    for size in sizes {
        let creators = (0..args.populate_clients)
            .map(|_| {
                Ok(CreatePod {
                    pods: Client::new(&apiserver.url)?.resource(NAMESPACE),
                    prefix: "pod".to_owned(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let label = format!("list: filling to {size} pods");
        let limit = Duration::from_secs(args.populate_max_seconds);
        let filled = load::run(&label, creators, have..size, limit).await?;
        anyhow::ensure!(
            filled.errors == 0 && filled.done == size - have,
            "{label}: {} created, {} failed (first: {})",
            filled.done,
            filled.errors,
            filled.first_error.as_deref().unwrap_or("none")
        );
        crate::progress(format_args!(
            "{label}: done in {:.1} s ({})",
            filled.elapsed.as_secs_f64(),
            per_sec(filled.rate())
        ));
        report.populate.push((size, filled.rate()));
        have = size;

        for selector in [false, true] {
            let params = ListParams {
                label_selector: if selector {
                    format!("{SELECTOR_LABEL}={SELECTED}")
                } else {
                    String::new()
                },
                ..Default::default()
            };
            let expected = if selector { pods::selected_among(size) } else { size };
            let mut timing = Timing {
                pods: size,
                selector,
                items: 0,
                bytes: 0,
                times: Vec::with_capacity(args.reps),
                decode: Duration::ZERO,
                cpu: CpuUse::default(),
            };
            let cpu = CpuMeter::start(&apiserver);
            for rep in 0..args.reps {
                let sent = Instant::now();
                let list = pods.list(&params).await?;
                let took = sent.elapsed();
                timing.times.push(took);
                timing.items = list.items.len();
                anyhow::ensure!(
                    u64::try_from(list.items.len()).ok() == Some(expected),
                    "list {:?} of {size} pods returned {} items, expected {expected}",
                    params.label_selector,
                    list.items.len()
                );
                if rep == 0 {
                    let bytes = list.encode_to_vec();
                    timing.bytes = bytes.len();
                    drop(list);
                    let decoding = Instant::now();
                    let decoded = PodList::decode(bytes.as_slice())?;
                    timing.decode = decoding.elapsed();
                    drop(decoded);
                }
                crate::progress(format_args!(
                    "list {} of {size} pods, rep {}: {} items in {}",
                    if selector { "bench=selected" } else { "all" },
                    rep + 1,
                    expected,
                    ms(took)
                ));
            }
            timing.cpu = cpu.stop(&apiserver);
            report.timings.push(timing);
        }
    }
    Ok(report)
}

impl Report {
    /// The markdown section for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut out = String::from("### Lists\n\n");
        for (size, rate) in &self.populate {
            let _ = writeln!(
                out,
                "Filled to {size} pods at {} ({} clients).",
                per_sec(*rate),
                self.populate_clients
            );
        }
        out.push_str(
            "\n| pods | list | items | response | min | median | of which client decode \
             | apiserver CPU per list | other processes |\n",
        );
        out.push_str("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for t in &self.timings {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} cores |",
                t.pods,
                if t.selector { "`bench=selected`" } else { "all" },
                t.items,
                size(t.bytes),
                ms(t.min()),
                ms(t.median()),
                ms(t.decode),
                ms(t.cpu.server / u32::try_from(t.times.len().max(1)).unwrap_or(1)),
                t.cpu.other_cores(),
            );
        }
        out
    }

    /// The target rows for the summary table.
    pub fn targets(&self) -> Vec<[String; 4]> {
        let mut targets = Vec::new();
        for t in self.timings.iter().filter(|t| t.pods == TARGET_PODS) {
            let (what, target) = if t.selector {
                ("selector list (1%)", TARGET_SELECTOR)
            } else {
                ("full list", TARGET_FULL)
            };
            targets.push([
                format!("{what}, {TARGET_PODS} pods (median)"),
                format!("≤ {}", ms(target)),
                ms(t.median()),
                verdict(t.median() <= target).to_owned(),
            ]);
        }
        targets
    }
}

/// A response size in KiB or MiB.
fn size(bytes: usize) -> String {
    let kib = bytes as f64 / 1024.0;
    if kib < 1024.0 {
        format!("{kib:.1} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}
