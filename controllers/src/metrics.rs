//! The controller-manager's Prometheus metrics, named as kube-controller-manager names them:
//! `node_collector_zone_size{zone}` and `node_collector_unhealthy_nodes_in_zone{zone}` (each
//! pass), `node_collector_evictions_total{zone}` (taint-based evictions) and
//! `pod_gc_collector_force_delete_pods_total{namespace,reason}` with its `_errors_total`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use podium_proto::k8s::core::v1::Node;
use podium_telemetry::metrics::prometheus::{
    IntCounterVec, IntGaugeVec, Opts, register_int_counter_vec, register_int_gauge_vec,
};

/// The label naming a node's zone.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

static ZONE_SIZE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "node_collector_zone_size",
            "Gauge measuring number of registered Nodes per zones."
        ),
        &["zone"]
    )
    .expect("registering node_collector_zone_size")
});

static UNHEALTHY: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "node_collector_unhealthy_nodes_in_zone",
            "Gauge measuring number of not Ready Nodes per zones."
        ),
        &["zone"]
    )
    .expect("registering node_collector_unhealthy_nodes_in_zone")
});

static EVICTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "node_collector_evictions_total",
            "Number of Node evictions that happened since current instance of NodeController started."
        ),
        &["zone"]
    )
    .expect("registering node_collector_evictions_total")
});

static FORCE_DELETES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "pod_gc_collector_force_delete_pods_total",
            "Number of pods that are being forcefully deleted since the Pod GC Controller started."
        ),
        &["namespace", "reason"]
    )
    .expect("registering pod_gc_collector_force_delete_pods_total")
});

static FORCE_DELETE_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "pod_gc_collector_force_delete_pod_errors_total",
            "Number of errors encountered when forcefully deleting the pods since the Pod GC Controller started."
        ),
        &["namespace", "reason"]
    )
    .expect("registering pod_gc_collector_force_delete_pod_errors_total")
});

/// A node's zone label ("" without one).
pub fn zone(node: &Node) -> String {
    node.metadata
        .as_ref()
        .and_then(|m| m.labels.get(ZONE_LABEL).cloned())
        .unwrap_or_default()
}

/// Sets the per-zone node counts: every node, and those whose Ready is not True.
pub fn zones<'a>(nodes: impl IntoIterator<Item = (&'a Node, bool)>) {
    let mut counts: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (node, ready) in nodes {
        let entry = counts.entry(zone(node)).or_default();
        entry.0 += 1;
        entry.1 += i64::from(!ready);
    }
    for (zone, (size, unhealthy)) in counts {
        ZONE_SIZE.with_label_values(&[&zone]).set(size);
        UNHEALTHY.with_label_values(&[&zone]).set(unhealthy);
    }
}

/// A pod evicted from a node of `zone`.
pub fn evicted(zone: &str) {
    EVICTIONS.with_label_values(&[zone]).inc();
}

/// A pod of `namespace` deleted by the pod GC for `reason` (`orphaned`, `terminated`), and
/// whether that failed.
pub fn force_deleted(namespace: &str, reason: &str, failed: bool) {
    let counter = if failed { &FORCE_DELETE_ERRORS } else { &FORCE_DELETES };
    counter.with_label_values(&[namespace, reason]).inc();
}
