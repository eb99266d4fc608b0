//! Prometheus metrics per RPC, and what is known only when a call is over: its access log line
//! and its span's status.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::serve::ListenerExt;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};
use tonic::{Code, body::Body};
use tower::Service;

use super::{RequestId, known_rpc, split_path};
use crate::middleware::{Middleware, Next, ResponseFuture};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandledLabels {
    grpc_service: &'static str,
    grpc_method: &'static str,
    grpc_code: &'static str,
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
        Self {
            registry,
            handled,
            latency,
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

    fn record(&self, path: &'static str, code: Code, seconds: f64) {
        let (grpc_service, grpc_method) = split_path(path);
        self.handled
            .get_or_create(&HandledLabels {
                grpc_service,
                grpc_method,
                grpc_code: code_name(code),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels {
                grpc_service,
                grpc_method,
            })
            .observe(seconds);
    }
}

fn code_name(code: Code) -> &'static str {
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

/// Serves `GET /metrics` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
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
    // As on the gRPC listener: without it, Nagle's algorithm delays the reply's last write.
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY on a metrics connection");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Counts every call by status code and times it until its status is sent, and logs one access
/// line per call.
#[derive(Clone)]
pub struct RpcMetrics {
    metrics: Arc<Metrics>,
}

impl RpcMetrics {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl Middleware for RpcMetrics {
    fn call<S>(&self, request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error>
    where
        S: Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let mut recorder = CallRecorder {
            metrics: self.metrics.clone(),
            path: known_rpc(request.uri().path()),
            request_id: request.extensions().get::<RequestId>().cloned(),
            span: request
                .extensions()
                .get::<tracing::Span>()
                .cloned()
                .unwrap_or_else(tracing::Span::none),
            start: Instant::now(),
            code: None,
        };
        let future = next.run(request);
        Box::pin(async move {
            let response = future.await?;
            // Errors come "trailers-only", with the status in the headers; other calls send it
            // in the trailers, which the body watches for.
            recorder.code = grpc_status(response.headers());
            Ok(response.map(|body| {
                Body::new(ObservedBody {
                    inner: body,
                    recorder,
                })
            }))
        })
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// Records the call when its response is done with: fully sent, or dropped (a cancelled call).
/// Holding the call's span keeps it open until then, so the trace covers the whole call.
struct CallRecorder {
    metrics: Arc<Metrics>,
    path: &'static str,
    request_id: Option<RequestId>,
    span: tracing::Span,
    start: Instant,
    code: Option<Code>,
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        let code = self.code.unwrap_or(Code::Cancelled);
        let elapsed = self.start.elapsed();
        self.metrics.record(self.path, code, elapsed.as_secs_f64());
        self.span
            .record("rpc.grpc.status_code", i64::from(code as i32));
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
        tracing::info!(
            target: "personae::access",
            request_id = self.request_id.as_ref().map_or("", RequestId::as_str),
            rpc = self.path,
            code = code_name(code),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "call finished"
        );
    }
}

/// The codes that mark a server span as failed in OpenTelemetry's gRPC conventions; the others
/// are the caller's doing.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

pin_project_lite::pin_project! {
    struct ObservedBody {
        #[pin]
        inner: Body,
        recorder: CallRecorder,
    }
}

impl HttpBody for ObservedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &frame
            && let Some(trailers) = frame.trailers_ref()
            && let Some(code) = grpc_status(trailers)
        {
            this.recorder.code = Some(code);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
