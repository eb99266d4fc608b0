//! Prometheus metrics per RPC, and the endpoint that serves them.

use std::sync::{Arc, OnceLock};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use tonic::Code;

use super::{recorded_path, service_and_method};
use crate::{
    auth::{Rpc, rpc_count},
    checks::Lookups,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_service: &'static str,
    grpc_method: &'static str,
    grpc_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    grpc_service: &'static str,
    grpc_method: &'static str,
}

/// Per-RPC metrics, named as go-grpc-prometheus names them so existing dashboards apply.
pub struct Metrics {
    registry: Registry,
    handled: Family<HandledLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
    cache_lookups: Family<CacheLabels, Counter>,
    /// The series of each RPC by its catalogue index (the last slot for paths that name no RPC),
    /// looked up in the families once rather than on every call, and only once called, so that
    /// the endpoint lists the RPCs in use.
    series: Box<[OnceLock<RpcSeries>]>,
}

struct RpcSeries {
    latency: Histogram,
    /// By `Code as usize`.
    handled: [OnceLock<Counter>; 17],
}

impl Default for Metrics {
    fn default() -> Self {
        let handled = Family::<HandledLabels, Counter>::default();
        let latency = Family::<MethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0001, 2.5, 14,
            ))
        });
        let mut registry = Registry::default();
        registry.register(
            "grpc_server_handled",
            "RPCs completed, by status code",
            handled.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "RPC latency until the status is sent",
            latency.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "personae_cache_lookups",
            "Lookups in the caches of the check path and of authentication, by whether the \
             cache answered (hit) or the store was read (miss)",
            cache_lookups.clone(),
        );
        Self {
            registry,
            handled,
            latency,
            cache_lookups,
            series: (0..=rpc_count()).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Metrics {
    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    /// The counters of the cache named `cache`, for its [`Lookups`].
    pub fn cache_lookups(&self, cache: &'static str) -> Lookups {
        let counter = |outcome| {
            self.cache_lookups
                .get_or_create(&CacheLabels { cache, outcome })
                .clone()
        };
        Lookups {
            hits: counter("hit"),
            misses: counter("miss"),
        }
    }

    pub(super) fn record(&self, rpc: Option<&'static Rpc>, code: Code, seconds: f64) {
        let (grpc_service, grpc_method) = service_and_method(recorded_path(rpc));
        let series =
            self.series[rpc.map_or(rpc_count(), |rpc| rpc.index)].get_or_init(|| RpcSeries {
                latency: self
                    .latency
                    .get_or_create(&MethodLabels {
                        grpc_service,
                        grpc_method,
                    })
                    .clone(),
                handled: Default::default(),
            });
        series.handled[code as usize]
            .get_or_init(|| {
                self.handled
                    .get_or_create(&HandledLabels {
                        grpc_service,
                        grpc_method,
                        grpc_code: code_name(code),
                    })
                    .clone()
            })
            .inc();
        series.latency.observe(seconds);
    }
}

pub(super) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Serves `GET /metrics` on `listener`'s connections until `shutdown` resolves.
pub async fn serve_metrics(
    listener: impl axum::serve::Listener<Addr = std::net::SocketAddr>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
