//! gRPC over TLS: served with certificates made at test time, refused at start when the files
//! are wrong, rotated under a running server, and unharmed by clients that do not speak TLS or
//! never finish their handshake.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use personae::{
    config::{ClientAuth, TlsFiles},
    proto,
    server::{ServeOptions, ServerTls},
};
use rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer};
use rustls_pki_types::{ServerName, pem::PemObject};
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tonic::transport::Channel;

use crate::common::{
    TestServer,
    certs::{CURRENT, Pem, certificate, client_certificate},
    logs, serve_options, sqlite_store,
};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A CA and a server certificate it issued for `localhost`.
fn issued() -> (Pem, Pem) {
    let ca = certificate(&["personae test CA"], CURRENT, None);
    let server = certificate(&["localhost"], CURRENT, Some(&ca));
    (ca, server)
}

/// A directory laid out as a Kubernetes secret volume: `tls.crt` and `tls.key` are symlinks
/// through `..data`, a symlink to the directory of the current version, which an update
/// replaces by renaming a new symlink over it.
struct SecretVolume {
    dir: TempDir,
    versions: u32,
}

impl SecretVolume {
    fn new(pair: &Pem) -> Self {
        let mut volume = Self {
            dir: TempDir::new().unwrap(),
            versions: 0,
        };
        volume.update(&pair.cert, &pair.key);
        for name in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), volume.dir.path().join(name))
                .unwrap();
        }
        volume
    }

    fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.dir.path().join("tls.crt"),
            key: self.dir.path().join("tls.key"),
            client_ca: None,
            client_auth: ClientAuth::Optional,
        }
    }

    fn update(&mut self, cert: &str, key: &str) {
        self.versions += 1;
        let version = format!("..v{}", self.versions);
        let path = self.dir.path().join(&version);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("tls.crt"), cert).unwrap();
        std::fs::write(path.join("tls.key"), key).unwrap();
        let next = self.dir.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &next).unwrap();
        std::fs::rename(&next, self.dir.path().join("..data")).unwrap();
    }
}

fn options(files: TlsFiles) -> ServeOptions {
    ServeOptions {
        tls: Some(ServerTls::load(files, HANDSHAKE_TIMEOUT).expect("a good pair loads")),
        ..serve_options()
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// A new TLS connection to `server`'s gRPC listener, trusting `ca`.
async fn connect_tls(server: &TestServer, ca: &Pem) -> TlsStream<TcpStream> {
    let tls = connect_tls_to(server.addr, ca, b"h2").await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN h2");
    tls
}

/// A new TLS connection to `addr` offering ALPN `protocol`, trusting `ca`.
async fn connect_tls_to(addr: SocketAddr, ca: &Pem, protocol: &[u8]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(der(&ca.cert)).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![protocol.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// The certificate a new TLS connection to `server` is served, trusting `ca`.
async fn served_certificate(server: &TestServer, ca: &Pem) -> CertificateDer<'static> {
    let tls = connect_tls(server, ca).await;
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].clone()
}

async fn health(channel: Channel) -> Result<i32, tonic::Status> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let answer = client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await?;
    Ok(answer.into_inner().status)
}

#[tokio::test]
async fn grpc_is_served_over_tls_to_clients_that_trust_its_ca() {
    let (ca, pair) = issued();
    let volume = SecretVolume::new(&pair);
    let server =
        TestServer::start_tls(sqlite_store().await, options(volume.files()), &ca.cert).await;
    assert_eq!(
        health(server.channel()).await.expect("health over TLS"),
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let users = server
        .users(server.admin())
        .list_users(proto::ListUsersRequest::default())
        .await
        .expect("an authenticated call over TLS")
        .into_inner();
    assert_eq!(users.users.len(), 1, "the bootstrap admin");
    assert_eq!(served_certificate(&server, &ca).await, der(&pair.cert));

    // As on a plaintext listener, replies are not held back by Nagle's algorithm.
    let open = connect_tls(&server, &ca).await;
    let (addr, local) = (server.addr, open.get_ref().0.local_addr().unwrap());
    let nodelay = tokio::task::spawn_blocking(move || crate::nodelay::server_side(addr, local))
        .await
        .unwrap();
    assert_eq!(nodelay, Some(true), "TCP_NODELAY on the TLS connection");
    drop(open);

    // The metrics listener serves the same certificate, over HTTP/1.1.
    let mut scrape = connect_tls_to(server.metrics_addr, &ca, b"http/1.1").await;
    scrape
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: personae\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    scrape.read_to_string(&mut page).await.ok();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("grpc_server_handled"), "the metrics: {page}");
    let mut plain = TcpStream::connect(server.metrics_addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: personae\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer))
        .await
        .expect("a plaintext scrape is closed at once")
        .ok();
    assert!(!answer.starts_with(b"HTTP"), "no metrics in plaintext");

    // A client that trusts another CA refuses the server's certificate.
    let (other_ca, _) = issued();
    let refused = tonic::transport::Endpoint::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&other_ca.cert))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await;
    assert!(refused.is_err(), "an untrusted certificate is refused");
    server.stop().await;
}

