//! The defaults Kubernetes fills into a Pod on the way in.
//!
//! Kubernetes spreads these over the v1 defaulting functions (`SetDefaults_Pod`,
//! `SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Probe`, ... and the generated
//! walkers that reach every nested struct), the v1 conversion of the deprecated
//! `serviceAccount` alias, and the `DefaultTolerationSeconds` admission plugin. `default_pod` is
//! all of them in one idempotent pass, so the registry may run it on any write. Start reading
//! at `default_pod`.
//!
//! `apply_match_label_keys` is not a default: it is the create-only mutation of the pod
//! strategy (`mutatePodAffinity`), kept here because it also fills the spec before validation.

use std::collections::BTreeMap;

use podium_proto::k8s::core::v1::{
    Container, EphemeralContainer, HttpGetAction, ObjectFieldSelector, Pod, PodAffinityTerm, PodSpec, Probe,
    Toleration, Volume,
};
use podium_proto::k8s::meta::v1::LabelSelectorRequirement;

mod image;

pub use image::image_tag;

/// Kubernetes' `DefaultTerminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// The mode of projected files when a volume does not say (0644).
pub const DEFAULT_FILE_MODE: i32 = 0o644;
/// How long a bound service account token lives when the projection does not say.
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// How long a Pod stays on a node that became not-ready or unreachable (the admission
/// plugin's `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`).
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// The taint the node lifecycle controller puts on a node whose Ready condition is False.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint the node lifecycle controller puts on a node whose Ready condition is Unknown.
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Fills every default Kubernetes gives a Pod. Running it twice changes nothing.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    default_pod_spec(spec);
    add_default_tolerations(spec);
}

/// `SetDefaults_Pod` and `SetDefaults_PodSpec` with everything they reach.
fn default_pod_spec(spec: &mut PodSpec) {
    if spec.dns_policy.is_empty() {
        spec.dns_policy = "ClusterFirst".into();
    }
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".into();
    }
    if spec.security_context.is_none() {
        spec.security_context = Some(Default::default());
    }
    if spec.termination_grace_period_seconds.is_none() {
        spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = "default-scheduler".into();
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    // The v1 conversion reads `serviceAccount` as an alias when `serviceAccountName` is empty
    // and writes `serviceAccountName` back into it, so both always show the same name.
    if spec.service_account_name.is_empty() && !spec.service_account.is_empty() {
        spec.service_account_name = spec.service_account.clone();
    }
    spec.service_account = spec.service_account_name.clone();

    let host_network = spec.host_network;
    for container in spec.containers.iter_mut().chain(spec.init_containers.iter_mut()) {
        default_container(container);
        // Only app and init containers: Kubernetes does not copy limits for ephemeral ones.
        default_requests_from_limits(container);
        if host_network {
            // With the host's network namespace the container port is the host port.
            for port in &mut container.ports {
                if port.host_port == 0 {
                    port.host_port = port.container_port;
                }
            }
        }
    }
    for container in &mut spec.ephemeral_containers {
        default_ephemeral_container(container);
    }
    for volume in &mut spec.volumes {
        default_volume(volume);
    }
}

/// `SetDefaults_Container` plus the defaults of its ports, env, probes and hooks.
fn default_container(container: &mut Container) {
    if container.image_pull_policy.is_empty() {
        container.image_pull_policy = default_pull_policy(&container.image).into();
    }
    if container.termination_message_path.is_empty() {
        container.termination_message_path = "/dev/termination-log".into();
    }
    if container.termination_message_policy.is_empty() {
        container.termination_message_policy = "File".into();
    }
    for port in &mut container.ports {
        if port.protocol.is_empty() {
            port.protocol = "TCP".into();
        }
    }
    for env in &mut container.env {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|from| from.field_ref.as_mut()) {
            default_field_selector(field_ref);
        }
    }
    for probe in [
        &mut container.liveness_probe,
        &mut container.readiness_probe,
        &mut container.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = &mut container.lifecycle {
        for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
            .into_iter()
            .flatten()
        {
            if let Some(http_get) = &mut handler.http_get {
                default_http_get(http_get);
            }
        }
    }
}

/// An ephemeral container gets the same per-container defaults as the others.
fn default_ephemeral_container(ephemeral: &mut EphemeralContainer) {
    let (mut container, target) = ephemeral_to_container(std::mem::take(ephemeral));
    default_container(&mut container);
    *ephemeral = container_to_ephemeral(container, target);
}

