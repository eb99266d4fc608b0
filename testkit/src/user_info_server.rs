//! A real HTTPS user-info endpoint for the IAM tests: rustls with certificates made by rcgen at
//! test time, a client certificate required, basic auth checked, one answer per `userid` for
//! each way an endpoint can answer, and answers a test scripts for its own users.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine as _;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use personae::proto;
use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::certs::{CURRENT, Pem, certificate};

pub const USERNAME: &str = "personae";
pub const PASSWORD: &str = "user-info-secret-8f3a";

/// The running endpoint: its URI, the CA that signed its certificate, a client certificate it
/// accepts, and the answers scripted for it.
pub struct UserInfoServer {
    /// Its URI by the name `localhost`.
    pub uri: String,
    /// The loopback port it listens on.
    pub port: u16,
    pub ca: Pem,
    pub client: Pem,
    pub script: Script,
    task: tokio::task::JoinHandle<()>,
}

/// A status and body, sent after a delay.
type Scripted = (StatusCode, String, Duration);

/// Answers scripted by userid, and what the endpoint has seen: how many connections and
/// requests, and the most answered at once.
#[derive(Clone, Default)]
pub struct Script {
    answers: Arc<Mutex<HashMap<String, Scripted>>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl Script {
    /// Answers `userid` with `status` and `body` after `delay`.
    pub fn answer(&self, userid: &str, status: u16, body: &str, delay: Duration) {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                userid.to_owned(),
                (
                    StatusCode::from_u16(status).unwrap(),
                    body.to_owned(),
                    delay,
                ),
            );
    }

    /// How many user-info requests were answered or are being answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many TCP connections were accepted, whatever came of them.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The most requests in flight at once.
    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    fn scripted(&self, userid: &str) -> Option<Scripted> {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(userid)
            .cloned()
    }
}

/// Counts a request in flight while it lives.
struct InFlight(Script);

impl InFlight {
    fn start(script: &Script) -> Self {
        script.requests.fetch_add(1, Ordering::SeqCst);
        let now = script.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        script.most_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(script.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The userid of a query, decoded as far as the tests' userids (emails) need.
fn userid(query: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("userid="))?;
    Some(raw.replace("%40", "@").replace("%2B", "+"))
}

impl Drop for UserInfoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn user_info(
    State(script): State<Script>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let userid = query.as_deref().and_then(userid);
    let _in_flight = userid.as_ref().map(|_| InFlight::start(&script));
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    if let Some((status, body, delay)) = userid.as_deref().and_then(|u| script.scripted(u)) {
        tokio::time::sleep(delay).await;
        return (status, body).into_response();
    }
    let ok = |body: String| (StatusCode::OK, body).into_response();
    match userid.as_deref() {
        Some("ada") => ok(r#"{"groups":[{"name":"Accountants"},{"name":"Controllers"}],"authorizations":{"EMEA":["Sales","Expenses"],"APAC":["Sales"]},"trino_login":"ada_t"}"#.into()),
        Some("extra") => ok(r#"{"groups":[{"name":"Accountants","id":7}],"authorizations":{},"unknown":{"nested":true}}"#.into()),
        Some("error") => (StatusCode::INTERNAL_SERVER_ERROR, "the directory is down").into_response(),
        Some("slow") => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            ok("{}".into())
        }
        Some("malformed") => ok("{\"groups\": [".into()),
        Some("shape") => ok(r#"{"groups":"Accountants","authorizations":{}}"#.into()),
        Some("huge") => ok(format!(
            r#"{{"groups":[],"authorizations":{{}},"padding":"{}"}}"#,
            "x".repeat(2 * 1024 * 1024)
        )),
        None => ok("ready".into()),
        Some(_) => (StatusCode::NOT_FOUND, "no such user").into_response(),
    }
}

impl UserInfoServer {
    /// Settings that call this endpoint as it expects: its credentials, trusting its CA,
    /// presenting its client certificate.
    pub fn settings(&self) -> proto::UserInfoEndpoint {
        let client = Some((self.client.cert.as_str(), self.client.key.as_str()));
        self.settings_with(PASSWORD, &self.ca.cert, client)
    }

    /// Settings that call this endpoint with `password`, trusting the CA `ca` and presenting
    /// `client` (certificate and key), if any.
    pub fn settings_with(
        &self,
        password: &str,
        ca: &str,
        client: Option<(&str, &str)>,
    ) -> proto::UserInfoEndpoint {
        let (cert, key) = client.unwrap_or_default();
        proto::UserInfoEndpoint {
            uri: self.uri.clone(),
            basic_auth_username: USERNAME.into(),
            basic_auth_password: password.into(),
            tls: Some(proto::TlsConfig {
                ca_cert_pem: ca.into(),
                client_cert_pem: cert.into(),
                client_key_pem: key.into(),
                has_client_key: false,
            }),
            ..Default::default()
        }
    }

    pub async fn start() -> Self {
        let ca = certificate(&["User-info test CA"], CURRENT, None);
        let server = certificate(&["localhost", "127.0.0.1"], CURRENT, Some(&ca));
        let client = certificate(&["personae client"], CURRENT, Some(&ca));
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.cert.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let config = ServerConfig::builder_with_provider(provider)
            // TLS 1.2: a missing client certificate is refused inside the handshake, so the
            // client always reports the alert. Under TLS 1.3 the alert comes after the client
            // has finished its handshake and races its first request, which a loaded machine
            // sometimes loses ("connection was not ready").
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from_pem_slice(server.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap(),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let script = Script::default();
        let router = Router::new()
            .route("/userinfo", get(user_info))
            .with_state(script.clone());
        let connections = script.connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    // A refused handshake (no client certificate) ends here; the client sees it.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
                        .await;
                });
            }
        });
        Self {
            uri: format!("https://localhost:{}/userinfo", address.port()),
            port: address.port(),
            ca,
            client,
            script,
            task,
        }
    }
}