#[tokio::test]
async fn plaintext_and_silent_clients_fail_at_once_and_hold_up_nobody() {
    let (ca, pair) = issued();
    let volume = SecretVolume::new(&pair);
    let server =
        TestServer::start_tls(sqlite_store().await, options(volume.files()), &ca.cert).await;

    // A client that never sends a byte, opened first: it must not hold up the accept loop.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let opened = Instant::now();

    let plaintext = tokio::time::timeout(Duration::from_secs(5), async {
        let channel = Channel::from_shared(format!("http://{}", server.addr))
            .unwrap()
            .connect()
            .await?;
        health(channel)
            .await
            .map_err(|status| -> Box<dyn std::error::Error + Send + Sync> { Box::new(status) })
    })
    .await
    .expect("a plaintext client gets an answer at once, not a hang");
    assert!(plaintext.is_err(), "plaintext is refused: {plaintext:?}");

    // Raw bytes that are not TLS: the server closes the connection.
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), garbage.read_to_end(&mut answer))
        .await
        .expect("closed at once")
        .ok();

    // Meanwhile, well before the silent client's handshake times out, a new TLS connection is
    // served: handshakes are not done in the accept loop.
    let served = tokio::time::timeout(Duration::from_secs(2), served_certificate(&server, &ca))
        .await
        .expect("a new connection is served while another has not finished its handshake");
    assert_eq!(served, der(&pair.cert));
    assert!(health(server.channel()).await.is_ok());

    // The silent client is cut off once the handshake timeout has passed.
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(15), silent.read(&mut buffer))
        .await
        .expect("the silent connection is closed by the server");
    assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
    assert!(
        opened.elapsed() >= HANDSHAKE_TIMEOUT,
        "not before the timeout: {:?}",
        opened.elapsed()
    );
    server.stop().await;
}