/// When limits are set but a request is not, the request is the limit, resource by resource.
fn default_requests_from_limits(container: &mut Container) {
    if let Some(resources) = &mut container.resources {
        for (name, limit) in &resources.limits {
            resources.requests.entry(name.clone()).or_insert_with(|| limit.clone());
        }
    }
}

fn default_probe(probe: &mut Probe) {
    if probe.timeout_seconds == 0 {
        probe.timeout_seconds = 1;
    }
    if probe.period_seconds == 0 {
        probe.period_seconds = 10;
    }
    if probe.success_threshold == 0 {
        probe.success_threshold = 1;
    }
    if probe.failure_threshold == 0 {
        probe.failure_threshold = 3;
    }
    if let Some(http_get) = &mut probe.http_get {
        default_http_get(http_get);
    }
    // GRPCAction.service carries `+default=""` in Kubernetes' types.
    if let Some(grpc) = &mut probe.grpc {
        grpc.service.get_or_insert_with(String::new);
    }
}

fn default_http_get(action: &mut HttpGetAction) {
    if action.path.is_empty() {
        action.path = "/".into();
    }
    if action.scheme.is_empty() {
        action.scheme = "HTTP".into();
    }
}

fn default_field_selector(selector: &mut ObjectFieldSelector) {
    if selector.api_version.is_empty() {
        selector.api_version = "v1".into();
    }
}

/// `SetDefaults_Volume` and the defaults of each volume source.
fn default_volume(volume: &mut Volume) {
    let has_source = volume.host_path.is_some()
        || volume.empty_dir.is_some()
        || volume.secret.is_some()
        || volume.nfs.is_some()
        || volume.persistent_volume_claim.is_some()
        || volume.downward_api.is_some()
        || volume.config_map.is_some()
        || volume.projected.is_some()
        || volume.csi.is_some()
        || volume.image.is_some();
    if !has_source {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(host_path) = &mut volume.host_path {
        host_path.r#type.get_or_insert_with(String::new);
    }
    if let Some(secret) = &mut volume.secret {
        secret.default_mode.get_or_insert(DEFAULT_FILE_MODE);
    }
    if let Some(config_map) = &mut volume.config_map {
        config_map.default_mode.get_or_insert(DEFAULT_FILE_MODE);
    }
    if let Some(downward_api) = &mut volume.downward_api {
        downward_api.default_mode.get_or_insert(DEFAULT_FILE_MODE);
        for item in &mut downward_api.items {
            if let Some(field_ref) = &mut item.field_ref {
                default_field_selector(field_ref);
            }
        }
    }
    if let Some(projected) = &mut volume.projected {
        projected.default_mode.get_or_insert(DEFAULT_FILE_MODE);
        for source in &mut projected.sources {
            if let Some(downward_api) = &mut source.downward_api {
                for item in &mut downward_api.items {
                    if let Some(field_ref) = &mut item.field_ref {
                        default_field_selector(field_ref);
                    }
                }
            }
            if let Some(token) = &mut source.service_account_token {
                token.expiration_seconds.get_or_insert(DEFAULT_TOKEN_EXPIRATION_SECONDS);
            }
        }
    }
    if let Some(image) = &mut volume.image
        && image.pull_policy.is_empty()
    {
        image.pull_policy = default_pull_policy(&image.reference).into();
    }
}

/// The `DefaultTolerationSeconds` admission plugin: a Pod tolerates a not-ready or
/// unreachable node for five minutes unless it already says how it tolerates that taint (a
/// toleration with an empty key or effect counts, as it matches the taint).
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let tolerates = |key: &str| {
        spec.tolerations
            .iter()
            .any(|t| (t.key == key || t.key.is_empty()) && (t.effect == "NoExecute" || t.effect.is_empty()))
    };
    let missing: Vec<&str> = [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE]
        .into_iter()
        .filter(|key| !tolerates(key))
        .collect();
    for key in missing {
        spec.tolerations.push(Toleration {
            key: key.into(),
            operator: "Exists".into(),
            value: String::new(),
            effect: "NoExecute".into(),
            toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
        });
    }
}

