//! Probes and lifecycle hooks: running one check (exec, httpGet, tcpSocket, grpc, sleep),
//! and the probe workers that run a container's startup, liveness and readiness probes on
//! their periods and thresholds, reporting changes to the pod's worker.
//!
//! A probe worker belongs to one container instance; the pod worker starts them when the
//! instance runs and aborts them when it stops. Liveness and readiness wait for the startup
//! probe to succeed. The shared `ProbeState` says what the pod worker acts on: not started,
//! not ready, or a liveness/startup failure that means a restart.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use podium_proto::k8s::core::v1::{Container, HttpGetAction, Probe};
use podium_proto::k8s::meta::v1::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::runtime::{ContainerRuntime, ExecConfig, Output};

/// Where and in what a check runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The container instance (for exec).
    pub container_id: String,
    /// The address of the pod (for httpGet, tcpSocket and grpc without a host).
    pub pod_ip: String,
    /// The spec container (its named ports).
    pub container: Container,
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure(String),
}

/// The port a probe or handler names, by number or by the container's port name.
fn port(target: &Target, port: &IntOrString) -> Result<u16, String> {
    let number = match port.as_str() {
        Some(name) => target
            .container
            .ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.container_port)
            .ok_or_else(|| format!("no port named {name:?} in container {}", target.container.name))?,
        None => port.as_int().unwrap_or(0),
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port {number}"))
}

