//! A TCP proxy that holds back what the server sends for a fixed time: a real database behind a
//! slow link, so that a process connected through it hears notifications late, as a replica
//! far from its database does.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

pub(crate) struct SlowLink {
    pub address: SocketAddr,
    accepting: JoinHandle<()>,
}

impl SlowLink {
    /// Forwards connections made to [`Self::address`] to `upstream`; what `upstream` sends
    /// reaches the client `delay` later, in order.
    pub(crate) async fn start(upstream: SocketAddr, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the slow link");
        let address = listener.local_addr().expect("the slow link's address");
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, delay));
            }
        });
        Self { address, accepting }
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let (sent, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let replies = tokio::spawn(async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if client_write.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = client_write.shutdown().await;
    });
    let mut buffer = vec![0; 64 * 1024];
    while let Ok(read) = server_read.read(&mut buffer).await {
        if read == 0
            || sent
                .send((Instant::now() + delay, buffer[..read].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(sent);
    let _ = tokio::join!(requests, replies);
}
