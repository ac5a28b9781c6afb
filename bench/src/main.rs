//! `podium-bench`: benchmarks of Podium's apiserver, with etcd beside it for comparison.
//!
//! Each benchmark starts the real release `apiserver` binary (and, for creates, Debian's
//! `etcd`) on free 127.0.0.1 ports over fresh temporary data directories, drives it over gRPC,
//! and kills it at the end, also on an error or Ctrl-C. Progress goes to stderr; the results,
//! as markdown tables ready for BENCHMARKS.md, go to stdout.
//!
//! # Layout
//! - `creates`, `list`, `watch`: one benchmark each (the subcommands; `all` runs the three).
//! - `load`: the closed-loop load generator behind creates and the list's population.
//! - `process`: starting and stopping the servers. `etcd`: a minimal etcd client.
//! - `pods`: the pod every benchmark creates. `stats`: percentiles and number formats.

mod creates;
mod etcd;
mod list;
mod load;
mod pods;
mod process;
mod stats;
mod watch;

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::process::Binaries;

/// Benchmarks Podium's apiserver: durable creates (beside etcd), lists and watch fan-out.
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
    /// All three, one after the other, with one summary of the targets.
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
        () = interrupted() => None,
    };
    match finished {
        Some(result) => result,
        None => {
            progress(format_args!("interrupted; servers stopped"));
            std::process::exit(130)
        }
    }
}

async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
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
    Ok(Binaries {
        apiserver,
        etcd: cli.etcd.clone(),
        work_dir: cli.work_dir.clone().unwrap_or_else(std::env::temp_dir),
    })
}

/// Runs the chosen benchmarks, printing each one's results as it finishes and a summary of
/// the targets at the end (so a failure late in `all` keeps what came before).
async fn run(binaries: &Binaries, command: &Command) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    let (creates, list, watch) = match command {
        Command::Creates(args) => (Some(args), None, None),
        Command::List(args) => (None, Some(args), None),
        Command::Watch(args) => (None, None, Some(args)),
        Command::All(args) => (Some(&args.creates), Some(&args.list), Some(&args.watch)),
    };
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
    if !targets.is_empty() {
        let mut out = String::from("### Targets\n\n| what | target | measured | |\n|---|---|---|---|\n");
        for [what, target, measured, verdict] in targets {
            let _ = writeln!(out, "| {what} | {target} | {measured} | {verdict} |");
        }
        println!("{out}");
    }
    Ok(())
}
