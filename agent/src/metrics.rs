//! The agent's Prometheus metrics, named as the kubelet names them, served at `/metrics` on
//! the agent's endpoint.
//!
//! - `kubelet_pod_start_duration_seconds`: from the agent first seeing a pod to its first
//!   Running status;
//! - `kubelet_running_pods`, `kubelet_running_containers{container_state}`: from each relist;
//! - `kubelet_runtime_operations_total`, `kubelet_runtime_operations_duration_seconds` and
//!   `kubelet_runtime_operations_errors_total`, by `operation_type` (`runtime::Instrumented`);
//! - `prober_probe_total{probe_type,result,container,pod,namespace}`.

use std::sync::LazyLock;

use podium_telemetry::metrics::FAST_BUCKETS;
use podium_telemetry::metrics::prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, register_histogram,
    register_histogram_vec, register_int_counter_vec, register_int_gauge, register_int_gauge_vec,
};

/// Kubernetes' buckets for pod start-up, in seconds.
const POD_START_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0,
    600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

pub static POD_START: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        HistogramOpts::new(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run"
        )
        .buckets(POD_START_BUCKETS.to_vec())
    )
    .expect("registering kubelet_pod_start_duration_seconds")
});

pub static RUNNING_PODS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!("kubelet_running_pods", "Number of pods that have a running pod sandbox")
        .expect("registering kubelet_running_pods")
});

pub static RUNNING_CONTAINERS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new("kubelet_running_containers", "Number of containers currently running"),
        &["container_state"]
    )
    .expect("registering kubelet_running_containers")
});

pub static RUNTIME_OPERATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "kubelet_runtime_operations_total",
            "Cumulative number of runtime operations by operation type."
        ),
        &["operation_type"]
    )
    .expect("registering kubelet_runtime_operations_total")
});

pub static RUNTIME_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        HistogramOpts::new(
            "kubelet_runtime_operations_duration_seconds",
            "Duration in seconds of runtime operations. Broken down by operation type."
        )
        .buckets(FAST_BUCKETS.to_vec()),
        &["operation_type"]
    )
    .expect("registering kubelet_runtime_operations_duration_seconds")
});

pub static RUNTIME_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "kubelet_runtime_operations_errors_total",
            "Cumulative number of runtime operation errors by operation type."
        ),
        &["operation_type"]
    )
    .expect("registering kubelet_runtime_operations_errors_total")
});

pub static PROBES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "prober_probe_total",
            "Cumulative number of a liveness, readiness or startup probe for a container by result."
        ),
        &["probe_type", "result", "container", "pod", "namespace"]
    )
    .expect("registering prober_probe_total")
});

/// Registers every metric, so a scrape before the first pod shows them.
pub fn register() {
    LazyLock::force(&POD_START);
    LazyLock::force(&RUNNING_PODS);
    LazyLock::force(&RUNNING_CONTAINERS);
    LazyLock::force(&RUNTIME_OPERATIONS);
    LazyLock::force(&RUNTIME_DURATION);
    LazyLock::force(&RUNTIME_ERRORS);
    LazyLock::force(&PROBES);
}
