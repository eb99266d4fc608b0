//! The real `personae` binary, run as operators run it: `bootstrap` to migrate and create the
//! admin, then `serve` on free local ports.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

/// The binary cargo built for this package (release, under `cargo bench`).
const PERSONAE: &str = env!("CARGO_BIN_EXE_personae");

/// Applies the migrations to `database_url` and creates the bootstrap admin with `token`.
///
/// This runs before seeding because the server bootstraps only an empty store: started on the
/// seeded one, it would create no admin and the benchmark would have no caller.
pub(crate) fn bootstrap(database_url: &str, token: &str, log: &Path) -> anyhow::Result<()> {
    let status = Command::new(PERSONAE)
        .args(["bootstrap", "--database-url", database_url])
        .env("PERSONAE_BOOTSTRAP_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(log_file(log)?)
        .stderr(log_file(log)?)
        .status()
        .with_context(|| format!("running {PERSONAE}"))?;
    if !status.success() {
        bail!(
            "`personae bootstrap` failed ({status}); its output:\n{}",
            tail(log)
        );
    }
    Ok(())
}

/// A running `personae serve`, killed when dropped.
pub(crate) struct Server {
    pub child: Child,
    pub address: SocketAddr,
    /// Where it serves `/metrics`.
    #[allow(
        dead_code,
        reason = "each benchmark compiles this module; only checks_under_writes reads metrics"
    )]
    pub metrics: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts the server with these environment variables set as well;
    /// [`Server::wait_ready`] tells when it answers.
    pub(crate) fn start(
        database_url: &str,
        log: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let [address, metrics] = free_ports()?;
        let child = Command::new(PERSONAE)
            .envs(env.iter().copied())
            .args(["serve", "--database-url", database_url])
            .args(["--listen", &address.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            // Logs go to a file; warnings only, so that logging costs the calls nothing.
            .env("RUST_LOG", "warn")
            .env_remove("PERSONAE_BOOTSTRAP_TOKEN")
            .stdin(Stdio::null())
            .stdout(log_file(log)?)
            .stderr(log_file(log)?)
            .spawn()
            .with_context(|| format!("starting {PERSONAE} serve"))?;
        Ok(Self {
            child,
            address,
            metrics,
            log: log.to_owned(),
        })
    }

    /// Waits until `probe` succeeds, failing early if the server exits.
    pub(crate) async fn wait_ready<F, Fut, T>(&mut self, mut probe: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "personae serve exited ({status}) before answering; its output:\n{}",
                    tail(&self.log)
                );
            }
            match probe().await {
                Ok(value) => return Ok(value),
                Err(error) if Instant::now() > deadline => {
                    return Err(error.context(format!(
                        "personae serve did not answer within 2 minutes; its output:\n{}",
                        tail(&self.log)
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Server {
    /// A channel to the server, once it answers.
    pub(crate) async fn channel(&mut self) -> anyhow::Result<tonic::transport::Channel> {
        let uri = format!("http://{}", self.address);
        self.wait_ready(|| async {
            Ok(tonic::transport::Endpoint::from_shared(uri.clone())?
                .connect()
                .await?)
        })
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two ports nobody listens on now. Both listeners are held until both are chosen, so the two
/// differ; another process could still take one before the server binds it, which is unlikely
/// enough on a test machine.
fn free_ports() -> anyhow::Result<[SocketAddr; 2]> {
    let first = TcpListener::bind("127.0.0.1:0")?;
    let second = TcpListener::bind("127.0.0.1:0")?;
    Ok([first.local_addr()?, second.local_addr()?])
}

fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The last lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
