//! Logs, traces and metrics.
//!
//! Logs are `tracing` events on stderr (JSON when asked). Traces go to an OTLP collector when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Metrics are Prometheus counters and histograms per RPC,
//! served on `--metrics-listen`. [`Observe`] records every call in all three.

mod init;
mod metrics;
mod observe;
mod request_id;

pub use init::{TelemetryGuard, init};
pub use metrics::{Metrics, serve_metrics};
pub use observe::Observe;

/// The path a call is recorded under: its RPC's, or one name shared by every path that names no
/// RPC, so that callers cannot grow metric label sets or span names without bound.
fn recorded_path(rpc: Option<&'static crate::auth::Rpc>) -> &'static str {
    rpc.map_or("/unknown/unknown", |rpc| rpc.path.as_str())
}

/// `/package.Service/Method` as (`package.Service`, `Method`): the names metrics and traces
/// group calls by.
fn service_and_method(path: &'static str) -> (&'static str, &'static str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}
