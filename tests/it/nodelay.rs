//! Every accepted connection has TCP_NODELAY, so small replies are not held back by Nagle's
//! algorithm. The server runs in this process, so the test finds the server's end of its own
//! connection among the process's file descriptors and reads the option there.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    os::fd::{BorrowedFd, RawFd},
};

use crate::common::TestServer;
use socket2::SockRef;

/// The server's socket of the connection from `client` to `server`, if it is open.
#[expect(
    unsafe_code,
    reason = "the server's sockets are reached only through this process's descriptor table"
)]
pub(crate) fn server_side(server: SocketAddr, client: SocketAddr) -> Option<bool> {
    let fds = std::fs::read_dir("/proc/self/fd").expect("list /proc/self/fd");
    for entry in fds.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: the fd is only borrowed for the getsockname/getpeername/getsockopt calls
        // below; if another thread closed it meanwhile, they fail with EBADF (or answer for a
        // socket that does not match), which is skipped.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = SockRef::from(&borrowed);
        let local = socket.local_addr().ok().and_then(|a| a.as_socket());
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        if local == Some(server) && peer == Some(client) {
            return Some(socket.tcp_nodelay().expect("read TCP_NODELAY"));
        }
    }
    None
}

/// Connects, sends `hello`, and waits for the first bytes of the answer: by then the server has
/// accepted the connection and set its options.
fn connect_and_hear_back(addr: SocketAddr, hello: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(hello).expect("send");
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).expect("the server answers");
    stream
}

/// The HTTP/2 connection preface and an empty SETTINGS frame; a gRPC server answers with its own
/// SETTINGS.
const HTTP2_PREFACE: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_metrics_connections_have_tcp_nodelay() {
    let server = TestServer::start(crate::common::sqlite_store().await).await;
    let (grpc, metrics) = (server.addr, server.metrics_addr);
    let (grpc_nodelay, metrics_nodelay) = tokio::task::spawn_blocking(move || {
        let stream = connect_and_hear_back(grpc, HTTP2_PREFACE);
        let grpc_nodelay = server_side(grpc, stream.local_addr().expect("local address"));
        let stream =
            connect_and_hear_back(metrics, b"GET /metrics HTTP/1.1\r\nhost: personae\r\n\r\n");
        let metrics_nodelay = server_side(metrics, stream.local_addr().expect("local address"));
        (grpc_nodelay, metrics_nodelay)
    })
    .await
    .expect("probe task");
    assert_eq!(grpc_nodelay, Some(true), "gRPC connection");
    assert_eq!(metrics_nodelay, Some(true), "metrics connection");
    server.stop().await;
}