/// Waits until a new connection is served `expected`.
async fn wait_for_served(server: &TestServer, ca: &Pem, expected: &CertificateDer<'_>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while served_certificate(server, ca).await != *expected {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn rotated_files_are_served_to_new_connections_and_a_bad_pair_is_refused() {
    let (ca, first) = issued();
    let mut volume = SecretVolume::new(&first);
    let server =
        TestServer::start_tls(sqlite_store().await, options(volume.files()), &ca.cert).await;
    let open = server.channel();
    assert!(health(open.clone()).await.is_ok());
    assert_eq!(served_certificate(&server, &ca).await, der(&first.cert));

    // A secret volume's update: a symlink swap.
    let second = certificate(&["localhost"], CURRENT, Some(&ca));
    volume.update(&second.cert, &second.key);
    wait_for_served(&server, &ca, &der(&second.cert)).await;
    assert!(
        health(open.clone()).await.is_ok(),
        "an open connection keeps working"
    );

    // A pair whose key is not its certificate's is refused; the second pair stays.
    let stray = certificate(&["localhost"], CURRENT, Some(&ca));
    let third = certificate(&["localhost"], CURRENT, Some(&ca));
    volume.update(&third.cert, &stray.key);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !logs::captured()
        .text()
        .contains("refused the changed TLS certificate and key")
    {
        assert!(Instant::now() < deadline, "the bad pair was not reported");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(served_certificate(&server, &ca).await, der(&second.cert));

    // Files replaced by a rename, as other tools do it: served once they check out.
    let fourth = certificate(&["localhost"], CURRENT, Some(&ca));
    replace_by_rename(&volume.files().cert, &fourth.cert);
    replace_by_rename(&volume.files().key, &fourth.key);
    wait_for_served(&server, &ca, &der(&fourth.cert)).await;
    assert!(health(open).await.is_ok());
    server.stop().await;
}

/// Writes `contents` beside `path` and renames it over `path` (through the symlink's target
/// directory, so the symlink itself stays).
fn replace_by_rename(path: &Path, contents: &str) {
    let target = std::fs::canonicalize(path).unwrap();
    let next: PathBuf = target.with_extension("next");
    std::fs::write(&next, contents).unwrap();
    std::fs::rename(&next, &target).unwrap();
}

#[tokio::test]
async fn a_bad_pair_is_refused_at_start_naming_the_file() {
    let (ca, pair) = issued();
    let dir = TempDir::new().unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let cert = write("cert.pem", &pair.cert);
    let key = write("key.pem", &pair.key);
    let other_key = write("other.pem", &ca.key);
    let expired = certificate(&["localhost"], (2019, 2020), Some(&ca));
    let expired_cert = write("expired.pem", &expired.cert);
    let expired_key = write("expired-key.pem", &expired.key);
    let missing = dir.path().join("missing.pem");
    let load = |cert: &Path, key: &Path| {
        ServerTls::load(
            TlsFiles {
                cert: cert.to_owned(),
                key: key.to_owned(),
                client_ca: None,
                client_auth: ClientAuth::Optional,
            },
            HANDSHAKE_TIMEOUT,
        )
        .map(|_| ())
        .map_err(|error| format!("{error:#}"))
    };
    for (cert, key, file, says) in [
        (&missing, &key, &missing, "cannot read the TLS certificate"),
        (&cert, &missing, &missing, "cannot read the TLS private key"),
        (&cert, &other_key, &other_key, "does not match"),
        (&expired_cert, &expired_key, &expired_cert, "expired on"),
        (&key, &key, &key, "holds no PEM certificate"),
        (&cert, &cert, &cert, "is not a PEM private key"),
    ] {
        let error = load(cert, key).expect_err(says);
        assert!(
            error.contains(&file.display().to_string()) && error.contains(says),
            "{says}: {error}"
        );
    }
    assert!(load(&cert, &key).is_ok());

    // The binary refuses to start, saying why, and one file without the other.
    for args in [
        vec![
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            other_key.to_str().unwrap(),
        ],
        vec!["--tls-cert", cert.to_str().unwrap()],
    ] {
        let output = crate::common::process::personae("sqlite::memory:", &["serve"])
            .args(&args)
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: refused");
        assert!(
            stderr.contains("does not match") || stderr.contains("without tls_key"),
            "{args:?}: {stderr}"
        );
    }
}

/// A server asking for client certificates issued by `client_ca`, `required` or not; the
/// directory holds its files, the client CA as `clients.crt`.
async fn mutual_tls_server(client_ca: &Pem, auth: ClientAuth) -> (TestServer, Pem, TempDir) {
    let (ca, pair) = issued();
    let dir = TempDir::new().unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let files = TlsFiles {
        cert: write("tls.crt", &pair.cert),
        key: write("tls.key", &pair.key),
        client_ca: Some(write("clients.crt", &client_ca.cert)),
        client_auth: auth,
    };
    let options = ServeOptions {
        tls: Some(ServerTls::load(files, HANDSHAKE_TIMEOUT).unwrap()),
        ..serve_options()
    };
    let server = TestServer::start_tls(sqlite_store().await, options, &ca.cert).await;
    (server, ca, dir)
}

/// A new connection to `server` presenting `client` (if any); why not, as UNAVAILABLE.
async fn mutual_tls_channel(
    server: &TestServer,
    ca: &Pem,
    client: Option<&Pem>,
) -> Result<Channel, tonic::Status> {
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(&ca.cert))
        .domain_name("localhost");
    if let Some(client) = client {
        tls = tls.identity(tonic::transport::Identity::from_pem(
            &client.cert,
            &client.key,
        ));
    }
    tonic::transport::Endpoint::from_shared(format!("https://{}", server.addr))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("connect: {e:?}")))
}

