//! Logs, traces and metrics.
//!
//! Logs are `tracing` events on stderr (JSON when asked). Traces go to an OTLP collector when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Metrics are Prometheus counters and histograms per RPC,
//! recorded by [`RpcMetrics`] and served on `--metrics-listen`.

mod init;
mod metrics;
mod request_id;

pub use init::{TelemetryGuard, init};
pub use metrics::{Metrics, RpcMetrics, serve_metrics};
pub use request_id::{RequestId, RequestIds};

/// The path of a call, with paths that name no RPC folded into one, so that callers cannot grow
/// metric label sets or span names without bound.
fn known_rpc(path: &str) -> &'static str {
    crate::auth::known_path(path).unwrap_or("/unknown/unknown")
}

/// `/package.Service/Method` as (`package.Service`, `Method`).
fn split_path(path: &'static str) -> (&'static str, &'static str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}
