//! Logs on stderr and traces to an OTLP collector.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use tracing::Level;
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::Targets, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Flushes exported traces when dropped at shutdown.
pub struct TelemetryGuard {
    tracer_provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber: logs on stderr, JSON or text, filtered as `RUST_LOG` says
/// (default `info`), and OTLP export of personae's spans when `OTEL_EXPORTER_OTLP_ENDPOINT` is
/// set, whatever the log level. The SDK reads the other `OTEL_*` settings itself, among them
/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
pub fn init(json: bool) -> anyhow::Result<TelemetryGuard> {
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let log_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed()
    };
    let tracer_provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?;
            Some(
                opentelemetry_sdk::trace::SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(
                        opentelemetry_sdk::Resource::builder()
                            .with_service_name("personae")
                            .build(),
                    )
                    .build(),
            )
        }
        _ => None,
    };
    // Its own filter, not RUST_LOG's: quieter logs must not cost the traces, and the spans of
    // libraries (h2, sqlx) would only bury the calls.
    let otel_layer = tracer_provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("personae"))
            .with_filter(Targets::new().with_target("personae", Level::INFO))
    });
    tracing_subscriber::registry()
        .with(log_layer.with_filter(log_filter))
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard { tracer_provider })
}