async fn exec_check<R: ContainerRuntime>(runtime: &R, target: &Target, command: &[String]) -> Outcome {
    let config = ExecConfig {
        command: command.to_vec(),
        stdin: false,
        tty: false,
    };
    let session = match runtime.exec(&target.container_id, &config).await {
        Ok(session) => session,
        Err(e) => return Outcome::Failure(e.to_string()),
    };
    let mut output = Vec::new();
    let mut stream = session.output;
    while let Some(Ok(Output::Stdout(d) | Output::Stderr(d))) = stream.next().await {
        output.extend_from_slice(&d);
    }
    for _ in 0..100 {
        match runtime.exec_exit_code(&session.id).await {
            Ok(Some(0)) => return Outcome::Success,
            Ok(Some(code)) => {
                let text = String::from_utf8_lossy(&output).trim().to_owned();
                return Outcome::Failure(if text.is_empty() {
                    format!("command {command:?} exited with {code}")
                } else {
                    text
                });
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => return Outcome::Failure(e.to_string()),
        }
    }
    Outcome::Failure("the command's exit code did not show".into())
}

/// Accepts any server certificate, as Kubernetes' HTTPS probes do (InsecureSkipVerify): a
/// probe checks that the server answers, not who it is.
#[derive(Debug)]
struct AnyCertificate(Arc<tokio_rustls::rustls::crypto::CryptoProvider>);

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[tokio_rustls::rustls::pki_types::CertificateDer<'_>],
        _server_name: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(tokio_rustls::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<tokio_rustls::rustls::client::danger::HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        tokio_rustls::rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<tokio_rustls::rustls::client::danger::HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        tokio_rustls::rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS connector that does not verify certificates.
fn insecure_tls() -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends `request` and reads the start of the answer, over TLS when `https`.
async fn exchange(host: &str, port: u16, https: bool, request: &[u8]) -> std::io::Result<String> {
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    let mut head = vec![0u8; 64];
    let n = if https {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut tls = insecure_tls().connect(name, stream).await?;
        tls.write_all(request).await?;
        tls.read(&mut head).await?
    } else {
        let mut stream = stream;
        stream.write_all(request).await?;
        stream.read(&mut head).await?
    };
    Ok(String::from_utf8_lossy(&head[..n]).into_owned())
}

async fn http_check(target: &Target, action: &HttpGetAction) -> Outcome {
    let https = action.scheme.eq_ignore_ascii_case("HTTPS");
    let port = match port(target, action.port.as_ref().unwrap_or(&IntOrString::int(0))) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host = if action.host.is_empty() {
        &target.pod_ip
    } else {
        &action.host
    };
    let path = if action.path.is_empty() { "/" } else { &action.path };
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for header in &action.http_headers {
        request.push_str(&format!("{}: {}\r\n", header.name, header.value));
    }
    request.push_str("\r\n");
    let result = exchange(host, port, https, request.as_bytes()).await;
    let scheme = if https { "https" } else { "http" };
    match result {
        Ok(head) => {
            let code: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            if (200..400).contains(&code) {
                Outcome::Success
            } else {
                Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
            }
        }
        Err(e) => Outcome::Failure(format!("Get \"{scheme}://{host}:{port}{path}\": {e}")),
    }
}

async fn tcp_check(target: &Target, host: &str, port_spec: Option<&IntOrString>) -> Outcome {
    let port = match port(target, port_spec.unwrap_or(&IntOrString::int(0))) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host = if host.is_empty() { target.pod_ip.as_str() } else { host };
    match tokio::net::TcpStream::connect((host, port)).await {
        Ok(_) => Outcome::Success,
        Err(e) => Outcome::Failure(format!("dial tcp {host}:{port}: {e}")),
    }
}

async fn grpc_check(target: &Target, port: i32, service: &str) -> Outcome {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let url = format!("http://{}:{port}", target.pod_ip);
    let channel = match tonic::transport::Endpoint::from_shared(url.clone()) {
        Ok(endpoint) => match endpoint.connect().await {
            Ok(channel) => channel,
            Err(e) => return Outcome::Failure(format!("failed to connect service {url:?}: {e}")),
        },
        Err(e) => return Outcome::Failure(e.to_string()),
    };
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    match HealthClient::new(channel).check(request).await {
        Ok(response) if response.get_ref().status == ServingStatus::Serving as i32 => Outcome::Success,
        Ok(response) => Outcome::Failure(format!(
            "service unhealthy (responded with {:?})",
            ServingStatus::try_from(response.get_ref().status).unwrap_or(ServingStatus::Unknown)
        )),
        Err(e) => Outcome::Failure(e.message().to_owned()),
    }
}

/// Runs one probe within its timeout.
pub async fn probe<R: ContainerRuntime>(runtime: &R, target: &Target, probe: &Probe) -> Outcome {
    let timeout = Duration::from_secs(u64::try_from(probe.timeout_seconds.max(1)).unwrap_or(1));
    let check = async {
        if let Some(exec) = &probe.exec {
            exec_check(runtime, target, &exec.command).await
        } else if let Some(http) = &probe.http_get {
            http_check(target, http).await
        } else if let Some(tcp) = &probe.tcp_socket {
            tcp_check(target, &tcp.host, tcp.port.as_ref()).await
        } else if let Some(grpc) = &probe.grpc {
            grpc_check(target, grpc.port, grpc.service.as_deref().unwrap_or_default()).await
        } else {
            Outcome::Failure("the probe names no action".into())
        }
    };
    match tokio::time::timeout(timeout, check).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failure(format!("probe timed out after {}s", timeout.as_secs())),
    }
}

/// Runs a lifecycle hook (postStart or preStop) to its end.
pub async fn hook<R: ContainerRuntime>(
    runtime: &R,
    target: &Target,
    handler: &podium_proto::k8s::core::v1::LifecycleHandler,
) -> Outcome {
    if let Some(exec) = &handler.exec {
        exec_check(runtime, target, &exec.command).await
    } else if let Some(http) = &handler.http_get {
        http_check(target, http).await
    } else if let Some(tcp) = &handler.tcp_socket {
        tcp_check(target, &tcp.host, tcp.port.as_ref()).await
    } else if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(u64::try_from(sleep.seconds).unwrap_or(0))).await;
        Outcome::Success
    } else {
        Outcome::Failure("the hook names no action".into())
    }
}

/// The probes' verdict on one container instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeState {
    /// The startup probe has succeeded (true without one).
    pub started: bool,
    /// The readiness probe's last verdict (true without one, once started).
    pub ready: bool,
    /// A liveness or startup failure: the container must restart. (probe kind, message)
    pub failed: Option<(&'static str, String)>,
}

