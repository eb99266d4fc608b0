//! The identity of each call: its request id, and its span in logs and traces.

use http::{HeaderValue, Request, Response};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::body::Body;
use tower::Service;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{known_rpc, split_path};

use crate::middleware::{Middleware, Next, ResponseFuture};

/// The id of one call: the caller's `x-request-id` if it sent a sane one, else a new UUIDv7.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever kept, so this never falls back.
        self.0.to_str().unwrap_or_default()
    }
}

const REQUEST_ID: &str = "x-request-id";
const TRACEPARENT: &str = "traceparent";

/// Gives every call a request id, echoed in the response, and a span carrying it and the RPC,
/// so every log line and trace of the call can be found by the id. The span goes to later
/// layers in the request extensions.
#[derive(Clone, Default)]
pub struct RequestIds;

impl Middleware for RequestIds {
    fn call<S>(&self, mut request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error>
    where
        S: Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        let id = RequestId(
            request
                .headers()
                .get(REQUEST_ID)
                .filter(|v| {
                    let bytes = v.as_bytes();
                    !bytes.is_empty()
                        && bytes.len() <= 128
                        && bytes.iter().all(u8::is_ascii_graphic)
                })
                .cloned()
                .unwrap_or_else(new_request_id),
        );
        let rpc = known_rpc(request.uri().path());
        let (service, method) = split_path(rpc);
        // Named and described as OpenTelemetry's RPC conventions say, so trace backends group
        // and label calls by RPC; the status is recorded when the call is over.
        let span = tracing::info_span!(
            "rpc",
            otel.name = rpc.trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
            request_id = id.as_str(),
        );
        // Continues the caller's trace, if it sent one. This fails only when traces are not
        // exported at all.
        if request.headers().contains_key(TRACEPARENT) {
            let _ = span.set_parent(
                TraceContextPropagator::new().extract(&HeaderExtractor(request.headers())),
            );
        }
        request.extensions_mut().insert(id.clone());
        // A span no layer wants (logs below info, no trace export) is not passed on.
        if !span.is_disabled() {
            request.extensions_mut().insert(span.clone());
        }
        let future = next.run(request);
        Box::pin(
            async move {
                let mut response = future.await?;
                response.headers_mut().insert(REQUEST_ID, id.0);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// A new request id: a UUIDv7, formatted on the stack.
fn new_request_id() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}
