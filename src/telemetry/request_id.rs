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
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

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
        let id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
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
            request_id = %id,
        );
        // Continues the caller's trace. This fails only when traces are not exported at all.
        let _ = span
            .set_parent(TraceContextPropagator::new().extract(&HeaderExtractor(request.headers())));
        request.extensions_mut().insert(RequestId(id.clone()));
        request.extensions_mut().insert(span.clone());
        let future = next.run(request);
        Box::pin(
            async move {
                let mut response = future.await?;
                if let Ok(value) = HeaderValue::from_str(&id) {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}
