//! W3C trace context across processes: `traceparent` (and `tracestate`) in HTTP headers and
//! gRPC metadata, and a pod's creation context in its annotation.
//!
//! The apiserver stamps a new pod with the context of the request that created it
//! (`TRACE_ANNOTATION`); the scheduler and the agent parent their work on that pod to it, so
//! one trace runs from `kubectl create` to the pod's status.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The pod annotation holding the `traceparent` of the request that created the pod.
pub const TRACE_ANNOTATION: &str = "podium.io/trace-context";

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Writes the current span's context into an outgoing gRPC call's metadata.
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
    }
}

/// A tonic client interceptor sending the caller's trace context with each call.
#[allow(clippy::result_large_err)]
pub fn trace_interceptor(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    inject_metadata(request.metadata_mut());
    Ok(request)
}

/// Writes the current span's context into `headers` (gRPC metadata are headers too).
pub fn inject_current(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// The context `headers` carry (empty when none).
pub fn extract(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// The current span's `traceparent`, if it is part of a trace.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The context a `traceparent` value names (empty when malformed).
pub fn from_traceparent(traceparent: &str) -> opentelemetry::Context {
    let carrier: HashMap<String, String> = [("traceparent".to_owned(), traceparent.to_owned())].into();
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of the context in `annotations[TRACE_ANNOTATION]`, if there is one.
pub fn follow_annotation<'a>(span: &tracing::Span, annotations: impl IntoIterator<Item = (&'a String, &'a String)>) {
    if let Some((_, value)) = annotations.into_iter().find(|(k, _)| k.as_str() == TRACE_ANNOTATION) {
        let context = from_traceparent(value);
        if context.span().span_context().is_valid() {
            let _ = span.set_parent(context);
        }
    }
}
