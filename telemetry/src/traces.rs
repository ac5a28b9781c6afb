//! The tracer provider: spans become OpenTelemetry spans, exported over OTLP/gRPC in batches
//! when an endpoint is configured, and kept in-process (ids for logs and propagation, no
//! export) when not.
//!
//! The exporter reads the standard variables itself: `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (gRPC, e.g. `http://collector:4317`),
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`, the batch settings
//! `OTEL_BSP_*`; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the process, and
//! `OTEL_TRACES_EXPORTER=none` turns export off.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::runtime;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::logs::{JsonLines, LogArgs, LogFormat, filter};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("setting up the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("installing the log and trace subscriber: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

/// The process's tracing; `shutdown` exports what is still buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

/// Set once `init` has installed an exporting provider.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports its spans (work worth recording trace context for, e.g. on a
/// pod, is only done then).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Whether the environment asks for spans to be exported.
pub fn export_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.trim() == "none");
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Installs logging and tracing for component `service` (its `service.name` unless
/// `OTEL_SERVICE_NAME` says otherwise). Call once, inside the tokio runtime.
pub fn init(service: &'static str, args: &LogArgs) -> Result<Telemetry, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service);
    }
    let mut provider = SdkTracerProvider::builder().with_resource(resource.build());
    let exporting = export_configured();
    if exporting {
        let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
        provider = provider.with_span_processor(BatchSpanProcessor::builder(exporter, runtime::Tokio).build());
    }
    let provider = provider.build();
    let tracer = provider.tracer(service);
    // Spans are traced at info whatever RUST_LOG says (it filters the logs only), so a quiet
    // process still propagates and exports its traces.
    // No per-span thread, source location or busy/idle timing attributes: they cost more per
    // request than the span itself.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_tracked_inactivity(false)
        .with_filter(filter(None));
    let logs = filter(std::env::var("RUST_LOG").ok().as_deref());
    let registry = tracing_subscriber::registry().with(otel);
    match args.log_format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_filter(logs))
            .try_init()?,
        LogFormat::Json => registry
            .with(JsonLines::new(std::io::stderr).with_filter(logs))
            .try_init()?,
    }
    opentelemetry::global::set_tracer_provider(provider.clone());
    EXPORTING.store(exporting, Ordering::Relaxed);
    if exporting {
        tracing::info!(service, "exporting traces over OTLP");
    }
    Ok(Telemetry { provider, exporting })
}

impl Telemetry {
    /// Exports buffered spans and stops the exporter.
    pub async fn shutdown(self) {
        if !self.exporting {
            return;
        }
        let provider = self.provider;
        // The batch processor blocks until its task has flushed: off the async workers.
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}
