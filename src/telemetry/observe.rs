//! What the server records of every call: its request id, its span in logs and traces, its
//! metrics, and its access log line.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, HeaderName, Request};
use http_body::{Body as HttpBody, Frame};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::{Code, body::Body};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics::{Metrics, code_name};
use super::request_id::{REQUEST_ID, RequestId};
use super::{recorded_path, service_and_method};
use crate::auth::{Rpc, rpc};
use crate::middleware::{Inner, Middleware, Next, ResponseFuture};

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// Gives every call a request id, returned with the response when the caller sent it or the call
/// failed, and a span carrying it and the RPC, so that every log line and trace of the call can
/// be found by the id; counts the call by status
/// code and times it until its status is sent; logs one access line per call. One layer, so that
/// a call's path is looked up once and its id and span are at hand without passing them on.
#[derive(Clone)]
pub struct Observe {
    metrics: Arc<Metrics>,
}

impl Observe {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl Middleware for Observe {
    fn call<S: Inner>(&self, request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error> {
        let rpc = rpc(request.uri().path());
        let id = RequestId::of(request.headers());
        let span = call_span(rpc, &id, request.headers());
        let mut recorder = CallRecorder {
            metrics: self.metrics.clone(),
            rpc,
            id,
            span: span.clone(),
            start: Instant::now(),
            code: None,
        };
        let future = next.run(request);
        Box::pin(
            async move {
                let mut response = future.await?;
                // Errors come "trailers-only", with the status in the headers; other calls send
                // it in the trailers, which the body watches for.
                recorder.code = grpc_status(response.headers());
                // The caller's id goes back to it; a new one only with an error, which is when a
                // caller needs an id to quote. Sending a never-repeating header on every
                // successful call would cost every call for the rare one that is looked up.
                if recorder.id.given() || recorder.code.is_some_and(|code| code != Code::Ok) {
                    response
                        .headers_mut()
                        .insert(&REQUEST_ID, recorder.id.header_value());
                }
                Ok(response.map(|body| {
                    Body::new(ObservedBody {
                        inner: body,
                        recorder,
                    })
                }))
            }
            .instrument(span),
        )
    }
}

/// Named and described as OpenTelemetry's RPC conventions say, so that trace backends group and
/// label calls by RPC; the status is recorded when the call is over. Continues the caller's
/// trace, if it sent one.
fn call_span(rpc: Option<&'static Rpc>, id: &RequestId, headers: &HeaderMap) -> tracing::Span {
    let path = recorded_path(rpc);
    let (service, method) = service_and_method(path);
    let span = tracing::info_span!(
        "rpc",
        otel.name = path.trim_start_matches('/'),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        request_id = %id,
    );
    // Setting the parent fails only when traces are not exported at all.
    if !span.is_disabled() && headers.contains_key(&TRACEPARENT) {
        let _ = span.set_parent(TraceContextPropagator::new().extract(&HeaderExtractor(headers)));
    }
    span
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(&GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(Code::from_i32)
}

/// Records the call when its response is done with: fully sent, or dropped (a cancelled call).
/// Holding the call's span keeps it open until then, so the trace covers the whole call.
struct CallRecorder {
    metrics: Arc<Metrics>,
    rpc: Option<&'static Rpc>,
    id: RequestId,
    span: tracing::Span,
    start: Instant,
    code: Option<Code>,
}

impl Drop for CallRecorder {
    fn drop(&mut self) {
        let code = self.code.unwrap_or(Code::Cancelled);
        let elapsed = self.start.elapsed();
        self.metrics.record(self.rpc, code, elapsed.as_secs_f64());
        self.span
            .record("rpc.grpc.status_code", i64::from(code as i32));
        if is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
        tracing::info!(
            target: "personae::access",
            request_id = %self.id,
            rpc = recorded_path(self.rpc),
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