/// A Warning Event a probe worker asks for (`Unhealthy`).
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

/// Starts the probe workers of one running container instance; returns their shared state
/// and the tasks (abort them when the instance stops).
pub fn start<R: ContainerRuntime>(
    runtime: Arc<R>,
    target: Target,
    pod: (&str, &str),
    wake: Arc<Notify>,
    report: Report,
) -> (Arc<Mutex<ProbeState>>, Vec<tokio::task::JoinHandle<()>>) {
    let c = &target.container;
    let (namespace, pod) = pod;
    let state = Arc::new(Mutex::new(ProbeState {
        started: c.startup_probe.is_none(),
        ready: c.readiness_probe.is_none() && c.startup_probe.is_none(),
        failed: None,
    }));
    let mut tasks = Vec::new();
    for (kind, probe) in [
        ("Startup", c.startup_probe.clone()),
        ("Liveness", c.liveness_probe.clone()),
        ("Readiness", c.readiness_probe.clone()),
    ] {
        let Some(probe) = probe else { continue };
        let worker = ProbeWorker {
            runtime: runtime.clone(),
            target: target.clone(),
            state: state.clone(),
            wake: wake.clone(),
            report: report.clone(),
            kind,
            probe,
            labels: [c.name.clone(), pod.to_owned(), namespace.to_owned()],
            // Without a readiness probe, ready follows started.
            ready_when_started: c.readiness_probe.is_none(),
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    (state, tasks)
}

struct ProbeWorker<R> {
    runtime: Arc<R>,
    target: Target,
    state: Arc<Mutex<ProbeState>>,
    wake: Arc<Notify>,
    report: Report,
    kind: &'static str,
    probe: Probe,
    /// The probed container, its pod and namespace, for `prober_probe_total`.
    labels: [String; 3],
    ready_when_started: bool,
}

impl<R: ContainerRuntime> ProbeWorker<R> {
    async fn run(self) {
        let seconds = |s: i32| Duration::from_secs(u64::try_from(s.max(0)).unwrap_or(0));
        tokio::time::sleep(seconds(self.probe.initial_delay_seconds)).await;
        let period = seconds(self.probe.period_seconds.max(1));
        let (mut successes, mut failures) = (0, 0);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if self.kind != "Startup" && !self.state.lock().started {
                continue;
            }
            let outcome = probe(&*self.runtime, &self.target, &self.probe).await;
            let result = if outcome == Outcome::Success {
                "successful"
            } else {
                "failed"
            };
            let [container, pod, namespace] = &self.labels;
            crate::metrics::PROBES
                .with_label_values(&[self.kind, result, container, pod, namespace])
                .inc();
            match outcome {
                Outcome::Success => {
                    successes += 1;
                    failures = 0;
                }
                Outcome::Failure(ref message) => {
                    failures += 1;
                    successes = 0;
                    (self.report)(format!("{} probe failed: {message}", self.kind));
                }
            }
            let passed = successes >= self.probe.success_threshold.max(1);
            let failed = failures >= self.probe.failure_threshold.max(1);
            let changed = {
                let mut s = self.state.lock();
                let before = s.clone();
                match (self.kind, &outcome) {
                    ("Startup", Outcome::Success) if passed => {
                        s.started = true;
                        s.ready |= self.ready_when_started;
                    }
                    ("Startup", Outcome::Failure(m)) if failed => s.failed = Some(("startup", m.clone())),
                    ("Liveness", Outcome::Failure(m)) if failed => s.failed = Some(("liveness", m.clone())),
                    ("Readiness", Outcome::Success) if passed => s.ready = true,
                    ("Readiness", Outcome::Failure(_)) if failed => s.ready = false,
                    _ => {}
                }
                *s != before
            };
            if changed {
                self.wake.notify_one();
            }
            let done = {
                let s = self.state.lock();
                (self.kind == "Startup" && s.started) || s.failed.is_some()
            };
            if done {
                return;
            }
        }
    }
}
