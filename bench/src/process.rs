//! The servers under test: the release `apiserver` binary and Debian's `etcd`, each started on
//! free loopback ports over a fresh temporary data directory, and the release `scheduler`
//! binary pointed at an apiserver; each is killed (with its directory removed) when its
//! `Service` is dropped, whether the benchmark finished, failed or was interrupted.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use podium_client::{Client, ListParams};
use podium_proto::k8s::core::v1::Pod;
use tempfile::TempDir;

use crate::etcd::EtcdKv;
use crate::pods::NAMESPACE;

/// How long a server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the servers' binaries are and where their data directories go.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub apiserver: PathBuf,
    pub etcd: PathBuf,
    /// Only the scheduler benchmark needs it; it checks that it exists.
    pub scheduler: PathBuf,
    /// Only the start-up benchmark needs the agent and the pause program.
    pub agent: PathBuf,
    pub pause: PathBuf,
    /// The parent of each server's temporary data directory. It should be on a real disk:
    /// on tmpfs an fsync costs nothing and "durable" means nothing.
    pub work_dir: PathBuf,
}

/// A running server process. Dropping it kills the process, waits for it, and removes its
/// data directory.
pub struct Service {
    name: &'static str,
    child: Child,
    /// Holds the data directory (and the log) until the process is gone.
    dir: TempDir,
    pub url: String,
}

impl Service {
    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails if the process has already exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); its log ends:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    /// The process id, for `perf record -p`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The whole log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Resident memory now and at its peak, from `/proc/<pid>/status`.
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        Memory {
            rss: status_kib(&status, "VmRSS:") * 1024,
            peak: status_kib(&status, "VmHWM:") * 1024,
        }
    }

    /// CPU time (user and system) the server has used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// A process's resident memory, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss: u64,
    /// VmHWM: the most it has been resident at once.
    pub peak: u64,
}

/// A `kB` field of `/proc/<pid>/status` (zero when missing).
fn status_kib(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user and system) this benchmark process has used so far.
pub fn own_cpu_time() -> Duration {
    cpu_time("/proc/self/stat")
}

/// utime + stime from a `/proc/<pid>/stat` file (zero where there is no procfs).
fn cpu_time(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    parse_cpu_ticks(&stat).map_or(Duration::ZERO, |ticks| {
        // USER_HZ is 100 on every Linux architecture this runs on.
        Duration::from_millis(ticks * 10)
    })
}

/// The sum of fields 14 and 15 (utime, stime) of a stat line. The command name (field 2) is
/// in parentheses and may contain spaces, so fields are counted after the last ')'.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU time all processes on the machine have used since boot (every field of /proc/stat's
/// `cpu` line but idle and iowait).
pub fn machine_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_machine_ticks(&stat).map_or(Duration::ZERO, |ticks| Duration::from_millis(ticks * 10))
}

fn parse_machine_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| fields.get(*i)).sum();
    Some(busy)
}

/// CPU used by a server, by this benchmark and by everything else over an interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server: Duration,
    pub bench: Duration,
    /// Everything else on the machine: other people's builds show up here, and make the
    /// numbers of that run suspect.
    pub others: Duration,
    pub wall: Duration,
}

/// Starts measuring the CPU a server and this benchmark use.
pub struct CpuMeter {
    server: Duration,
    bench: Duration,
    machine: Duration,
    started: Instant,
}

impl CpuMeter {
    pub fn start(server: &Service) -> Self {
        CpuMeter {
            server: server.cpu_time(),
            bench: own_cpu_time(),
            machine: machine_cpu_time(),
            started: Instant::now(),
        }
    }

    pub fn stop(self, server: &Service) -> CpuUse {
        let server = server.cpu_time().saturating_sub(self.server);
        let bench = own_cpu_time().saturating_sub(self.bench);
        let machine = machine_cpu_time().saturating_sub(self.machine);
        CpuUse {
            server,
            bench,
            others: machine.saturating_sub(server + bench),
            wall: self.started.elapsed(),
        }
    }
}

impl CpuUse {
    fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// The server's average CPU use over the interval, in cores.
    pub fn server_cores(&self) -> f64 {
        self.cores(self.server)
    }

    /// This benchmark's average CPU use over the interval, in cores.
    pub fn bench_cores(&self) -> f64 {
        self.cores(self.bench)
    }

    /// Everything else's average CPU use over the interval, in cores.
    pub fn other_cores(&self) -> f64 {
        self.cores(self.others)
    }

