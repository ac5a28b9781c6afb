//! Podium's scheduler: binds each pending pod to the best node, the way kube-scheduler does.
//!
//! Start at `scheduler::run` (the process: caches, queue, loop, binding), then `algorithm`
//! (one attempt: filter, score, pick) and `framework` (what plugins see).
//!
//! # Layout
//! - `framework`: the plugin interfaces (`FilterPlugin`, `ScorePlugin`, ...), `NodeInfo`,
//!   resource arithmetic and `Status`.
//! - `plugins`: the default plugins, one module each, and the default profile.
//! - `algorithm`: one scheduling attempt, with no IO; `preemption`: the PostFilter.
//! - `cache`: nodes with their bound and assumed pods; `queue`: active, back-off and
//!   unschedulable pods.
//! - `metrics`: kube-scheduler's Prometheus metrics.
//! - `scheduler`: the process (its leader election is `podium_client::leader`); `recorder`: Events.

pub mod algorithm;
pub mod cache;
pub mod framework;
pub mod metrics;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod recorder;
pub mod scheduler;

pub use scheduler::{Config, SchedulerError, run};
