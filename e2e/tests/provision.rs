//! The Vagrant cluster's provisioning, checked without VMs (the CI machine cannot run them;
//! `deploy/vagrant/smoke.sh` is the test with VMs). `deploy/vagrant/provision.sh` runs in its
//! staging mode (`PODIUM_PROVISION_ROOT`) for the control plane and for the workers, with
//! stand-ins for the release binaries, and the tests check what it wrote as systemd would and
//! as the binaries would: the units and environment files exist, `systemd-analyze verify`
//! accepts the units, and every `ExecStart` command line parses with this build's binary (the
//! same arguments plus `--help`: clap refuses unknown flags and bad values before it prints
//! help). Stand-ins for apt-get, docker, systemctl and curl come first on PATH and record their
//! calls: staging must make none, and a full pass (`PODIUM_PROVISION_DRY=0`) must install the
//! packages, import the pods' image and start the units in order.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The machines of the Vagrantfile: role, name and address.
const MACHINES: [(&str, &str, &str); 3] = [
    ("control", "control", "192.168.56.10"),
    ("worker", "worker-1", "192.168.56.11"),
    ("worker", "worker-2", "192.168.56.12"),
];
const APISERVER: &str = "http://192.168.56.10:6443";

/// The components each role runs, one systemd unit `podium-<component>.service` each.
fn components(role: &str) -> &'static [&'static str] {
    match role {
        "control" => &["apiserver", "scheduler", "controller-manager"],
        _ => &["agent"],
    }
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The commands provisioning runs on a real machine, stood in for by scripts that record their
/// arguments: Docker has no images, and everything else succeeds.
const COMMANDS: [&str; 5] = ["apt-get", "docker", "systemctl", "journalctl", "curl"];

/// A staged machine: what provision.sh wrote under `root`.
struct Staged {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Staged {
    /// An empty staging directory with stand-in binaries in `bin/` (provisioning only copies
    /// them) and stand-ins for the commands in `stubs/`, which log to `commands`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        for sub in ["bin", "stubs"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        for bin in ["apiserver", "scheduler", "controller-manager", "agent", "pause"] {
            write_script(&dir.path().join("bin").join(bin), "exit 0");
        }
        let log = dir.path().join("commands");
        for command in COMMANDS {
            let body = format!(
                "echo \"{command} $*\" >> '{}'\ncase \"$1\" in image) exit 1 ;; import) cat >/dev/null ;; esac",
                log.display()
            );
            write_script(&dir.path().join("stubs").join(command), &body);
        }
        Staged { dir, root }
    }

    /// Runs provision.sh for machine `name` at `ip` into this staging directory, with
    /// PODIUM_PROVISION_DRY set to `dry` if given.
    fn run(&self, dry: Option<&str>, role: &str, name: &str, ip: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.dir.path().join("stubs").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .arg(Path::new(REPO).join("deploy/vagrant/provision.sh"))
            .args([role, name, ip])
            .env("PATH", path)
            .env("PODIUM_BIN_DIR", self.dir.path().join("bin"))
            .env("PODIUM_PROVISION_ROOT", &self.root)
            .env("PODIUM_CONTROL_IP", "192.168.56.10")
            .env_remove("PODIUM_PROVISION_DRY");
        if let Some(dry) = dry {
            command.env("PODIUM_PROVISION_DRY", dry);
        }
        command.output().unwrap()
    }

    /// A staging run, dry because PODIUM_PROVISION_ROOT is set: it must run none of the commands.
    fn provision(&self, role: &str, name: &str, ip: &str) -> Output {
        let out = self.run(None, role, name, ip);
        assert_eq!(self.commands(), "", "staging runs no commands");
        out
    }

    /// The commands the stand-ins recorded, one a line.
    fn commands(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("commands")).unwrap_or_default()
    }

    /// Provisions like `provision` and insists that it worked.
    fn stage(role: &str, name: &str, ip: &str) -> Self {
        let staged = Staged::new();
        let out = staged.provision(role, name, ip);
        assert!(
            out.status.success(),
            "provision.sh {role} {name} {ip} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        staged
    }

    fn path(&self, target: &str) -> PathBuf {
        self.root.join(target.trim_start_matches('/'))
    }

    fn unit_path(&self, component: &str) -> PathBuf {
        self.path(&format!("/etc/systemd/system/podium-{component}.service"))
    }

    fn unit(&self, component: &str) -> String {
        let path = self.unit_path(component);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// The values of `key=` lines in a unit.
fn directive<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// The one ExecStart of a unit, split into words (the units quote nothing).
fn exec_start(unit: &str) -> Vec<&str> {
    let lines = directive(unit, "ExecStart");
    assert_eq!(lines.len(), 1, "one ExecStart in\n{unit}");
    assert!(!lines[0].contains(['"', '\'', '\\']), "unquoted words: {}", lines[0]);
    lines[0].split_whitespace().collect()
}

/// Whether `words` has `flag` followed by `value` (or just `flag` when `value` is empty).
fn has_flag(words: &[&str], flag: &str, value: &str) -> bool {
    match words.iter().position(|w| *w == flag) {
        Some(at) => value.is_empty() || words.get(at + 1) == Some(&value),
        None => false,
    }
}

/// What every unit shares: restarts, its environment file, the network and graceful stops.
fn check_unit(staged: &Staged, component: &str) {
    let unit = staged.unit(component);
    let one = |key: &str| directive(&unit, key).join(" ");
    assert_eq!(one("Restart"), "always", "podium-{component}:\n{unit}");
    assert_eq!(one("EnvironmentFile"), format!("-/etc/default/podium-{component}"));
    assert_eq!(one("KillSignal"), "SIGTERM");
    assert_eq!(one("WantedBy"), "multi-user.target");
    for key in ["After", "Wants"] {
        let units = one(key);
        assert!(
            units.contains("network-online.target"),
            "{key} of podium-{component}: {units}"
        );
        assert_eq!(
            units.contains("docker.service"),
            component == "agent",
            "{key} of podium-{component}: {units}"
        );
    }
    let env = staged.path(&format!("/etc/default/podium-{component}"));
    assert!(env.is_file(), "{} is written", env.display());
    let words = exec_start(&unit);
    let installed = staged.path(words[0]);
    assert_eq!(words[0], format!("/usr/local/bin/{component}"));
    let mode = std::fs::metadata(&installed)
        .unwrap_or_else(|e| panic!("{}: {e}", installed.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "{} is executable", installed.display());
}

#[test]
fn control_gets_the_control_plane_units() {
    let staged = Staged::stage("control", "control", "192.168.56.10");
    for component in components("control") {
        check_unit(&staged, component);
    }
    assert!(!staged.unit_path("agent").exists(), "no agent on the control plane");
    assert!(staged.path("/var/lib/podium/apiserver").is_dir());

    let apiserver = staged.unit("apiserver");
    let words = exec_start(&apiserver);
    assert!(has_flag(&words, "--listen", "0.0.0.0:6443"), "{words:?}");
    assert!(has_flag(&words, "--data-dir", "/var/lib/podium/apiserver"), "{words:?}");
    for component in ["scheduler", "controller-manager"] {
        let unit = staged.unit(component);
        let words = exec_start(&unit);
        assert!(has_flag(&words, "--apiserver", APISERVER), "{words:?}");
        assert!(has_flag(&words, "--leader-elect", ""), "{words:?}");
    }
    let unit = staged.unit("controller-manager");
    assert!(has_flag(&exec_start(&unit), "--cluster-cidr", "10.244.0.0/16"));
}

#[test]
fn workers_get_an_agent_with_host_gw() {
    for (role, name, ip) in MACHINES.into_iter().filter(|(role, ..)| *role == "worker") {
        let staged = Staged::stage(role, name, ip);
        check_unit(&staged, "agent");
        for component in components("control") {
            assert!(!staged.unit_path(component).exists(), "no {component} on {name}");
        }
        assert!(staged.path("/usr/local/bin/pause").is_file(), "pause is installed");
        assert!(staged.path("/var/lib/podium/agent").is_dir());
        let unit = staged.unit("agent");
        let words = exec_start(&unit);
        for (flag, value) in [
            ("--apiserver", APISERVER),
            ("--node-name", name),
            ("--node-ip", ip),
            ("--host-gw", ""),
            ("--pod-network", "podium"),
            ("--root-dir", "/var/lib/podium/agent"),
            ("--pause-binary", "/usr/local/bin/pause"),
        ] {
            assert!(has_flag(&words, flag, value), "{name}: {flag} {value} in {words:?}");
        }
    }
}

/// This build's binary `name` (in target/<profile>, above this test's deps/).
fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(path.exists(), "{} is missing: cargo build --workspace", path.display());
    path
}

#[test]
fn every_exec_start_parses_with_this_builds_binary() {
    let mut refused = Vec::new();
    for (role, name, ip) in MACHINES {
        let staged = Staged::stage(role, name, ip);
        for component in components(role) {
            let unit = staged.unit(component);
            let words = exec_start(&unit);
            let binary = built(words[0].trim_start_matches("/usr/local/bin/"));
            let out = Command::new(&binary)
                .args(&words[1..])
                .arg("--help")
                .env_clear()
                .output()
                .unwrap();
            if !out.status.success() {
                refused.push(format!(
                    "{name}'s podium-{component}: {}\n{}",
                    words.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}

/// Why `systemd-analyze verify` cannot judge units here, if it cannot: it must be installed
/// and accept a unit known to be good.
fn systemd_analyze_unusable(dir: &Path) -> Option<String> {
    let good = dir.join("podium-known-good.service");
    std::fs::write(&good, "[Service]\nExecStart=/bin/sh -c true\n").unwrap();
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&good)
        .output()
    {
        Err(e) => Some(format!("systemd-analyze does not run: {e}")),
        Ok(out) if !out.status.success() || !out.stderr.is_empty() => Some(format!(
            "systemd-analyze refuses even a good unit here:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Ok(_) => None,
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_units() {
    let scratch = tempfile::tempdir().unwrap();
    if let Some(reason) = systemd_analyze_unusable(scratch.path()) {
        eprintln!("SKIPPED systemd-analyze verify: {reason}");
        return;
    }
    // verify checks that ExecStart's program is executable, so each unit is verified as a copy
    // whose /usr/local/bin is the staging root's.
    let mut units = Vec::new();
    let staged: Vec<_> = MACHINES
        .into_iter()
        .take(2)
        .map(|(role, name, ip)| (role, Staged::stage(role, name, ip)))
        .collect();
    for (role, staged) in &staged {
        for component in components(role) {
            let bin = staged.path("/usr/local/bin/");
            let unit = staged.unit(component).replace("/usr/local/bin/", bin.to_str().unwrap());
            let copy = scratch.path().join(format!("podium-{component}.service"));
            std::fs::write(&copy, unit).unwrap();
            units.push(copy);
        }
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only complaints about these units count (a host may have others of its own).
    let complaints: Vec<_> = stderr.lines().filter(|line| line.contains("podium-")).collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

/// The recorded commands that start with one of `prefixes`, in order.
fn calls<'a>(log: &'a str, prefixes: &[&str]) -> Vec<&'a str> {
    log.lines()
        .filter(|line| prefixes.iter().any(|p| line.starts_with(p)))
        .collect()
}

#[test]
fn a_full_pass_installs_packages_and_starts_the_units() {
    let control = Staged::new();
    let out = control.run(Some("0"), "control", "control", "192.168.56.10");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = control.commands();
    assert!(log.contains("apt-get install -y -qq curl\n"), "{log}");
    let units = calls(&log, &["systemctl"]);
    let mut expected = vec!["systemctl daemon-reload".to_owned()];
    for component in components("control") {
        expected.push(format!("systemctl --quiet enable podium-{component}.service"));
        expected.push(format!("systemctl restart podium-{component}.service"));
    }
    assert_eq!(units, expected);
    assert!(
        log.ends_with("curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:6443/readyz\n"),
        "{log}"
    );

    assert!(
        Path::new("/bin/busybox").exists(),
        "busybox-static is installed (bash .ci/run installs it)"
    );
    let worker = Staged::new();
    let out = worker.run(Some("0"), "worker", "worker-2", "192.168.56.12");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = worker.commands();
    assert!(
        log.contains("apt-get install -y -qq curl docker.io busybox-static\n"),
        "{log}"
    );
    // Docker first, then the pods' image, the apiserver, and only then the agent, which is
    // waited for.
    let order = [
        "systemctl enable --now docker.service",
        "docker import -c ENV PATH=/bin - podium/busybox:vm",
        "curl -fsS -o /dev/null --max-time 2 http://192.168.56.10:6443/readyz",
        "systemctl restart podium-agent.service",
        "curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:10250/healthz",
    ];
    let seen = calls(
        &log,
        &["systemctl enable --now", "docker import", "curl", "systemctl restart"],
    );
    assert_eq!(seen, order, "{log}");
}

#[test]
fn missing_binaries_name_the_build_commands() {
    let staged = Staged::new();
    std::fs::remove_file(staged.dir.path().join("bin/agent")).unwrap();
    let out = staged.provision("worker", "worker-1", "192.168.56.11");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "provisioning without the agent binary fails");
    for says in [
        "bin/agent",
        "cargo build --release --workspace",
        "--manifest-path pause/Cargo.toml",
    ] {
        assert!(stderr.contains(says), "the error says {says:?}:\n{stderr}");
    }
    assert!(!staged.unit_path("agent").exists(), "nothing is half installed");
}

#[test]
fn provisioning_again_keeps_local_settings() {
    let staged = Staged::stage("worker", "worker-1", "192.168.56.11");
    let env = staged.path("/etc/default/podium-agent");
    let local = format!("{}PODIUM_MAX_PODS=20\n", std::fs::read_to_string(&env).unwrap());
    std::fs::write(&env, &local).unwrap();
    let out = staged.provision("worker", "worker-1", "192.168.56.11");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), local);
    check_unit(&staged, "agent");
}

#[test]
fn bad_arguments_are_refused_with_the_usage() {
    let staged = Staged::new();
    for args in [["master", "control", "192.168.56.10"], ["worker", "", "192.168.56.11"]] {
        let out = staged.provision(args[0], args[1], args[2]);
        assert!(!out.status.success(), "{args:?} is refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("usage: provision.sh control|worker"), "{stderr}");
    }
}

#[test]
fn scripts_and_vagrantfile_parse() {
    let repo = Path::new(REPO);
    for script in ["deploy/vagrant/provision.sh", "deploy/vagrant/smoke.sh"] {
        let out = Command::new("bash").arg("-n").arg(repo.join(script)).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {script}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vagrantfile = std::fs::read_to_string(repo.join("Vagrantfile")).unwrap();
    match Command::new("ruby").arg("-c").arg(repo.join("Vagrantfile")).output() {
        Ok(out) => assert!(
            out.status.success(),
            "ruby -c Vagrantfile:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("SKIPPED ruby -c Vagrantfile: ruby is not installed"),
    }
    // The machines these tests stage are the Vagrantfile's.
    assert!(vagrantfile.contains(r#"CONTROL_IP = "192.168.56.10""#));
    for (role, name, ip) in MACHINES {
        let line = vagrantfile
            .lines()
            .find(|line| line.contains(&format!(r#"name: "{name}""#)))
            .unwrap_or_else(|| panic!("{name} in the Vagrantfile"));
        assert!(line.contains(&format!(r#"role: "{role}""#)), "{line}");
        assert!(line.contains(ip) || line.contains("CONTROL_IP"), "{line}");
    }
    for says in [
        "debian/bookworm64",
        "/vagrant/deploy/vagrant/provision.sh",
        "guest: 6443",
    ] {
        assert!(vagrantfile.contains(says), "the Vagrantfile has {says:?}");
    }
}