    /// "apiserver 1.52 cores, benchmark 0.31 cores, other processes 0.01 cores".
    pub fn describe(&self, server: &str) -> String {
        format!(
            "{server} {:.2} cores, benchmark {:.2} cores, other processes {:.2} cores",
            self.server_cores(),
            self.bench_cores(),
            self.other_cores()
        )
    }
}

/// CPU used by several servers, this benchmark and everything else over an interval.
#[derive(Debug, Clone, Default)]
pub struct GroupCpuUse {
    /// In the order the servers were given.
    pub servers: Vec<Duration>,
    pub bench: Duration,
    pub others: Duration,
    pub wall: Duration,
}

/// Starts measuring the CPU several servers and this benchmark use.
pub struct GroupCpuMeter {
    servers: Vec<Duration>,
    bench: Duration,
    machine: Duration,
    started: Instant,
}

impl GroupCpuMeter {
    pub fn start(servers: &[&Service]) -> Self {
        GroupCpuMeter {
            servers: servers.iter().map(|s| s.cpu_time()).collect(),
            bench: own_cpu_time(),
            machine: machine_cpu_time(),
            started: Instant::now(),
        }
    }

    /// The same servers, in the same order, as `start` was given.
    pub fn stop(self, servers: &[&Service]) -> GroupCpuUse {
        let used: Vec<Duration> = servers
            .iter()
            .zip(&self.servers)
            .map(|(s, before)| s.cpu_time().saturating_sub(*before))
            .collect();
        let bench = own_cpu_time().saturating_sub(self.bench);
        let machine = machine_cpu_time().saturating_sub(self.machine);
        let known = used.iter().sum::<Duration>() + bench;
        GroupCpuUse {
            servers: used,
            bench,
            others: machine.saturating_sub(known),
            wall: self.started.elapsed(),
        }
    }
}

