//! Observability shared by every Podium binary: logs, OpenTelemetry traces, Prometheus metrics
//! and the tower middleware the servers wrap their routes in.
//!
//! A binary calls `init` once with its component name: logs go to stderr as text or JSON
//! lines (trace and span ids included in JSON), filtered by `RUST_LOG`-style directives;
//! spans are exported over OTLP/gRPC when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and nowhere otherwise. W3C trace context
//! crosses process boundaries in HTTP headers and gRPC metadata (`propagation`), and rides on
//! a pod as an annotation so every component's work on that pod joins one trace.
//!
//! # Layout
//! - `logs`: the `--log-format` flag, the filter and the JSON line format.
//! - `traces`: the tracer provider, `init` and the flush at shutdown.
//! - `propagation`: `traceparent` in and out of headers, metadata and annotations.
//! - `metrics`: the Prometheus registry, process metrics and the `/metrics` route.
//! - `middleware`: request ids, request spans, panics as 500s, load shedding and timeouts.

pub mod logs;
pub mod metrics;
pub mod middleware;
pub mod propagation;
pub mod traces;

pub use logs::{LogArgs, LogFormat};
pub use traces::{Telemetry, TelemetryError, init};