/// Calls GetUser on `user_id` over a new connection presenting `client` (if any) and, when
/// given, a bearer key; the user it answers, or why not.
async fn get_user_as(
    server: &TestServer,
    ca: &Pem,
    client: Option<&Pem>,
    key: Option<&str>,
    user_id: &str,
) -> Result<proto::User, tonic::Status> {
    let channel = mutual_tls_channel(server, ca, client).await?;
    let mut request = tonic::Request::new(proto::GetUserRequest {
        user: Some(proto::get_user_request::User::Id(user_id.into())),
    });
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    proto::users_client::UsersClient::new(channel)
        .get_user(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn create_account(server: &TestServer, email: &str, kind: proto::UserKind) -> proto::User {
    server
        .users(server.admin())
        .create_user(proto::CreateUserRequest {
            email: email.into(),
            full_name: format!("Name of {email}"),
            kind: kind.into(),
            ..Default::default()
        })
        .await
        .expect("create user")
        .into_inner()
}

#[tokio::test]
async fn a_client_certificate_naming_a_service_account_authenticates_as_it() {
    let clients = certificate(&["personae client CA"], CURRENT, None);
    let (server, ca, _dir) = mutual_tls_server(&clients, ClientAuth::Optional).await;
    let robot = create_account(
        &server,
        "robot@example.com",
        proto::UserKind::ServiceAccount,
    )
    .await;
    let person = create_account(&server, "alice@example.com", proto::UserKind::Person).await;
    let good = client_certificate("robot", &["Robot@Example.com"], &[], CURRENT, &clients);

    let me = get_user_as(&server, &ca, Some(&good), None, &robot.id).await;
    assert_eq!(me.expect("the service account's certificate").id, robot.id);
    let others = get_user_as(&server, &ca, Some(&good), None, &person.id).await;
    assert_eq!(
        others.expect_err("only what the account may do").code(),
        tonic::Code::PermissionDenied
    );

    // Refused: what names a person, nobody, only a CN, or two accounts; signed by another CA;
    // expired. The first ones authenticate no one; the last two do not get past the handshake.
    // A second account, for the certificate that names both.
    let _other = create_account(
        &server,
        "other@example.com",
        proto::UserKind::ServiceAccount,
    )
    .await;
    let stranger_ca = certificate(&["another CA"], CURRENT, None);
    let refused = [
        client_certificate("alice", &["alice@example.com"], &[], CURRENT, &clients),
        client_certificate("nobody", &["nobody@example.com"], &[], CURRENT, &clients),
        client_certificate("robot@example.com", &[], &[], CURRENT, &clients),
        client_certificate(
            "both",
            &["robot@example.com", "other@example.com"],
            &[],
            CURRENT,
            &clients,
        ),
    ];
    for cert in &refused {
        let status = get_user_as(&server, &ca, Some(cert), None, &robot.id)
            .await
            .expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    }
    for cert in [
        client_certificate("robot", &["robot@example.com"], &[], CURRENT, &stranger_ca),
        client_certificate("robot", &["robot@example.com"], &[], (2019, 2020), &clients),
    ] {
        let status = get_user_as(&server, &ca, Some(&cert), None, &robot.id)
            .await
            .expect_err("refused in the handshake");
        assert_ne!(status.code(), tonic::Code::Ok);
        assert_ne!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    }

    // Without a certificate (optional), a bearer key still works; with both, the key decides
    // and the audit event records the certificate.
    let admin = crate::common::grpc::bootstrap_admin(&server).await;
    let by_key = get_user_as(
        &server,
        &ca,
        Some(&good),
        Some(&server.admin_token),
        &person.id,
    )
    .await
    .expect("the key decides");
    assert_eq!(by_key.id, person.id);
    let group = proto::CreateGroupRequest {
        name: "made over mTLS".into(),
        ..Default::default()
    };
    let channel_with_both = mutual_tls_channel(&server, &ca, Some(&good)).await.unwrap();
    let mut request = tonic::Request::new(group);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", server.admin_token).parse().unwrap(),
    );
    proto::groups_client::GroupsClient::new(channel_with_both)
        .create_group(request)
        .await
        .expect("created by the admin's key");
    let log = crate::common::grpc::audit_log(&server).await;
    let fingerprint = personae::domain::client_certificate::fingerprint(der(&good.cert).as_ref());
    assert!(
        log.contains(&fingerprint) && log.contains(&admin.id),
        "the CreateGroup event names the admin and the certificate: {log}"
    );

    // A disabled account's certificate stops working at once.
    server
        .users(server.admin())
        .disable_user(proto::DisableUserRequest {
            id: robot.id.clone(),
        })
        .await
        .unwrap();
    let status = get_user_as(&server, &ca, Some(&good), None, &robot.id)
        .await
        .expect_err("disabled");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    server.stop().await;
}

#[tokio::test]
async fn with_client_certificates_required_a_client_without_one_cannot_call() {
    let clients = certificate(&["personae client CA"], CURRENT, None);
    let (server, ca, _dir) = mutual_tls_server(&clients, ClientAuth::Required).await;
    // Made in the store: the test server's own channel has no certificate, so it cannot call.
    let robot = server
        .store
        .store
        .create_user(
            personae::domain::Id::new(),
            personae::domain::user::NewUser {
                kind: personae::domain::user::UserKind::ServiceAccount,
                ..crate::common::store::new_user("robot@example.com")
            },
            crate::common::store::record("CreateUser", "robot"),
        )
        .await
        .unwrap()
        .value;
    let robot = proto::User {
        id: robot.id.to_string(),
        ..Default::default()
    };
    let status = get_user_as(&server, &ca, None, Some(&server.admin_token), &robot.id)
        .await
        .expect_err("no certificate, no connection");
    assert_ne!(status.code(), tonic::Code::Ok);
    let good = client_certificate("robot", &["robot@example.com"], &[], CURRENT, &clients);
    let me = get_user_as(&server, &ca, Some(&good), None, &robot.id).await;
    assert_eq!(me.expect("with its certificate").id, robot.id);
    server.stop().await;
}

/// UpdateUser setting `uris` as `user_id`'s certificate URIs, at the user's current etag.
async fn set_certificate_uris(
    server: &TestServer,
    user_id: &str,
    uris: &[&str],
) -> proto::UpdateUserRequest {
    let current = server
        .users(server.admin())
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Id(user_id.into())),
        })
        .await
        .expect("the user's etag")
        .into_inner();
    proto::UpdateUserRequest {
        user: Some(proto::User {
            id: user_id.into(),
            certificate_uris: uris.iter().map(|uri| (*uri).to_owned()).collect(),
            etag: current.etag,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["certificate_uris".into()],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_client_certificate_carrying_a_recorded_uri_authenticates_as_its_account() {
    const SPIFFE_ID: &str = "spiffe://example.org/ns/trino/sa/coordinator";
    let clients = certificate(&["personae client CA"], CURRENT, None);
    let (server, ca, _dir) = mutual_tls_server(&clients, ClientAuth::Optional).await;
    let coordinator = create_account(
        &server,
        "coordinator@example.com",
        proto::UserKind::ServiceAccount,
    )
    .await;
    let worker = create_account(
        &server,
        "worker@example.com",
        proto::UserKind::ServiceAccount,
    )
    .await;
    let person = create_account(&server, "alice@example.com", proto::UserKind::Person).await;
    let spiffe = client_certificate("coordinator", &[], &[SPIFFE_ID], CURRENT, &clients);
    let refused = |result: Result<proto::User, tonic::Status>| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    };

    refused(get_user_as(&server, &ca, Some(&spiffe), None, &coordinator.id).await);
    let admin = server.users(server.admin());
    let recorded = admin
        .clone()
        .update_user(set_certificate_uris(&server, &coordinator.id, &[SPIFFE_ID]).await)
        .await
        .expect("recorded")
        .into_inner();
    assert_eq!(recorded.certificate_uris, [SPIFFE_ID]);
    let log = crate::common::grpc::audit_log(&server).await;
    assert!(
        log.contains("UpdateUser") && log.contains(SPIFFE_ID),
        "the UpdateUser event records the URI: {log}"
    );
    let me = get_user_as(&server, &ca, Some(&spiffe), None, &coordinator.id).await;
    assert_eq!(me.expect("the recorded URI").certificate_uris, [SPIFFE_ID]);
    // The same URI in another case of scheme is the same identity; another path is not.
    let upper = client_certificate(
        "coordinator",
        &[],
        &["SPIFFE://example.org/ns/trino/sa/coordinator"],
        CURRENT,
        &clients,
    );
    assert!(
        get_user_as(&server, &ca, Some(&upper), None, &coordinator.id)
            .await
            .is_ok()
    );
    let sibling = client_certificate(
        "coordinator",
        &[],
        &["spiffe://example.org/ns/trino/sa/coordinator2"],
        CURRENT,
        &clients,
    );
    refused(get_user_as(&server, &ca, Some(&sibling), None, &coordinator.id).await);

    // Refused, changing nothing: a person, bad URIs, too many, one naming another account.
    let many: Vec<String> = (0..6)
        .map(|i| format!("spiffe://example.org/sa/{i}"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for (request, code, says) in [
        (
            set_certificate_uris(&server, &person.id, &["spiffe://example.org/alice"]).await,
            tonic::Code::FailedPrecondition,
            "only a service account",
        ),
        (
            set_certificate_uris(&server, &worker.id, &["coordinator"]).await,
            tonic::Code::InvalidArgument,
            "user.certificate_uris[0]: ",
        ),
        (
            set_certificate_uris(
                &server,
                &worker.id,
                &["spiffe://example.org/ok", "spiffe://Example.org/x"],
            )
            .await,
            tonic::Code::InvalidArgument,
            "user.certificate_uris[1]: ",
        ),
        (
            set_certificate_uris(&server, &worker.id, &many).await,
            tonic::Code::InvalidArgument,
            "at most 5",
        ),
        (
            set_certificate_uris(&server, &worker.id, &[SPIFFE_ID]).await,
            tonic::Code::AlreadyExists,
            "already identifies user",
        ),
    ] {
        let before = crate::common::grpc::snapshot(&server).await;
        let status = admin.clone().update_user(request).await.expect_err(says);
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(says), "{says}: {status:?}");
        assert_eq!(
            crate::common::grpc::snapshot(&server).await,
            before,
            "{says}"
        );
    }

    // A USER_ADMIN who lacks a permission the account holds may not give it an identity: a
    // certificate it obtained would act with that permission.
    crate::common::grpc::grant(&server, &worker.id, "FETCH_POLICY_INFO").await;
    let (user_admin, user_admin_key) =
        crate::common::grpc::user_with_key(&server, "useradmin@example.com").await;
    crate::common::grpc::grant(&server, &user_admin.id, "USER_ADMIN").await;
    let before = crate::common::grpc::snapshot(&server).await;
    let status = server
        .users(crate::common::Authorization::bearer(&user_admin_key))
        .update_user(
            set_certificate_uris(
                &server,
                &worker.id,
                &["spiffe://example.org/ns/x/sa/worker"],
            )
            .await,
        )
        .await
        .expect_err("the worker holds FETCH_POLICY_INFO");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("FETCH_POLICY_INFO"), "{status:?}");
    assert_eq!(crate::common::grpc::snapshot(&server).await, before);

    // What a certificate-authenticated caller mints for itself expires with the certificate.
    let coordinator_by_cert = mutual_tls_channel(&server, &ca, Some(&spiffe))
        .await
        .unwrap();
    let mut own = proto::users_client::UsersClient::new(coordinator_by_cert);
    let key = own
        .create_api_key(proto::CreateApiKeyRequest {
            display_name: "minted over mTLS".into(),
            ..Default::default()
        })
        .await
        .expect("its own key")
        .into_inner();
    let certificate_expiry = prost_types::Timestamp {
        seconds: chrono::NaiveDate::from_ymd_opt(CURRENT.1, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp(),
        nanos: 0,
    };
    assert_eq!(
        key.api_key.unwrap().expire_time,
        Some(certificate_expiry),
        "an unset expiry takes the certificate's"
    );
    let later = proto::CreateApiKeyRequest {
        display_name: "outliving the certificate".into(),
        expire_time: Some(prost_types::Timestamp {
            seconds: certificate_expiry.seconds + 86_400,
            nanos: 0,
        }),
        ..Default::default()
    };
    let status = own
        .create_api_key(later)
        .await
        .expect_err("later than the certificate");
    assert_ne!(status.code(), tonic::Code::Ok);
    assert!(status.message().contains("expire_time"), "{status:?}");

    // A deleted account's certificate stops working at once.
    let by_worker = client_certificate("worker", &["worker@example.com"], &[], CURRENT, &clients);
    assert!(
        get_user_as(&server, &ca, Some(&by_worker), None, &worker.id)
            .await
            .is_ok()
    );
    admin
        .clone()
        .delete_user(proto::DeleteUserRequest {
            id: worker.id.clone(),
            confirm: "Delete".into(),
        })
        .await
        .expect("deleted");
    refused(get_user_as(&server, &ca, Some(&by_worker), None, &worker.id).await);

    // Cleared, the certificate stops working at once.
    admin
        .clone()
        .update_user(set_certificate_uris(&server, &coordinator.id, &[]).await)
        .await
        .expect("cleared");
    refused(get_user_as(&server, &ca, Some(&spiffe), None, &coordinator.id).await);
    server.stop().await;
}

#[tokio::test]
async fn a_changed_client_ca_verifies_new_connections_and_a_bad_one_is_refused() {
    let first_ca = certificate(&["first client CA"], CURRENT, None);
    let (server, ca, dir) = mutual_tls_server(&first_ca, ClientAuth::Optional).await;
    create_account(
        &server,
        "robot@example.com",
        proto::UserKind::ServiceAccount,
    )
    .await;
    let robot =
        |issuer: &Pem| client_certificate("robot", &["robot@example.com"], &[], CURRENT, issuer);
    let (by_first, second_ca) = (
        robot(&first_ca),
        certificate(&["second client CA"], CURRENT, None),
    );
    let by_second = robot(&second_ca);
    let calls = async |client: &Pem| {
        let channel = mutual_tls_channel(&server, &ca, Some(client)).await?;
        proto::users_client::UsersClient::new(channel)
            .list_api_keys(proto::ListApiKeysRequest::default())
            .await
    };
    let open = mutual_tls_channel(&server, &ca, Some(&by_first))
        .await
        .unwrap();
    assert!(calls(&by_first).await.is_ok());
    assert!(calls(&by_second).await.is_err());

    let clients_ca = dir.path().join("clients.crt");
    replace_by_rename(&clients_ca, &second_ca.cert);
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls(&by_second).await.is_err() {
        assert!(Instant::now() < deadline, "the new client CA was not used");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        calls(&by_first).await.is_err(),
        "the old CA verifies no new connection"
    );
    let list = proto::users_client::UsersClient::new(open)
        .list_api_keys(proto::ListApiKeysRequest::default())
        .await;
    assert!(list.is_ok(), "an open connection keeps working: {list:?}");

    // A file that holds no CA is refused; the second CA stays in use.
    replace_by_rename(&clients_ca, "not a certificate");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !logs::captured()
        .text()
        .contains("refused the changed TLS client CA")
    {
        assert!(Instant::now() < deadline, "the bad CA was not reported");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(calls(&by_second).await.is_ok());
    server.stop().await;
}
