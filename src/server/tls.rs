//! TLS on the server's listeners (gRPC and metrics): a certificate chain and key read from files
//! and read again when they change, and handshakes done per connection and bounded in time.
//!
//! Rotation tools (cert-manager, a Kubernetes secret volume) replace the files in place, by a
//! rename or by swapping a symlink, so the files are polled by content rather than watched by
//! inode: whatever way they were replaced, the next poll reads what a new `open` would. A new
//! pair is checked as at start (parsed, current, the key its certificate's) before any
//! connection sees it; a bad one is logged and the old pair keeps serving. Connections already
//! open keep the certificate they were served.

use std::{
    fmt, io,
    net::SocketAddr,
    path::Path,
    sync::{Arc, PoisonError, RwLock, Weak},
    time::Duration,
};

use anyhow::{Context as _, anyhow};
use futures::Stream;
use rustls::{
    RootCertStore, ServerConfig,
    crypto::ring::{default_provider, sign::any_supported_type},
    server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier, danger::ClientCertVerifier},
    sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use crate::config::{ClientAuth, TlsFiles};
use crate::domain::{
    self,
    tls::{Certificates, PrivateKey, ensure_key_matches},
};

/// How often the certificate and key files are read again for a rotation.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Connections whose handshakes are done but which the server has not taken yet. The server
/// takes them as fast as they come; this only smooths a burst.
const ACCEPTED_QUEUE: usize = 64;

/// TLS for the server's listeners. Cloning shares the certificate in use.
#[derive(Clone)]
pub struct ServerTls {
    current: Arc<CurrentKey>,
    /// Verifies client certificates on the gRPC listener; `None`: none is asked for.
    clients: Option<Arc<dyn ClientCertVerifier>>,
    handshake_timeout: Duration,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// What a listener's clients may agree to speak (ALPN).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Protocol {
    /// gRPC is HTTP/2 only: a client that cannot speak it fails the handshake, not later.
    Grpc,
    /// The metrics endpoint speaks HTTP/1.1, as Prometheus scrapes.
    Http1,
}

impl ServerTls {
    /// Reads and checks the pair `files` names, refusing it naming the file and the problem,
    /// and starts reading them again every few seconds for as long as the result is in use.
    pub fn load(files: TlsFiles, handshake_timeout: Duration) -> anyhow::Result<Self> {
        let contents = read(&files)?;
        let current = Arc::new(CurrentKey {
            key: RwLock::new(certified_key(&files, &contents)?),
        });
        let clients = files
            .client_ca
            .as_deref()
            .map(|ca| client_verifier(ca, files.client_auth))
            .transpose()?;
        tokio::spawn(watch(files, contents, Arc::downgrade(&current)));
        Ok(Self {
            current,
            clients,
            handshake_timeout,
        })
    }

