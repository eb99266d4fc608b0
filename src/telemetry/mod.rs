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
