//! `podium-bench`: benchmarks of Podium's apiserver, with etcd beside it for comparison, and
//! of its scheduler.
//!
//! Each benchmark starts the real release `apiserver` binary (and, for creates, Debian's
//! `etcd`; for scheduling, the release `scheduler` binary) on free 127.0.0.1 ports over fresh
//! temporary data directories, drives it over gRPC (and REST), and kills it at the end, also
//! on an error or Ctrl-C. Progress goes to stderr; the results, as markdown tables ready for
//! BENCHMARKS.md, go to stdout.
//!
//! # Layout
//! - `creates`, `list`, `watch`, `rest`, `scheduler`, `startup`, `traces`: one benchmark each (the
//!   subcommands; `all` runs the first six, the scheduler's and start-up's at their default
//!   sizes; `traces` compares span export off and on).
//! - `load`: the closed-loop load generator behind creates and the list's population.
//! - `process`: starting and stopping the servers (and the scheduler). `etcd`: a minimal etcd
//!   client.
//! - `pods`: the pod every benchmark creates. `stats`: percentiles and number formats.

mod creates;
mod etcd;
mod list;
mod load;
mod pods;
mod process;
mod rest;
mod scheduler;
mod startup;
mod stats;
mod traces;
mod watch;

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::process::Binaries;

/// Benchmarks Podium's apiserver (durable creates beside etcd, lists, watch fan-out, REST
/// beside gRPC) and its scheduler (scheduler_perf-shaped workloads).
///
/// Starts the servers itself on 127.0.0.1 and removes everything it made when it ends.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The apiserver binary (default: `apiserver` next to this executable, i.e.
    /// target/release/apiserver).
    #[arg(long, env = "PODIUM_BENCH_APISERVER", global = true)]
    apiserver: Option<PathBuf>,
    /// The etcd binary (Debian's etcd-server package).
    #[arg(long, env = "PODIUM_BENCH_ETCD", default_value = "/usr/bin/etcd", global = true)]
    etcd: PathBuf,
    /// The scheduler binary (default: `scheduler` next to this executable, i.e.
    /// target/release/scheduler).
    #[arg(long, env = "PODIUM_BENCH_SCHEDULER", global = true)]
    scheduler_bin: Option<PathBuf>,
    /// Where the servers' temporary data directories go (default: the system's temporary
    /// directory). Use a real disk: on tmpfs, fsync is free.
    #[arg(long, env = "PODIUM_BENCH_WORK_DIR", global = true)]
    work_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Durable pod creates with 1 and 64 clients, and etcd puts of the same size.
    Creates(creates::CreatesArgs),
    /// Full and label-selected lists of 10k and 100k pods.
    List(list::ListArgs),
    /// Watch fan-out: 1000 watchers while pods are created at 1000/s.
    Watch(watch::WatchArgs),
    /// Creates over REST (HTTP/1.1, JSON) beside gRPC, and reads of one pod at 1000/s.
    Rest(rest::RestArgs),
    /// The scheduler end to end: SchedulingBasic, TopologySpreading, PreemptionBasic.
    Scheduler(scheduler::SchedulerArgs),
    /// Pod start-up on one node (apiserver + agent on Docker) beside raw Docker, and a full
    /// node of 110 pods.
    Startup(startup::StartupArgs),
    /// Durable creates with the apiserver's span export off and on, alternating.
    Traces(traces::TracesArgs),
    /// All six, one after the other (the scheduler's and start-up's at their default sizes),
    /// with one summary of the targets.
    All(AllArgs),
}

#[derive(Debug, clap::Args)]
struct AllArgs {
    #[command(flatten)]
    creates: creates::CreatesArgs,
    #[command(flatten)]
    list: list::ListArgs,
    #[command(flatten)]
    watch: watch::WatchArgs,
    #[command(flatten)]
    rest: rest::RestArgs,
    /// Leave out the scheduler benchmark (about a minute and a half at its default sizes;
    /// run `podium-bench scheduler` for other sizes).
    #[arg(long)]
    no_scheduler: bool,
    /// Leave out the pod start-up benchmark (it needs Docker Engine).
    #[arg(long)]
    no_startup: bool,
}

