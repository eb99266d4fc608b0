//! `personae probe`, the binary run as a Kubernetes exec probe runs it: SERVING over TLS when it
//! trusts the server's CA, and otherwise a non-zero exit and one line saying why, quickly, without
//! touching a store.

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use personae::{
    config::{ClientAuth, TlsFiles},
    server::{ServeOptions, ServerTls},
};
use tempfile::TempDir;

use crate::common::{
    TestServer,
    certs::{CURRENT, certificate},
    process::{free_addr, personae},
    serve_options, sqlite_store,
};

/// A store no probe could open: the probe must only ask the server.
const NO_STORE: &str = "postgres://personae@store.invalid/none";

/// What `personae probe <args>` printed and how it exited, with `env` added to its environment,
/// and how long it took.
async fn probe(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let mut command = personae(NO_STORE, &["probe"]);
    command
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command.output().await.expect("run personae probe");
    (output, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the probe failed, printing one line on stderr that contains `says`.
fn assert_refused(output: &Output, says: &str, what: &str) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        !output.status.success(),
        "{what}: the probe failed: {stdout}{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
    assert!(stderr.contains(says), "{what}: says {says:?}: {stderr}");
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn serving_over_tls_when_it_trusts_the_ca_and_refused_when_it_cannot_verify() {
    let dir = TempDir::new().unwrap();
    let ca = certificate(&["personae test CA"], CURRENT, None);
    let pair = certificate(&["localhost"], CURRENT, Some(&ca));
    let other_ca = certificate(&["another CA"], CURRENT, None);
    let files = TlsFiles {
        cert: write(dir.path(), "tls.crt", &pair.cert),
        key: write(dir.path(), "tls.key", &pair.key),
        client_ca: None,
        client_auth: ClientAuth::Optional,
    };
    let ca_file = write(dir.path(), "ca.crt", &ca.cert);
    let other_ca_file = write(dir.path(), "other-ca.crt", &other_ca.cert);
    let options = ServeOptions {
        tls: Some(ServerTls::load(files.clone(), Duration::from_secs(5)).unwrap()),
        ..serve_options()
    };
    let server = TestServer::start_tls(sqlite_store().await, options, &ca.cert).await;
    let port = server.addr.port();
    let (ca_path, cert_path, key_path, other_ca_path) = (
        ca_file.to_str().unwrap(),
        files.cert.to_str().unwrap(),
        files.key.to_str().unwrap(),
        other_ca_file.to_str().unwrap(),
    );

    // As the manifests run it: the server's own PERSONAE_LISTEN (every address, so asked at
    // loopback, verified as `localhost`) and the CA from the environment.
    let every_address = format!("0.0.0.0:{port}");
    let (output, _) = probe(
        &[],
        &[
            ("PERSONAE_LISTEN", &every_address),
            ("PERSONAE_PROBE_TLS_CA", ca_path),
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "SERVING: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert_eq!(text(&output.stdout), format!("127.0.0.1:{port}: SERVING\n"));

    let addr = server.addr.to_string();
    let listen = ["--listen", addr.as_str()];
    // In the server's environment, as an exec probe runs: PERSONAE_TLS_CERT says TLS is on.
    let server_env = [("PERSONAE_TLS_CERT", cert_path)];
    let refusals: [(&[&str], &str, &str); 6] = [
        (
            &["--tls-ca", other_ca_path],
            "UnknownIssuer",
            "a CA that did not issue the certificate",
        ),
        (
            &["--tls-ca", ca_path, "--tls-server-name", "personae.example"],
            "certificate not valid for name \"personae.example\"",
            "a name the certificate is not for",
        ),
        (
            &["--tls-ca", key_path],
            "holds no PEM certificate",
            "a CA file without a certificate",
        ),
        (
            &[],
            "give the CA that issued it with --tls-ca",
            "plaintext to a TLS server, with a hint",
        ),
        (
            &["--tls-ca", ca_path, "--service", "no.such.Service"],
            "NotFound",
            "a service health does not know",
        ),
        (
            &["--tls-server-name", "localhost"],
            "without --tls-ca",
            "a server name without a CA",
        ),
    ];
    for (args, says, what) in refusals {
        let (output, took) = probe(&[&listen[..], args].concat(), &server_env).await;
        assert_refused(&output, says, what);
        assert!(
            took < Duration::from_secs(5),
            "{what}: quickly, not {took:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn plaintext_when_given_no_ca() {
    let server = TestServer::start(sqlite_store().await).await;
    let addr = server.addr.to_string();
    let (output, _) = probe(&["--listen", &addr], &[]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), format!("{addr}: SERVING\n"));
    server.stop().await;
}

#[tokio::test]
async fn refused_at_once_when_nothing_listens_and_within_its_timeout_when_nothing_answers() {
    let nothing = free_addr().to_string();
    let (output, took) = probe(&["--listen", &nothing, "--timeout-secs", "10"], &[]).await;
    assert_refused(&output, "onnection refused", "nothing listening");
    assert!(
        took < Duration::from_secs(5),
        "a refused connection ends the probe at once, not after its timeout: {took:?}"
    );

    // A port that accepts connections (the kernel completes them) but never answers, as a
    // wedged server: the timeout ends the probe, TLS handshake or not.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let dir = TempDir::new().unwrap();
    let ca = certificate(&["personae test CA"], CURRENT, None);
    let ca_file = write(dir.path(), "ca.crt", &ca.cert);
    for tls in [vec![], vec!["--tls-ca", ca_file.to_str().unwrap()]] {
        let args = [&["--listen", &silent_addr, "--timeout-secs", "1"], &tls[..]].concat();
        let (output, took) = probe(&args, &[]).await;
        assert_refused(&output, "no answer within 1 s", "a silent server");
        assert!(
            (Duration::from_secs(1)..Duration::from_secs(5)).contains(&took),
            "{args:?}: ended by the 1 s timeout: {took:?}"
        );
    }
    drop(silent);
}
