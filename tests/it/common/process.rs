//! The `personae` binary, run by the tests as an operator would run it, and free ports for it.

use std::{
    net::{SocketAddr, TcpListener},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::process::{Child, Command};
use tonic::transport::Channel;

/// A loopback address nothing listens on now, for a server to bind.
pub(crate) fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// `personae <args>` on `database_url`, with an environment of its own (PATH, and logs at
/// `warn`), no input, its output dropped, and killed when the test drops it.
pub(crate) fn personae(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_personae"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PERSONAE_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

/// A running `personae serve`, killed when dropped.
pub(crate) struct Served {
    pub child: Child,
    pub channel: Channel,
    /// Where it serves `/metrics`.
    pub metrics: SocketAddr,
}

/// `personae serve` on `database_url`, with its logs dropped too, once it answers on its
/// channel.
pub(crate) async fn serve(database_url: &str) -> Served {
    let grpc = free_addr();
    let metrics = free_addr();
    let child = personae(database_url, &["serve"])
        .args(["--listen", &grpc.to_string()])
        .args(["--metrics-listen", &metrics.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .expect("start personae serve");
    let endpoint = Channel::from_shared(format!("http://{grpc}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(channel) = endpoint.connect().await {
            return Served {
                child,
                channel,
                metrics,
            };
        }
        assert!(Instant::now() < deadline, "personae serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The body of `GET path` from an HTTP/1.1 server, which must answer 200.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}
