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
pub use request_id::RequestId;
