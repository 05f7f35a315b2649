//! Where logs and traces go: `tracing` events to stdout (text, or JSON with `LOG_FORMAT=json`),
//! and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the spans (one per HTTP request, with its
//! method, path and request id, never its query string) exported over OTLP/HTTP to a collector.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The trace exporter, if any: shut it down before exiting so that buffered spans leave.
#[must_use = "call `shutdown` before exiting, or buffered spans are lost"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the trace exporter (blocks until its last batch is sent or fails).
    pub fn shutdown(self) {
        if let Some(provider) = self.traces
            && let Err(error) = provider.shutdown()
        {
            eprintln!("OpenTelemetry: spans not flushed at exit: {error}");
        }
    }
}

/// Installs the global subscriber. `otlp_endpoint` is the collector's base URL (as in
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. `http://otel-collector:4318`); traces go to its
/// `/v1/traces`.
pub fn init(json: bool, otlp_endpoint: Option<&str>) -> Result<Telemetry, String> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let output: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(tracing_subscriber::fmt::layer().json())
    } else {
        Box::new(tracing_subscriber::fmt::layer())
    };
    let traces = otlp_endpoint.map(tracer_provider).transpose()?;
    let exported = traces
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("concierge")));
    tracing_subscriber::registry()
        .with(output)
        .with(exported)
        .with(filter)
        .try_init()
        .map_err(|e| format!("logging: {e}"))?;
    Ok(Telemetry { traces })
}

fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let base = endpoint.trim_end_matches('/');
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("concierge").build())
        .build())
}