impl GroupCpuUse {
    /// Average use over the interval, in cores.
    pub fn cores(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// Server `i`'s average use, in cores.
    pub fn server_cores(&self, i: usize) -> f64 {
        self.cores(self.servers.get(i).copied().unwrap_or_default())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGKILL: the data is thrown away, so there is nothing to flush.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn spawn(
    name: &'static str,
    binary: &Path,
    work_dir: &Path,
    configure: impl FnOnce(&mut Command, &Path),
) -> anyhow::Result<(Child, TempDir)> {
    std::fs::create_dir_all(work_dir).with_context(|| format!("creating work directory {}", work_dir.display()))?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("podium-bench-{name}-"))
        .tempdir_in(work_dir)
        .with_context(|| format!("creating a data directory in {}", work_dir.display()))?;
    let log = File::create(dir.path().join("server.log"))?;
    let mut command = Command::new(binary);
    command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    configure(&mut command, dir.path());
    let child = command
        .spawn()
        .with_context(|| format!("starting {name} ({})", binary.display()))?;
    Ok((child, dir))
}

/// Starts the apiserver binary and waits until it answers a list.
pub async fn start_apiserver(binaries: &Binaries) -> anyhow::Result<Service> {
    start_apiserver_with(binaries, &[]).await
}

/// `start_apiserver` with extra environment (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
pub async fn start_apiserver_with(binaries: &Binaries, env: &[(&str, &str)]) -> anyhow::Result<Service> {
    let port = free_port()?;
    let (child, dir) = spawn("apiserver", &binaries.apiserver, &binaries.work_dir, |c, dir| {
        c.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied());
    })?;
    let mut service = Service {
        name: "apiserver",
        child,
        dir,
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = Client::new(&service.url)?;
    let pods = client.resource::<Pod>(NAMESPACE);
    let probe = ListParams {
        limit: 1,
        ..Default::default()
    };
    wait_ready(&mut service, || async { pods.list(&probe).await.is_ok() }).await?;
    Ok(service)
}

/// Starts the scheduler binary against `apiserver_url` and waits until it has filled its
/// caches and started scheduling (it logs "scheduling" then; it serves no port to probe).
pub async fn start_scheduler(binaries: &Binaries, apiserver_url: &str) -> anyhow::Result<Service> {
    if !binaries.scheduler.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p podium-scheduler` or pass \
             --scheduler-bin",
            binaries.scheduler.display()
        );
    }
    let (child, dir) = spawn("scheduler", &binaries.scheduler, &binaries.work_dir, |c, _| {
        c.arg("--apiserver")
            .arg(apiserver_url)
            .args(["--listen", "127.0.0.1:0"])
            // Info shows each preemption and each failed binding, and the "scheduling" line
            // this waits for; nothing is logged per pod otherwise.
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
    })?;
    let service = Service {
        name: "scheduler",
        child,
        dir,
        url: apiserver_url.to_owned(),
    };
    wait_for_log(service, "podium_scheduler::scheduler: scheduling").await
}

/// Starts the agent binary for node `node` with its pods on Docker network `network`, and
/// waits until it logs that it watches its pods.
pub async fn start_agent(
    binaries: &Binaries,
    apiserver_url: &str,
    node: &str,
    network: &str,
) -> anyhow::Result<Service> {
    for (what, path) in [("agent", &binaries.agent), ("pause", &binaries.pause)] {
        if !path.exists() {
            bail!(
                "{} not found: build the {what} first (bench/run.sh does)",
                path.display()
            );
        }
    }
    let (child, dir) = spawn("agent", &binaries.agent, &binaries.work_dir, |c, dir| {
        c.arg("--apiserver")
            .arg(apiserver_url)
            .arg("--node-name")
            .arg(node)
            .arg("--pod-network")
            .arg(network)
            .arg("--root-dir")
            .arg(dir.join("root"))
            .arg("--pause-binary")
            .arg(&binaries.pause)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("RUST_LOG", "warn,podium_agent::pod::manager=info")
            .env("NO_COLOR", "1");
    })?;
    let service = Service {
        name: "agent",
        child,
        dir,
        url: apiserver_url.to_owned(),
    };
    wait_for_log(service, "watching the node's pods").await
}

/// Waits until the service's log holds `line` (for components that serve no port to probe).
async fn wait_for_log(mut service: Service, line: &str) -> anyhow::Result<Service> {
    let log = service.dir.path().join("server.log");
    wait_ready(&mut service, || {
        let started = std::fs::read_to_string(&log).unwrap_or_default().contains(line);
        async move { started }
    })
    .await?;
    Ok(service)
}

/// Starts a single-member etcd on loopback and waits until it takes a put.
pub async fn start_etcd(binaries: &Binaries) -> anyhow::Result<Service> {
    if !binaries.etcd.exists() {
        bail!(
            "{} not found: install Debian's etcd-server (bench/run.sh does) or pass --etcd",
            binaries.etcd.display()
        );
    }
    let client_port = free_port()?;
    let peer_port = free_port()?;
    let client_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let (child, dir) = spawn("etcd", &binaries.etcd, &binaries.work_dir, |c, dir| {
        // Settings in the environment (ETCD_*) would override nothing we pass, but could add
        // listeners on other addresses; start from a clean slate.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                c.env_remove(key);
            }
        }
        if let Some(arch) = unsupported_etcd_arch() {
            c.env("ETCD_UNSUPPORTED_ARCH", arch);
        }
        c.arg("--name")
            .arg("bench")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("bench={peer_url}"))
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr")
            .arg("--log-level")
            .arg("warn");
    })?;
    let mut service = Service {
        name: "etcd",
        child,
        dir,
        url: client_url,
    };
    let kv = EtcdKv::connect_lazy(&service.url)?;
    wait_ready(&mut service, || {
        let mut kv = kv.clone();
        async move { kv.put(b"/podium-bench/ready".to_vec(), "1".into()).await.is_ok() }
    })
    .await?;
    Ok(service)
}

/// etcd 3.4 refuses to start on architectures other than amd64 unless told this.
fn unsupported_etcd_arch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => None,
        "aarch64" => Some("arm64"),
        "powerpc64" => Some("ppc64le"),
        "s390x" => Some("s390x"),
        other => Some(other),
    }
}

/// Polls `ready` until it says yes, the process dies, or `READY_TIMEOUT` passes.
async fn wait_ready<F, Fut>(service: &mut Service, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < READY_TIMEOUT {
        service.check_alive()?;
        if ready().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "{} did not answer on {} within {READY_TIMEOUT:?}; its log ends:\n{}",
        service.name,
        service.url,
        service.log_tail()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat = "42 (tokio (rt) 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(281));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn memory_fields_are_read_in_kib() {
        let status = "Name:\tscheduler\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), 102_400);
        assert_eq!(status_kib(status, "VmHWM:"), 204_800);
        assert_eq!(status_kib(status, "VmSwap:"), 0);
    }

    #[test]
    fn machine_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 2 30 9000 50 4 5 6 0 0\ncpu0 50 1 15 4500 25 2 2 3 0 0\n";
        assert_eq!(parse_machine_ticks(stat), Some(100 + 2 + 30 + 4 + 5 + 6));
    }
}
