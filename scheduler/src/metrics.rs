//! The scheduler's Prometheus metrics, named as kube-scheduler names them:
//! `scheduler_schedule_attempts_total{result,profile}`,
//! `scheduler_scheduling_attempt_duration_seconds{result,profile}`,
//! `scheduler_pending_pods{queue}` (active, backoff, unschedulable, gated),
//! `scheduler_preemption_attempts_total` and `scheduler_preemption_victims`.

use std::sync::LazyLock;

use podium_telemetry::metrics::prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, register_histogram,
    register_histogram_vec, register_int_counter, register_int_counter_vec, register_int_gauge_vec,
};

/// An attempt's outcome, as the `result` label says it.
pub const SCHEDULED: &str = "scheduled";
pub const UNSCHEDULABLE: &str = "unschedulable";
pub const ERROR: &str = "error";

pub static ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem."
        ),
        &["result", "profile"]
    )
    .expect("registering scheduler_schedule_attempts_total")
});

pub static ATTEMPT_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        HistogramOpts::new(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)"
        )
        .buckets(podium_telemetry::metrics::prometheus::exponential_buckets(0.001, 2.0, 15).expect("valid buckets")),
        &["result", "profile"]
    )
    .expect("registering scheduler_scheduling_attempt_duration_seconds")
});

pub static PENDING: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated."
        ),
        &["queue"]
    )
    .expect("registering scheduler_pending_pods")
});

pub static PREEMPTION_ATTEMPTS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "scheduler_preemption_attempts_total",
        "Total preemption attempts in the cluster till now"
    )
    .expect("registering scheduler_preemption_attempts_total")
});

pub static PREEMPTION_VICTIMS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        HistogramOpts::new("scheduler_preemption_victims", "Number of selected preemption victims")
            .buckets(podium_telemetry::metrics::prometheus::exponential_buckets(1.0, 2.0, 7).expect("valid buckets"))
    )
    .expect("registering scheduler_preemption_victims")
});

/// Records one attempt of `profile` that ended in `result` after `seconds`.
pub fn attempt(result: &str, profile: &str, seconds: f64) {
    ATTEMPTS.with_label_values(&[result, profile]).inc();
    ATTEMPT_DURATION.with_label_values(&[result, profile]).observe(seconds);
}

/// Sets the pending pods per queue.
pub fn pending(active: usize, backoff: usize, unschedulable: usize) {
    let set = |queue: &str, n: usize| {
        PENDING
            .with_label_values(&[queue])
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    };
    set("active", active);
    set("backoff", backoff);
    set("unschedulable", unschedulable);
    set("gated", 0);
}

/// Registers every metric, so a scrape before the first pod shows them.
pub fn register() {
    LazyLock::force(&ATTEMPTS);
    LazyLock::force(&ATTEMPT_DURATION);
    pending(0, 0, 0);
    LazyLock::force(&PREEMPTION_ATTEMPTS);
    LazyLock::force(&PREEMPTION_VICTIMS);
}
