//! The pause program as the runtime uses it: version, clean exit on signals, size, and
//! reaping zombies when it is PID 1 of a pod's PID namespace.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const PAUSE: &str = env!("CARGO_BIN_EXE_pause");

fn wait(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < within, "pause did not exit within {within:?}");
        sleep(Duration::from_millis(20));
    }
}

#[test]
fn prints_its_version() {
    let out = Command::new(PAUSE).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("pause (podium) {}\n", env!("CARGO_PKG_VERSION"))
    );
    let bad = Command::new(PAUSE).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn exits_zero_on_sigterm_and_sigint() {
    for signal in ["-TERM", "-INT"] {
        let mut child = Command::new(PAUSE).stdout(Stdio::null()).spawn().unwrap();
        sleep(Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "pause keeps running");
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let status = wait(&mut child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "{signal}");
    }
}

#[test]
fn is_static_and_small() {
    let size = std::fs::metadata(PAUSE).unwrap().len();
    assert!(size <= 100 * 1024, "pause is {size} bytes");
    let elf = std::fs::read(PAUSE).unwrap();
    // No PT_INTERP program header: nothing to load at run time.
    assert!(
        !elf.windows(b"ld-linux".len()).any(|w| w == b"ld-linux"),
        "pause is dynamically linked"
    );
}

fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if ppid == pid {
            out.push((child, state));
        }
    }
    out
}

#[test]
fn reaps_orphans_as_pid_one() {
    if !Path::new("/usr/bin/unshare").exists() || !Path::new("/usr/bin/nsenter").exists() {
        panic!("this test needs unshare and nsenter (util-linux)");
    }
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", PAUSE])
        .spawn()
        .unwrap();
    let pause = {
        let start = Instant::now();
        loop {
            if let Some((pid, _)) = children_of(unshare.id()).first() {
                break *pid;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "pause did not start in its namespace"
            );
            sleep(Duration::from_millis(20));
        }
    };
    // A shell in pause's PID namespace starts `sleep` and exits: `sleep` is orphaned to pause.
    let status = Command::new("nsenter")
        .args([
            "--target",
            &pause.to_string(),
            "--pid",
            "--",
            "sh",
            "-c",
            "sleep 1 & exit 0",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    sleep(Duration::from_millis(300));
    assert!(!children_of(pause).is_empty(), "the orphan was re-parented to pause");
    sleep(Duration::from_millis(1500));
    let zombies: Vec<_> = children_of(pause)
        .into_iter()
        .filter(|(_, state)| *state == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");
    Command::new("kill")
        .args(["-TERM", &pause.to_string()])
        .status()
        .unwrap();
    let status = wait(&mut unshare, Duration::from_secs(5));
    assert!(status.success() || status.code().is_some());
}