/// Prints a progress line to stderr.
pub fn progress(line: std::fmt::Arguments<'_>) {
    eprintln!("[podium-bench] {line}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let binaries = binaries(&cli)?;
    // Dropping the benchmark's future drops its servers, which kills them: by the end of the
    // `select!` they are gone, whichever branch won.
    let finished = tokio::select! {
        result = run(&binaries, &cli.command) => Some(result),
        () = podium_client::signals::terminated() => None,
    };
    match finished {
        Some(result) => result,
        None => {
            progress(format_args!("interrupted; servers stopped"));
            std::process::exit(130)
        }
    }
}

fn binaries(cli: &Cli) -> anyhow::Result<Binaries> {
    let apiserver = match &cli.apiserver {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("locating this executable")?
            .with_file_name("apiserver"),
    };
    anyhow::ensure!(
        apiserver.exists(),
        "{} not found: build it with `cargo build --release -p podium-apiserver` or pass \
         --apiserver",
        apiserver.display()
    );
    let scheduler = match &cli.scheduler_bin {
        Some(path) => path.clone(),
        None => apiserver.with_file_name("scheduler"),
    };
    let pause = apiserver
        .parent()
        .and_then(|release| release.parent())
        .and_then(|target| target.parent())
        .map_or_else(
            || PathBuf::from("pause"),
            |root| root.join("pause/target/release/pause"),
        );
    Ok(Binaries {
        agent: apiserver.with_file_name("agent"),
        pause,
        apiserver,
        etcd: cli.etcd.clone(),
        scheduler,
        work_dir: cli.work_dir.clone().unwrap_or_else(std::env::temp_dir),
    })
}

/// Runs the chosen benchmarks, printing each one's results as it finishes and a summary of
/// the targets at the end (so a failure late in `all` keeps what came before).
async fn run(binaries: &Binaries, command: &Command) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    let default_scheduler_args;
    let default_startup_args;
    let (mut creates, mut list, mut watch, mut rest, mut scheduler) = (None, None, None, None, None);
    let mut startup = None;
    match command {
        Command::Creates(args) => creates = Some(args),
        Command::List(args) => list = Some(args),
        Command::Watch(args) => watch = Some(args),
        Command::Rest(args) => rest = Some(args),
        Command::Scheduler(args) => scheduler = Some(args),
        Command::Startup(args) => startup = Some(args),
        Command::Traces(args) => {
            let r = traces::run(binaries, args).await?;
            println!("{}", r.markdown());
            targets.extend(r.targets());
        }
        Command::All(args) => {
            if !args.no_startup {
                default_startup_args = startup::StartupArgs {
                    sequential: 20,
                    burst: 30,
                    full: 110,
                };
                startup = Some(&default_startup_args);
            }
            (creates, list, watch, rest) = (
                Some(&args.creates),
                Some(&args.list),
                Some(&args.watch),
                Some(&args.rest),
            );
            if !args.no_scheduler {
                default_scheduler_args = scheduler::SchedulerArgs::defaults();
                scheduler = Some(&default_scheduler_args);
            }
        }
    }
    // Before minutes of other benchmarks, not after.
    anyhow::ensure!(
        scheduler.is_none() || binaries.scheduler.exists(),
        "{} not found: build it with `cargo build --release -p podium-scheduler`, pass \
         --scheduler-bin, or leave the scheduler out with --no-scheduler",
        binaries.scheduler.display()
    );
    if let Some(args) = creates {
        let r = creates::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if let Some(args) = list {
        let r = list::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if let Some(args) = watch {
        let r = watch::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if let Some(args) = rest {
        let r = rest::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if let Some(args) = scheduler {
        let r = scheduler::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if let Some(args) = startup {
        let r = startup::run(binaries, args).await?;
        println!("{}", r.markdown());
        targets.extend(r.targets());
    }
    if !targets.is_empty() {
        let mut out = String::from("### Targets\n\n| what | target | measured | |\n|---|---|---|---|\n");
        for [what, target, measured, verdict] in targets {
            let _ = writeln!(out, "| {what} | {target} | {measured} | {verdict} |");
        }
        println!("{out}");
    }
    Ok(())
}
