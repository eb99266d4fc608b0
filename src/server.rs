//! Assembles the gRPC server: services, health, reflection, and the one tower stack.

use std::{
    future::Future,
    sync::Arc,
    task::{Context as TaskContext, Poll},
    time::Duration,
};

use anyhow::Context as _;
use futures::future::BoxFuture;
use http::{Request, Response};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Status, body::Body, server::NamedService, transport::Server};
use tonic_health::ServingStatus;
use tower::{Layer, Service, ServiceBuilder};

use crate::api::{
    AuditApi, Context, GroupsApi, IamConfigApi, ImpersonationApi, PermissionsApi, UsersApi,
};
use crate::auth::{Authenticator, layer::AuthLayer};
use crate::domain::{BUILT_IN_IAM_ID, api_key, user};
use crate::proto::{
    FILE_DESCRIPTOR_SET, audit_server::AuditServer, groups_server::GroupsServer,
    iam_config_server::IamConfigServer, impersonation_server::ImpersonationServer,
    permissions_server::PermissionsServer, users_server::UsersServer,
};
use crate::store::{NewApiKey, Store};
use crate::telemetry::{Metrics, MetricsLayer, RequestIdLayer, serve_metrics};

/// Largest request message accepted; personae's requests are small, so a large one is abuse.
const MAX_DECODING_MESSAGE_SIZE: usize = 1024 * 1024;
/// How often health re-checks the store.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// What `serve` needs beyond the store and listeners.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
}

/// The username of the admin created on first start.
pub const BOOTSTRAP_ADMIN_EMAIL: &str = "admin@personae.local";

/// On an empty store, creates an admin holding every built-in permission with one API key:
/// `token` when given (PERSONAE_BOOTSTRAP_TOKEN), else a new one. Returns the key when it was
/// created here and must be shown to the operator, once.
pub async fn bootstrap(store: &dyn Store, token: Option<&str>) -> anyhow::Result<Option<String>> {
    let key = match token {
        Some(token) => api_key::adopt(token).map_err(|e| {
            anyhow::anyhow!("PERSONAE_BOOTSTRAP_TOKEN is not a personae API key ({e}); `personae bootstrap --new-token` prints one")
        })?,
        None => api_key::generate(),
    };
    let admin = user::NewUser {
        email: user::Email::parse("email", BOOTSTRAP_ADMIN_EMAIL)?,
        full_name: user::FullName::parse("full_name", "Bootstrap admin")?,
        kind: user::UserKind::Person,
        iam_id: BUILT_IN_IAM_ID,
    };
    let new_key = NewApiKey {
        id: key.key_id,
        user_id: crate::domain::Id::new(),
        display_name: "bootstrap".into(),
        secret_hash: key.secret_hash,
        expire_time: None,
    };
    let created = store.bootstrap(admin, new_key).await?;
    Ok((created && token.is_none()).then_some(key.token))
}

/// Serves the API on `grpc` and metrics on `metrics` until `shutdown` resolves, then drains
/// in-flight calls.
pub async fn serve(
    store: Arc<dyn Store>,
    grpc: TcpListener,
    metrics: TcpListener,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let context = Context {
        store: store.clone(),
    };
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let metrics_registry = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let service_names = [
        <UsersServer<UsersApi> as NamedService>::NAME,
        <GroupsServer<GroupsApi> as NamedService>::NAME,
        <PermissionsServer<PermissionsApi> as NamedService>::NAME,
        <IamConfigServer<IamConfigApi> as NamedService>::NAME,
        <ImpersonationServer<ImpersonationApi> as NamedService>::NAME,
        <AuditServer<AuditApi> as NamedService>::NAME,
    ];
    let mut health = StoreHealth {
        store: store.clone(),
        reporter: health_reporter,
        services: service_names.to_vec(),
        last: None,
    };
    // Health is known before the first call is accepted.
    health.probe().await;
    let health_task = tokio::spawn(health.watch());
    let metrics_task = tokio::spawn(serve_metrics(
        metrics,
        metrics_registry.clone(),
        stopped(stop_rx.clone()),
    ));

    let stack = ServiceBuilder::new()
        // Outermost, so every log line, trace and response below carries the request id.
        .layer(RequestIdLayer)
        // Outside shedding and auth, so refused and shed calls are counted and timed too.
        .layer(MetricsLayer::new(metrics_registry))
        // Before auth, so an overloaded server refuses calls without touching the store.
        .layer(LoadShedLayer::new(options.max_concurrent_requests))
        // Innermost: handlers only ever see authenticated, authorized calls.
        .layer(AuthLayer::new(Authenticator::new(store)));

    let result = Server::builder()
        // tonic 0.14 leaves these unbounded unless set (HTTP/2 rapid-reset and flood defences).
        .max_concurrent_streams(100)
        .http2_max_local_error_reset_streams(Some(1024))
        .http2_max_pending_accept_reset_streams(Some(100))
        .http2_max_header_list_size(16 * 1024)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
        .timeout(options.request_timeout)
        .layer(stack)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            UsersServer::new(UsersApi::new(context.clone()))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            GroupsServer::new(GroupsApi::new(context.clone()))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            PermissionsServer::new(PermissionsApi::new(context.clone()))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            IamConfigServer::new(IamConfigApi::new(context.clone()))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            ImpersonationServer::new(ImpersonationApi)
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            AuditServer::new(AuditApi::new(context))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), shutdown)
        .await
        .context("serving gRPC");
    let _ = stop_tx.send(true);
    health_task.abort();
    metrics_task
        .await
        .context("metrics server task")?
        .context("serving metrics")?;
    result
}

/// Reports NOT_SERVING for every service while the store cannot be reached.
struct StoreHealth {
    store: Arc<dyn Store>,
    reporter: tonic_health::server::HealthReporter,
    services: Vec<&'static str>,
    last: Option<ServingStatus>,
}

impl StoreHealth {
    async fn probe(&mut self) {
        let status = match self.store.ping().await {
            Ok(()) => ServingStatus::Serving,
            Err(error) => {
                tracing::warn!(%error, "store unreachable; health is NOT_SERVING");
                ServingStatus::NotServing
            }
        };
        if self.last != Some(status) {
            self.reporter.set_service_status("", status).await;
            for service in &self.services {
                self.reporter.set_service_status(*service, status).await;
            }
            self.last = Some(status);
        }
    }

    async fn watch(mut self) {
        loop {
            tokio::time::sleep(HEALTH_PROBE_INTERVAL).await;
            self.probe().await;
        }
    }
}

/// Serves at most `limit` calls at once and refuses the rest at once with UNAVAILABLE, so
/// an overloaded server sheds load instead of queueing it into timeouts.
#[derive(Clone)]
struct LoadShedLayer {
    permits: Arc<Semaphore>,
}

impl LoadShedLayer {
    fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone)]
struct LoadShed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S> Service<Request<Body>> for LoadShed<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let future = self.inner.call(request);
                Box::pin(async move {
                    let response = future.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => Box::pin(async {
                Ok(Status::unavailable(
                    "the server is at its concurrency limit; retry with backoff",
                )
                .into_http())
            }),
        }
    }
}
