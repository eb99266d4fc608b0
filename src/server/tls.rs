//! TLS on the server's listeners (gRPC and metrics): a certificate chain and key, and the CA of
//! client certificates, read from files and read again when they change, and handshakes done
//! per connection and bounded in time.
//!
//! Rotation tools (cert-manager, a Kubernetes secret volume) replace the files in place, by a
//! rename or by swapping a symlink, so the files are polled by content rather than watched by
//! inode: whatever way they were replaced, the next poll reads what a new `open` would. A new
//! pair (or CA) is checked as at start (parsed, current, the key its certificate's) before any
//! connection sees it; a bad one is logged and the old one stays in use. Connections already
//! open keep what they were served and verified with.

use std::{
    fmt, io,
    net::SocketAddr,
    path::{Path, PathBuf},
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

/// TLS for the server's listeners. Cloning shares the certificate and client CA in use.
#[derive(Clone)]
pub struct ServerTls {
    key: Arc<Current<CertifiedKey>>,
    /// Verifies client certificates on the gRPC listener; `None`: none is asked for.
    clients: Option<Arc<Current<dyn ClientCertVerifier>>>,
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
    /// Reads and checks the files `files` names, refusing them naming the file and the
    /// problem, and starts reading them again every few seconds for as long as the result is in
    /// use.
    pub fn load(files: TlsFiles, handshake_timeout: Duration) -> anyhow::Result<Self> {
        let pair = {
            let files = files.clone();
            Watched {
                files: vec![
                    (files.cert.clone(), "certificate"),
                    (files.key.clone(), "private key"),
                ],
                what: "TLS certificate and key",
                check: Box::new(move |contents| certified_key(&files, contents)),
            }
        };
        let key = pair.start()?;
        let clients = files
            .client_ca
            .map(|ca| {
                let auth = files.client_auth;
                Watched {
                    files: vec![(ca.clone(), "client CA")],
                    what: "TLS client CA",
                    check: Box::new(move |contents| client_verifier(&ca, &contents[0], auth)),
                }
                .start()
            })
            .transpose()?;
        Ok(Self {
            key,
            clients,
            handshake_timeout,
        })
    }

    /// A listener's TLS configuration, verifying client certificates with `clients`.
    fn acceptor(
        &self,
        protocol: Protocol,
        clients: Option<Arc<dyn ClientCertVerifier>>,
    ) -> anyhow::Result<TlsAcceptor> {
        let builder = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS 1.2 and 1.3 with the ring provider")?;
        let builder = match clients {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(self.key.clone());
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
        let mut acceptors = Acceptors {
            tls: self.clone(),
            protocol,
            built: None,
        };
        acceptors.current()?;
        tokio::spawn(accept(listener, acceptors, ready));
        Ok(TlsListener { queue, local })
    }
}

/// A listener's TLS configuration, built again when the client CA it verifies with has changed
/// (rustls fixes a configuration's verifier; the certificate it serves is looked up per
/// handshake).
struct Acceptors {
    tls: ServerTls,
    protocol: Protocol,
    built: Option<(Option<Arc<dyn ClientCertVerifier>>, TlsAcceptor)>,
}

impl Acceptors {
    fn current(&mut self) -> anyhow::Result<TlsAcceptor> {
        // Client certificates identify callers of the API; a metrics scraper needs none.
        let clients = match self.protocol {
            Protocol::Grpc => self.tls.clients.as_ref().map(|clients| clients.get()),
            Protocol::Http1 => None,
        };
        if let Some((built_for, acceptor)) = &self.built {
            let same = match (built_for, &clients) {
                (Some(built_for), Some(clients)) => Arc::ptr_eq(built_for, clients),
                (None, None) => true,
                _ => false,
            };
            if same {
                return Ok(acceptor.clone());
            }
        }
        let acceptor = self.tls.acceptor(self.protocol, clients.clone())?;
        self.built = Some((clients, acceptor.clone()));
        Ok(acceptor)
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
    mut acceptors: Acceptors,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshake_timeout = acceptors.tls.handshake_timeout;
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
        let acceptor = match acceptors.current() {
            Ok(acceptor) => acceptor,
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "building the TLS configuration"
                );
                continue;
            }
        };
        tokio::spawn(handshake(
            acceptor,
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

/// Verifies client certificates against the CA certificates `pem` (read from `file`) holds;
/// with [`ClientAuth::Optional`], a client may present none.
fn client_verifier(
    file: &Path,
    pem: &[u8],
    auth: ClientAuth,
) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    let file = file.display();
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
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

/// What new connections are served (a certificate and key) or verified with (a client CA).
#[derive(Debug)]
struct Current<T: ?Sized> {
    value: RwLock<Arc<T>>,
}

impl<T: ?Sized> Current<T> {
    fn get(&self) -> Arc<T> {
        self.value
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, value: Arc<T>) {
        *self.value.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

impl ResolvesServerCert for Current<CertifiedKey> {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// Checks what a part's files hold and makes it usable, or says why not naming the file.
type Check<T> = Box<dyn Fn(&[Vec<u8>]) -> anyhow::Result<Arc<T>> + Send + Sync>;

/// Files that make one part of TLS, and how what they hold is checked and made usable.
struct Watched<T: ?Sized> {
    /// Each file, and what it holds (for errors).
    files: Vec<(PathBuf, &'static str)>,
    /// What they make together (for logs).
    what: &'static str,
    check: Check<T>,
}

impl<T: ?Sized + Send + Sync + 'static> Watched<T> {
    /// Reads and checks the files, and starts watching them for as long as the result is in
    /// use.
    fn start(self) -> anyhow::Result<Arc<Current<T>>> {
        let contents = self.read()?;
        let current = Arc::new(Current {
            value: RwLock::new((self.check)(&contents)?),
        });
        tokio::spawn(self.watch(contents, Arc::downgrade(&current)));
        Ok(current)
    }

    fn read(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        self.files
            .iter()
            .map(|(path, holds)| {
                std::fs::read(path)
                    .with_context(|| format!("{}: cannot read the TLS {holds}", path.display()))
            })
            .collect()
    }

    /// Reads the files every [`POLL_EVERY`] while `current` is in use, and uses what they hold
    /// once two reads in a row agree (a rotation replaces a pair's files one after the other,
    /// so a read between them sees a new certificate with the old key) and it checks out. What
    /// does not is logged once, not at every poll.
    async fn watch(self, mut in_use: Vec<Vec<u8>>, current: Weak<Current<T>>) {
        let mut last_read: Option<Vec<Vec<u8>>> = None;
        let mut refused: Option<Vec<Vec<u8>>> = None;
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let Some(current) = current.upgrade() else {
                return;
            };
            let contents = match self.read() {
                Ok(contents) => contents,
                // Mid-swap, a file may be missing for a moment: a later poll sees it.
                Err(error) => {
                    tracing::debug!(error = format!("{error:#}"), what = self.what, "reading");
                    continue;
                }
            };
            let settled = last_read.as_ref() == Some(&contents);
            if !settled || contents == in_use || refused.as_ref() == Some(&contents) {
                last_read = Some(contents);
                continue;
            }
            match (self.check)(&contents) {
                Ok(value) => {
                    current.replace(value);
                    tracing::info!(
                        file = %self.files[0].0.display(),
                        "using the {} read again; open connections keep theirs",
                        self.what
                    );
                    in_use = contents;
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "refused the changed {}; still using the previous one",
                        self.what
                    );
                    refused = Some(contents);
                }
            }
        }
    }
}

/// The pair checked as a TLS server needs it: a current certificate chain, a key TLS can sign
/// with, and the key the first certificate's. Errors name the file.
fn certified_key(files: &TlsFiles, contents: &[Vec<u8>]) -> anyhow::Result<Arc<CertifiedKey>> {
    let [cert, key] = contents else {
        anyhow::bail!("a TLS pair is two files");
    };
    let cert_file = files.cert.display().to_string();
    let key_file = files.key.display().to_string();
    let text = |bytes: &[u8], file: &str| {
        std::str::from_utf8(bytes)
            .map_err(|_| anyhow!("{file}: is not PEM text (it is not UTF-8)"))
            .map(str::to_owned)
    };
    let chain_pem = text(cert, &cert_file)?;
    let key_pem = text(key, &key_file)?;
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
