//! The real `personae` binary exports one span per call to an OTLP collector, named and described
//! as OpenTelemetry's RPC conventions say, continuing the caller's trace, even with logs at
//! `warn`. The collector is an OTLP/gRPC receiver in this process.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::common::{
    Authorization,
    process::{free_addr, personae},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use personae::proto::{self, get_user_request::User as UserSelector, users_client::UsersClient};
use tokio::net::TcpListener;
use tonic::{Code, Request, Response, Status, transport::Channel};

/// Keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.spans.lock().expect("spans lock").extend(spans);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    fn span_named(&self, name: &str) -> Option<Span> {
        let spans = self.spans.lock().expect("spans lock");
        spans.iter().find(|span| span.name == name).cloned()
    }
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone())
}

fn string(value: &str) -> Option<Value> {
    Some(Value::StringValue(value.into()))
}

/// Asserts what every call's span carries, and returns its status code attribute.
fn assert_rpc_span(span: &Span, service: &str, method: &str) -> Option<Value> {
    assert_eq!(span.kind, SpanKind::Server as i32, "{}", span.name);
    assert_eq!(attribute(span, "rpc.system"), string("grpc"));
    assert_eq!(attribute(span, "rpc.service"), string(service));
    assert_eq!(attribute(span, "rpc.method"), string(method));
    assert!(
        matches!(attribute(span, "request_id"), Some(Value::StringValue(id)) if !id.is_empty()),
        "{} has no request id",
        span.name
    );
    attribute(span, "rpc.grpc.status_code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_exported_as_rpc_spans_continuing_the_callers_trace() {
    let collector = Collector::default();
    let receiver = TcpListener::bind("127.0.0.1:0").await.expect("bind OTLP");
    let otlp = receiver.local_addr().expect("OTLP address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(receiver)),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let token = personae::domain::api_key::generate().token;
    let (grpc, metrics) = (free_addr(), free_addr());
    let database_url = format!("sqlite://{}", dir.path().join("personae.db").display());
    // Killed when the test ends, however it ends.
    let _personae = personae(&database_url, &["serve"])
        .env("PERSONAE_LISTEN", grpc.to_string())
        .env("PERSONAE_METRICS_LISTEN", metrics.to_string())
        .env("PERSONAE_BOOTSTRAP_TOKEN", &token)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .spawn()
        .expect("start personae");

    let deadline = Instant::now() + Duration::from_secs(60);
    let channel = loop {
        match Channel::from_shared(format!("http://{grpc}"))
            .expect("endpoint")
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("personae did not start listening: {error}"),
        }
    };
    let mut users = UsersClient::with_interceptor(channel.clone(), Authorization::bearer(&token));

    users
        .create_user(proto::CreateUserRequest {
            email: "ada@example.com".into(),
            full_name: "Ada Lovelace".into(),
            ..Default::default()
        })
        .await
        .expect("create user");
    let missing = users
        .get_user(proto::GetUserRequest {
            user: Some(UserSelector::Id(uuid::Uuid::now_v7().to_string())),
        })
        .await
        .expect_err("no such user");
    assert_eq!(missing.code(), Code::NotFound);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let mut traced = Request::new(proto::ListUsersRequest::default());
    let metadata = traced.metadata_mut();
    metadata.insert(
        "traceparent",
        format!("00-{trace_id}-{parent_id}-01")
            .parse()
            .expect("traceparent"),
    );
    metadata.insert("x-request-id", "traced-call".parse().expect("request id"));
    users.list_users(traced).await.expect("list users");
    // A path that names no RPC, different each time, must not become a span name of its own.
    let nonsense = format!(
        "/personae.v1.Users/Nonsense{}",
        uuid::Uuid::now_v7().simple()
    );
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.expect("channel ready");
    let refused: Result<Response<()>, Status> = raw
        .unary(
            Request::new(()),
            http::uri::PathAndQuery::try_from(nonsense.as_str()).expect("path"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(refused.is_err(), "{nonsense} answered");

    let names = [
        "personae.v1.Users/CreateUser",
        "personae.v1.Users/GetUser",
        "personae.v1.Users/ListUsers",
        "unknown/unknown",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let [created, missing, listed, unknown] = loop {
        let spans = names.map(|name| collector.span_named(name));
        if let [Some(created), Some(missing), Some(listed), Some(unknown)] = spans {
            break [created, missing, listed, unknown];
        }
        assert!(
            Instant::now() < deadline,
            "spans never arrived; got {:?}",
            collector
                .spans
                .lock()
                .expect("spans lock")
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(
        assert_rpc_span(&created, "personae.v1.Users", "CreateUser"),
        Some(Value::IntValue(0))
    );
    assert!(
        created.parent_span_id.is_empty(),
        "a call without traceparent starts a trace"
    );

    // NOT_FOUND comes trailers-only; it is the caller's error, not the server's.
    assert_eq!(
        assert_rpc_span(&missing, "personae.v1.Users", "GetUser"),
        Some(Value::IntValue(Code::NotFound as i64))
    );
    let status = missing.status.unwrap_or_default();
    assert_ne!(status.code, StatusCode::Error as i32);

    assert_eq!(
        assert_rpc_span(&listed, "personae.v1.Users", "ListUsers"),
        Some(Value::IntValue(0))
    );
    assert_eq!(hex::encode(&listed.trace_id), trace_id);
    assert_eq!(hex::encode(&listed.parent_span_id), parent_id);
    assert_eq!(attribute(&listed, "request_id"), string("traced-call"));
    assert_rpc_span(&unknown, "unknown", "unknown");
    assert!(
        collector
            .span_named(nonsense.trim_start_matches('/'))
            .is_none()
    );
}