    fn acceptor(&self, protocol: Protocol) -> anyhow::Result<TlsAcceptor> {
        let builder = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS 1.2 and 1.3 with the ring provider")?;
        // Client certificates identify callers of the API; a metrics scraper needs none.
        let builder = match (&self.clients, protocol) {
            (Some(verifier), Protocol::Grpc) => builder.with_client_cert_verifier(verifier.clone()),
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(self.current.clone());
        config.alpn_protocols = match protocol {
            Protocol::Grpc => vec![b"h2".to_vec()],
            Protocol::Http1 => vec![b"http/1.1".to_vec()],
        };
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The TLS connections `listener` accepts. Each handshake runs in its own task and is
    /// dropped after the handshake timeout, so a slow or silent client holds up no other; the
    /// accept loop itself only accepts. It ends when the result is dropped.
    pub(crate) fn listen(
        &self,
        listener: TcpListener,
        protocol: Protocol,
    ) -> anyhow::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (ready, queue) = mpsc::channel(ACCEPTED_QUEUE);
        tokio::spawn(accept(
            listener,
            self.acceptor(protocol)?,
            self.handshake_timeout,
            ready,
        ));
        Ok(TlsListener { queue, local })
    }
}

/// A listener's connections whose TLS handshakes are done.
pub(crate) struct TlsListener {
    queue: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// The connections as tonic takes them.
    pub(crate) fn into_stream(self) -> impl Stream<Item = io::Result<TlsStream<TcpStream>>> {
        futures::stream::unfold(self.queue, |mut queue| async move {
            queue.recv().await.map(|(tls, _)| (Ok(tls), queue))
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.queue.recv().await {
            Some(accepted) => accepted,
            // The accept loop ends only when this listener is dropped, so never while it waits.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = ready.closed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!(%error, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Replies go out in small writes; Nagle's algorithm would hold each back for an ACK.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "setting TCP_NODELAY");
        }
        tokio::spawn(handshake(
            acceptor.clone(),
            tcp,
            peer,
            handshake_timeout,
            ready.clone(),
        ));
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            // Fails only when the server is shutting down: the connection is dropped.
            let _ = ready.send((tls, peer)).await;
        }
        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, ?timeout, "TLS handshake timed out"),
    }
}

/// Verifies client certificates against the CA certificates in `ca`; with
/// [`ClientAuth::Optional`], a client may present none.
fn client_verifier(ca: &Path, auth: ClientAuth) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    let file = ca.display();
    let pem =
        std::fs::read(ca).with_context(|| format!("{file}: cannot read the TLS client CA"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.with_context(|| format!("{file}: is not PEM certificates"))?;
        roots
            .add(cert)
            .with_context(|| format!("{file}: a certificate that cannot be a CA"))?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "{file}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    );
    let builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::new(default_provider()));
    let builder = match auth {
        ClientAuth::Optional => builder.allow_unauthenticated(),
        ClientAuth::Required => builder,
    };
    builder
        .build()
        .with_context(|| format!("{file}: as the CA of client certificates"))
}

/// The certificate and key new connections are served.
#[derive(Debug)]
struct CurrentKey {
    key: RwLock<Arc<CertifiedKey>>,
}

impl CurrentKey {
    fn get(&self) -> Arc<CertifiedKey> {
        self.key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, key: Arc<CertifiedKey>) {
        *self.key.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CurrentKey {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// What the two files held when last read.
#[derive(PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(files: &TlsFiles) -> anyhow::Result<Contents> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path)
            .with_context(|| format!("{}: cannot read the TLS {what}", path.display()))
    };
    Ok(Contents {
        cert: read(&files.cert, "certificate")?,
        key: read(&files.key, "private key")?,
    })
}

/// The pair checked as a TLS server needs it: a current certificate chain, a key TLS can sign
/// with, and the key the first certificate's. Errors name the file.
fn certified_key(files: &TlsFiles, contents: &Contents) -> anyhow::Result<Arc<CertifiedKey>> {
    let cert_file = files.cert.display().to_string();
    let key_file = files.key.display().to_string();
    let text = |bytes: &[u8], file: &str| {
        std::str::from_utf8(bytes)
            .map_err(|_| anyhow!("{file}: is not PEM text (it is not UTF-8)"))
            .map(str::to_owned)
    };
    let chain_pem = text(&contents.cert, &cert_file)?;
    let key_pem = text(&contents.key, &key_file)?;
    Certificates::parse(&cert_file, &chain_pem, domain::now())?;
    let key = PrivateKey::parse(&key_file, &key_pem)?;
    ensure_key_matches(&chain_pem, &key, &key_file)?;
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{cert_file}: reading its certificates"))?;
    let der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .with_context(|| format!("{key_file}: reading its key"))?;
    let signing = any_supported_type(&der).with_context(|| format!("{key_file}: signing key"))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// Reads the files every [`POLL_EVERY`] while `current` is in use, and serves a changed pair
/// once two reads in a row agree (a rotation replaces the two files one after the other, so a
/// read between them sees a new certificate with the old key) and it checks out. A pair that
/// does not is logged once, not at every poll.
async fn watch(files: TlsFiles, mut served: Contents, current: Weak<CurrentKey>) {
    let mut last_read: Option<Contents> = None;
    let mut refused: Option<Contents> = None;
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let Some(current) = current.upgrade() else {
            return;
        };
        let contents = match read(&files) {
            Ok(contents) => contents,
            // Mid-swap, a file may be missing for a moment: a later poll sees the pair.
            Err(error) => {
                tracing::debug!(error = format!("{error:#}"), "reading the TLS files");
                continue;
            }
        };
        let settled = last_read.as_ref() == Some(&contents);
        if !settled || contents == served || refused.as_ref() == Some(&contents) {
            last_read = Some(contents);
            continue;
        }
        match certified_key(&files, &contents) {
            Ok(key) => {
                current.replace(key);
                tracing::info!(
                    cert = %files.cert.display(),
                    "serving the TLS certificate and key read again; open connections keep theirs"
                );
                served = contents;
            }
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "refused the changed TLS certificate and key; still serving the previous pair"
                );
                refused = Some(contents);
            }
        }
    }
}
