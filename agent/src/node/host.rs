//! Facts about the machine the agent runs on, for its Node: CPUs and memory (from the cgroup
//! the agent runs in when it is limited, else the host), disk, OS and kernel, identities and
//! addresses.

use std::net::IpAddr;
use std::path::Path;

/// What the Node reports about its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub cpus: u64,
    pub memory_bytes: u64,
    pub ephemeral_storage_bytes: u64,
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub hostname: String,
    pub internal_ip: Option<IpAddr>,
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// CPUs: the cgroup v2 quota if one is set (rounded up), else the host's.
fn cpus() -> u64 {
    let host = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let quota = read_trimmed("/sys/fs/cgroup/cpu.max").and_then(|max| {
        let mut parts = max.split_whitespace();
        let quota: u64 = parts.next()?.parse().ok()?;
        let period: u64 = parts.next()?.parse().ok()?;
        (period > 0).then(|| quota.div_ceil(period))
    });
    quota.map_or(host, |q| q.clamp(1, host))
}

/// Memory: the cgroup v2 limit if one is set, else MemTotal.
fn memory_bytes() -> u64 {
    let total = read_trimmed("/proc/meminfo")
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0);
    let limit = read_trimmed("/sys/fs/cgroup/memory.max").and_then(|m| m.parse::<u64>().ok());
    limit.map_or(total, |l| l.min(total))
}

fn os_image() -> String {
    read_trimmed("/etc/os-release")
        .and_then(|release| {
            let line = release.lines().find(|l| l.starts_with("PRETTY_NAME="))?;
            Some(line.trim_start_matches("PRETTY_NAME=").trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "Linux".into())
}

/// The size of the filesystem holding `dir` (std has no statvfs; coreutils' `df` is on every
/// Debian machine and in the agent's image). 0 when it cannot be read.
fn storage_bytes(dir: &Path) -> u64 {
    // `df --output=size -B1 DIR` is on every Debian machine and container image with coreutils.
    let output = std::process::Command::new("df")
        .args(["--output=size", "-B1"])
        .arg(dir)
        .output();
    output
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|text| text.lines().nth(1).and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0)
}

/// The machine's first local IPv4 address outside 127.0.0.0/8, from the kernel's routing
/// table (`/proc/net/fib_trie` lists each local address before a `/32 host LOCAL` line).
fn internal_ip() -> Option<IpAddr> {
    let trie = read_trimmed("/proc/net/fib_trie")?;
    let mut previous = "";
    for line in trie.lines() {
        if line.contains("/32 host LOCAL")
            && let Some(ip) = previous.rsplit(' ').next().and_then(|s| s.parse::<IpAddr>().ok())
            && !ip.is_loopback()
        {
            return Some(ip);
        }
        previous = line;
    }
    None
}

impl HostFacts {
    /// Reads the facts of this machine; `root_dir` is where pod data lives (its disk is the
    /// node's ephemeral storage).
    pub fn read(root_dir: &Path) -> Self {
        HostFacts {
            cpus: cpus(),
            memory_bytes: memory_bytes(),
            ephemeral_storage_bytes: storage_bytes(root_dir),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
            os_image: os_image(),
            machine_id: read_trimmed("/etc/machine-id").unwrap_or_default(),
            system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid").unwrap_or_default(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            hostname: read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default(),
            internal_ip: internal_ip(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_sensible_facts() {
        let facts = HostFacts::read(Path::new("/"));
        assert!(facts.cpus >= 1);
        assert!(facts.memory_bytes > 64 * 1024 * 1024);
        assert!(facts.ephemeral_storage_bytes > 0);
        assert!(!facts.kernel_version.is_empty());
        assert!(!facts.boot_id.is_empty());
    }
}
