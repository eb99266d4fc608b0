//! Assembles the gRPC server: services, health, reflection, and the one tower stack.

mod health;
mod load_shed;
mod message_limit;
mod tls;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tonic::{
    server::NamedService,
    transport::{Server, server::TcpIncoming},
};
use tower::ServiceBuilder;

use crate::api::{
    AuditApi, Context, GroupsApi, IamConfigApi, ImpersonationApi, PermissionsApi, UsersApi,
};
use crate::auth::{Authenticator, SelfServiceLimit, layer::Auth};
use crate::checks::Decisions;
use crate::domain::address::AddressPolicy;
use crate::middleware;
use crate::proto::{
    FILE_DESCRIPTOR_SET, audit_server::AuditServer, groups_server::GroupsServer,
    iam_config_server::IamConfigServer, impersonation_server::ImpersonationServer,
    permissions_server::PermissionsServer, users_server::UsersServer,
};
use crate::store::Store;
use crate::telemetry::{Metrics, Observe, serve_metrics};
use health::StoreHealth;
use load_shed::LoadShed;
use message_limit::MessageLimit;
use tls::Protocol;
pub use tls::ServerTls;

/// Largest request message accepted; personae's requests are small, so a large one is abuse.
/// MessageLimit enforces it; tonic's own limit is the backstop.
const MAX_DECODING_MESSAGE_SIZE: usize = 1024 * 1024;

/// What `serve` needs beyond the store and listeners.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    /// How often impersonation decisions are written to the audit log.
    pub decision_audit_interval: Duration,
    /// The most entries each cache of checks and credentials holds.
    pub cache_entries: usize,
    /// Which addresses user-info endpoints may be at.
    pub user_info_addresses: AddressPolicy,
    /// The most active API keys one user may have.
    pub max_api_keys_per_user: u32,
    /// Writes a caller without USER_ADMIN may make on its own keys a minute; 0: unlimited.
    pub self_service_writes_per_minute: u32,
    /// Serve gRPC over TLS; plaintext when `None`.
    pub tls: Option<ServerTls>,
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
    let metrics_registry = Arc::new(Metrics::default());
    let decisions = Arc::new(Decisions::start(
        store.clone(),
        options.decision_audit_interval,
        options.cache_entries,
        &metrics_registry,
    ));
    let self_service = Arc::new(SelfServiceLimit::per_minute(
        options.self_service_writes_per_minute,
    ));
    let forget_task = tokio::spawn(self_service.clone().forget_idle_periodically());
    let context = Context {
        store: store.clone(),
        decisions: decisions.clone(),
        user_info_addresses: options.user_info_addresses,
        max_api_keys_per_user: options.max_api_keys_per_user,
        self_service,
    };
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // google.rpc's error details too, so that grpcurl decodes a refusal's RetryInfo.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

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
    let metrics_task = match &options.tls {
        Some(tls) => tokio::spawn(serve_metrics(
            tls.listen(metrics, Protocol::Http1)?,
            metrics_registry.clone(),
            stopped(stop_rx.clone()),
        )),
        // As on the gRPC listener (and in the TLS accept loop): without it, Nagle's algorithm
        // delays the reply's last write.
        None => tokio::spawn(serve_metrics(
            metrics.tap_io(|stream| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::warn!(%error, "cannot set TCP_NODELAY on a metrics connection");
                }
            }),
            metrics_registry.clone(),
            stopped(stop_rx.clone()),
        )),
    };

    let stack = ServiceBuilder::new()
        // Outermost, so every log line, trace and response below carries the request id, and
        // calls refused by shedding or auth are counted and timed too.
        .layer(middleware::layer(Observe::new(metrics_registry.clone())))
        // Before auth, so an overloaded server refuses calls without touching the store.
        .layer(middleware::layer(LoadShed::new(
            options.max_concurrent_requests,
        )))
        // Handlers only ever see authenticated, authorized calls.
        .layer(middleware::layer(Auth::new(Authenticator::new(
            store,
            options.cache_entries,
            &metrics_registry,
        ))))
        // Innermost, so only calls that may be served have their bodies read; it refuses an
        // oversized message as the handler starts reading it.
        .layer(middleware::layer(MessageLimit::new(
            MAX_DECODING_MESSAGE_SIZE,
        )));

    let router = Server::builder()
        // tonic 0.14 leaves these unbounded unless set (HTTP/2 rapid-reset and flood defences).
        .max_concurrent_streams(100)
        .http2_max_local_error_reset_streams(Some(1024))
        .http2_max_pending_accept_reset_streams(Some(100))
        .http2_max_header_list_size(16 * 1024)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
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
            ImpersonationServer::new(ImpersonationApi::new(context.clone()))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        )
        .add_service(
            AuditServer::new(AuditApi::new(context))
                .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE),
        );
    let result = match &options.tls {
        Some(tls) => {
            router
                .serve_with_incoming_shutdown(
                    tls.listen(grpc, Protocol::Grpc)?.into_stream(),
                    shutdown,
                )
                .await
        }
        // Replies go out in small writes; Nagle's algorithm would hold each back for an ACK.
        // The builder's tcp_nodelay does not reach sockets of a listener passed in, so the
        // listener sets it on each one it accepts (as the TLS listener does).
        None => {
            router
                .serve_with_incoming_shutdown(
                    TcpIncoming::from(grpc).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
        }
    }
    .context("serving gRPC");
    // Calls have drained: no decision can arrive after this last write.
    decisions.close().await;
    let _ = stop_tx.send(true);
    health_task.abort();
    forget_task.abort();
    metrics_task
        .await
        .context("metrics server task")?
        .context("serving metrics")?;
    result
}