/// The pod strategy's `mutatePodAffinity` on create: each `matchLabelKeys` (and
/// `mismatchLabelKeys`) key the Pod has a label for becomes an `In` (`NotIn`) requirement of
/// the term's label selector. Not idempotent: call it once, on create.
pub fn apply_match_label_keys(pod: &mut Pod) {
    let labels = pod.metadata.as_ref().map(|m| m.labels.clone()).unwrap_or_default();
    let Some(affinity) = pod.spec.as_mut().and_then(|s| s.affinity.as_mut()) else {
        return;
    };
    let mut terms: Vec<&mut PodAffinityTerm> = Vec::new();
    if let Some(a) = &mut affinity.pod_affinity {
        terms.extend(a.required_during_scheduling_ignored_during_execution.iter_mut());
        terms.extend(
            a.preferred_during_scheduling_ignored_during_execution
                .iter_mut()
                .filter_map(|w| w.pod_affinity_term.as_mut()),
        );
    }
    if let Some(a) = &mut affinity.pod_anti_affinity {
        terms.extend(a.required_during_scheduling_ignored_during_execution.iter_mut());
        terms.extend(
            a.preferred_during_scheduling_ignored_during_execution
                .iter_mut()
                .filter_map(|w| w.pod_affinity_term.as_mut()),
        );
    }
    for term in terms {
        apply_label_keys_to_term(term, &labels);
    }
}

fn apply_label_keys_to_term(term: &mut PodAffinityTerm, labels: &BTreeMap<String, String>) {
    // A nil selector matches nothing, so there is nothing to narrow.
    let Some(selector) = term.label_selector.as_mut() else {
        return;
    };
    for (keys, operator) in [(&term.match_label_keys, "In"), (&term.mismatch_label_keys, "NotIn")] {
        for key in keys {
            if let Some(value) = labels.get(key) {
                selector.match_expressions.push(LabelSelectorRequirement {
                    key: key.clone(),
                    operator: operator.into(),
                    values: vec![value.clone()],
                });
            }
        }
    }
}

/// `Always` for an image whose tag is `latest` (or absent, which means `latest`), otherwise
/// `IfNotPresent`; an image pinned only by digest, or a reference that does not parse, gets
/// `IfNotPresent` as in Kubernetes.
pub fn default_pull_policy(image: &str) -> &'static str {
    if image_tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// An `EphemeralContainer` as a `Container` (its common fields), and its target container.
pub(crate) fn ephemeral_to_container(e: EphemeralContainer) -> (Container, String) {
    let container = Container {
        name: e.name,
        image: e.image,
        command: e.command,
        args: e.args,
        working_dir: e.working_dir,
        ports: e.ports,
        env_from: e.env_from,
        env: e.env,
        resources: e.resources,
        resize_policy: e.resize_policy,
        restart_policy: e.restart_policy,
        volume_mounts: e.volume_mounts,
        volume_devices: e.volume_devices,
        liveness_probe: e.liveness_probe,
        readiness_probe: e.readiness_probe,
        startup_probe: e.startup_probe,
        lifecycle: e.lifecycle,
        termination_message_path: e.termination_message_path,
        termination_message_policy: e.termination_message_policy,
        image_pull_policy: e.image_pull_policy,
        security_context: e.security_context,
        stdin: e.stdin,
        stdin_once: e.stdin_once,
        tty: e.tty,
    };
    (container, e.target_container_name)
}

fn container_to_ephemeral(c: Container, target_container_name: String) -> EphemeralContainer {
    EphemeralContainer {
        name: c.name,
        image: c.image,
        command: c.command,
        args: c.args,
        working_dir: c.working_dir,
        ports: c.ports,
        env_from: c.env_from,
        env: c.env,
        resources: c.resources,
        resize_policy: c.resize_policy,
        restart_policy: c.restart_policy,
        volume_mounts: c.volume_mounts,
        volume_devices: c.volume_devices,
        liveness_probe: c.liveness_probe,
        readiness_probe: c.readiness_probe,
        startup_probe: c.startup_probe,
        lifecycle: c.lifecycle,
        termination_message_path: c.termination_message_path,
        termination_message_policy: c.termination_message_policy,
        image_pull_policy: c.image_pull_policy,
        security_context: c.security_context,
        stdin: c.stdin,
        stdin_once: c.stdin_once,
        tty: c.tty,
        target_container_name,
    }
}

#[cfg(test)]
mod tests;
