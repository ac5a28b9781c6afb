//! Probes and lifecycle hooks: exactly one handler, and the handler's own rules
//! (`validateProbe`, `validateLifecycle`, `validateHandler`).

use podium_proto::k8s::core::v1::{
    ExecAction, GrpcAction, HttpGetAction, Lifecycle, LifecycleHandler, Probe, SleepAction, TcpSocketAction,
};
use podium_proto::k8s::meta::v1::IntOrString;

use super::path::{Path, required};
use crate::error::Cause;
use crate::names;

/// One handler a probe or hook sets, with its JSON field name; Kubernetes' `commonHandler`
/// flattened to the ones that are set, in Kubernetes' order.
enum Action<'a> {
    Exec(&'a ExecAction),
    HttpGet(&'a HttpGetAction),
    TcpSocket(&'a TcpSocketAction),
    Grpc(&'a GrpcAction),
    Sleep(&'a SleepAction),
}

fn probe_actions(probe: &Probe) -> Vec<(&'static str, Action<'_>)> {
    [
        probe.exec.as_ref().map(|a| ("exec", Action::Exec(a))),
        probe.http_get.as_ref().map(|a| ("httpGet", Action::HttpGet(a))),
        probe.tcp_socket.as_ref().map(|a| ("tcpSocket", Action::TcpSocket(a))),
        probe.grpc.as_ref().map(|a| ("grpc", Action::Grpc(a))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn hook_actions(handler: &LifecycleHandler) -> Vec<(&'static str, Action<'_>)> {
    [
        handler.exec.as_ref().map(|a| ("exec", Action::Exec(a))),
        handler.http_get.as_ref().map(|a| ("httpGet", Action::HttpGet(a))),
        handler.tcp_socket.as_ref().map(|a| ("tcpSocket", Action::TcpSocket(a))),
        handler.sleep.as_ref().map(|a| ("sleep", Action::Sleep(a))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Which kind of probe is checked: liveness and startup probes must have successThreshold 1,
/// readiness probes may not override the grace period.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

pub(super) fn validate_probe(probe: Option<&Probe>, kind: ProbeKind, grace_period: i64, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(probe) = probe else {
        return causes;
    };
    causes.extend(validate_handler(probe_actions(probe), grace_period, path));
    for (value, field) in [
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.period_seconds, "periodSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ] {
        if value < 0 {
            causes.push(Cause::invalid_number(
                path.child(field),
                value,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(seconds) = probe.termination_grace_period_seconds.filter(|s| *s <= 0) {
        causes.push(Cause::invalid_number(
            path.child("terminationGracePeriodSeconds"),
            seconds,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup if probe.success_threshold != 1 => {
            causes.push(Cause::invalid_number(
                path.child("successThreshold"),
                probe.success_threshold,
                "must be 1",
            ));
        }
        ProbeKind::Readiness => {
            if let Some(seconds) = probe.termination_grace_period_seconds {
                causes.push(Cause::invalid_number(
                    path.child("terminationGracePeriodSeconds"),
                    seconds,
                    "must not be set for readinessProbes",
                ));
            }
        }
        _ => {}
    }
    causes
}

pub(super) fn validate_lifecycle(lifecycle: &Lifecycle, grace_period: i64, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(post_start) = &lifecycle.post_start {
        causes.extend(validate_handler(
            hook_actions(post_start),
            grace_period,
            &path.child("postStart"),
        ));
    }
    if let Some(pre_stop) = &lifecycle.pre_stop {
        causes.extend(validate_handler(
            hook_actions(pre_stop),
            grace_period,
            &path.child("preStop"),
        ));
    }
    causes
}

fn validate_handler(actions: Vec<(&'static str, Action<'_>)>, grace_period: i64, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if actions.is_empty() {
        causes.push(required(path, "must specify a handler type"));
    }
    for (i, (field, action)) in actions.into_iter().enumerate() {
        let path = path.child(field);
        if i > 0 {
            causes.push(Cause::forbidden(path, "may not specify more than 1 handler type"));
            continue;
        }
        causes.extend(match action {
            Action::Exec(exec) => validate_exec(exec, &path),
            Action::HttpGet(http) => validate_http_get(http, &path),
            Action::TcpSocket(tcp) => port_num_or_name(tcp.port.as_ref(), &path.child("port")),
            Action::Grpc(grpc) => port_num_or_name(Some(&IntOrString::int(grpc.port)), &path.child("port")),
            Action::Sleep(sleep) => validate_sleep(sleep, grace_period, &path),
        });
    }
    causes
}

fn validate_exec(exec: &ExecAction, path: &Path) -> Vec<Cause> {
    if exec.command.is_empty() {
        vec![Cause::required(path.child("command"))]
    } else {
        Vec::new()
    }
}

fn validate_http_get(http: &HttpGetAction, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    if http.path.is_empty() {
        causes.push(Cause::required(path.child("path")));
    }
    causes.extend(port_num_or_name(http.port.as_ref(), &path.child("port")));
    const SCHEMES: [&str; 2] = ["HTTP", "HTTPS"];
    if !SCHEMES.contains(&http.scheme.as_str()) {
        causes.push(Cause::not_supported(path.child("scheme"), &http.scheme, &SCHEMES));
    }
    for header in &http.http_headers {
        if header.name.is_empty() || !header.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            causes.push(Cause::invalid(
                path.child("httpHeaders"),
                &header.name,
                "a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
            ));
        }
    }
    causes
}

fn validate_sleep(sleep: &SleepAction, grace_period: i64, path: &Path) -> Vec<Cause> {
    if sleep.seconds <= 0 || sleep.seconds > grace_period {
        let message = format!("must be greater than 0 and less than terminationGracePeriodSeconds ({grace_period})");
        return vec![Cause::invalid_number(path, sleep.seconds, message)];
    }
    Vec::new()
}

/// `ValidatePortNumOrName`: a port number 1-65535 or an IANA service name. A missing port is
/// Go's zero IntOrString, the number 0.
pub(super) fn port_num_or_name(port: Option<&IntOrString>, path: &Path) -> Vec<Cause> {
    let mut causes = Vec::new();
    match port.and_then(IntOrString::as_str) {
        Some(name) => {
            for problem in names::is_valid_port_name(name) {
                causes.push(Cause::invalid(path, name, problem));
            }
        }
        None => {
            let number = port.and_then(IntOrString::as_int).unwrap_or(0);
            for problem in names::is_valid_port_num(i64::from(number)) {
                causes.push(Cause::invalid_number(path, number, problem));
            }
        }
    }
    causes
}
