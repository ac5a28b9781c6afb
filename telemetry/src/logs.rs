//! Log output: `--log-format text|json` on stderr, filtered by `RUST_LOG`-style directives.
//!
//! The default filter is `info` with chatty dependencies (sled, the HTTP/2 stack,
//! OpenTelemetry's own) held at `warn`; a `RUST_LOG` that does not mention sled still keeps
//! it at `warn`. JSON lines carry the timestamp, level, target, the event's fields, the span
//! path and, inside a traced span, its `trace_id` and `span_id`.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Dependencies that are too talkative at `info`.
const QUIET: &[&str] = &["sled", "h2", "hyper", "tower", "opentelemetry", "opentelemetry_sdk"];

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with trace and span ids.
    Json,
}

/// The logging flags every binary takes.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log line format; `RUST_LOG` filters what is logged (default: info).
    #[arg(long, env = "PODIUM_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl Default for LogArgs {
    fn default() -> Self {
        LogArgs {
            log_format: LogFormat::Text,
        }
    }
}

/// The filter from `directives` (`RUST_LOG`'s value, if set): `info` by default, and the
/// quiet dependencies at `warn` unless the directives name them.
pub fn filter(directives: Option<&str>) -> EnvFilter {
    let mut text = directives.filter(|d| !d.trim().is_empty()).unwrap_or("info").to_owned();
    for target in QUIET {
        let named = text.split(',').any(|d| d.trim().split('=').next() == Some(*target));
        if !named {
            text.push_str(&format!(",{target}=warn"));
        }
    }
    EnvFilter::try_new(&text).unwrap_or_else(|e| {
        eprintln!("ignoring RUST_LOG={text:?}: {e}");
        EnvFilter::new("info")
    })
}

/// The JSON log layer: one object per event, with the OpenTelemetry trace and span ids of
/// the span it happened in.
pub struct JsonLines<W> {
    writer: W,
    dispatch: OnceLock<WeakDispatch>,
}

impl<W> JsonLines<W> {
    pub fn new(writer: W) -> Self {
        JsonLines {
            writer,
            dispatch: OnceLock::new(),
        }
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        event.record(&mut Fields(&mut line));
        if let Some(scope) = ctx.event_scope(event) {
            let spans: Vec<_> = scope.from_root().map(|s| (s.id(), s.name())).collect();
            line.insert(
                "spans".into(),
                spans.iter().map(|(_, name)| Value::from(*name)).collect(),
            );
            let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade);
            let innermost = spans.last().map(|(id, _)| id.clone());
            if let (Some(dispatch), Some(id)) = (dispatch, innermost)
                && let Some(context) = tracing_opentelemetry::get_otel_context(&id, &dispatch)
            {
                let span = context.span();
                let ids = span.span_context();
                if ids.is_valid() {
                    line.insert("trace_id".into(), ids.trace_id().to_string().into());
                    line.insert("span_id".into(), ids.span_id().to_string().into());
                }
            }
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_dependencies_stay_at_warn_unless_named() {
        let f = filter(None).to_string();
        assert!(f.contains("sled=warn") && f.contains("info"), "{f}");
        let f = filter(Some("debug")).to_string();
        assert!(f.contains("sled=warn") && f.contains("debug"), "{f}");
        let f = filter(Some("info,sled=debug")).to_string();
        assert!(f.contains("sled=debug") && !f.contains("sled=warn"), "{f}");
    }

    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_fields_spans_and_trace_ids() {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;

        let buffer = Buffer::default();
        let writer = buffer.clone();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        // Filtered per layer, as `init` installs them.
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("test"))
                    .with_filter(filter(None)),
            )
            .with(JsonLines::new(move || writer.clone()).with_filter(filter(Some("info"))));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(outside = true, "no span");
            let span = tracing::info_span!("sync pod", pod = "web");
            let _entered = span.enter();
            tracing::warn!(count = 3, "inside");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["message"], "no span");
        assert_eq!(lines[0]["outside"], true);
        assert!(lines[0].get("trace_id").is_none());
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["count"], 3);
        assert_eq!(lines[1]["spans"][0], "sync pod");
        assert_eq!(
            lines[1]["trace_id"].as_str().unwrap_or_else(|| panic!("{text}")).len(),
            32
        );
        assert_eq!(lines[1]["span_id"].as_str().unwrap().len(), 16);
    }
}
