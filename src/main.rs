use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::Parser;
use personae::{
    bootstrap::{self as admin, BOOTSTRAP_ADMIN_EMAIL},
    config::{
        BootstrapArgs, Cli, Command, FileConfig, ProbeArgs, ProbeConfig, RotateArgs, ServeArgs,
        ServerConfig, StoreArgs, bootstrap_token, database_url, secret_env, secret_key_source,
    },
    domain::api_key,
    secrets::{self, KeySource},
    server::{self, ServeOptions, ServerTls},
    store::{self, SqlStore},
    telemetry,
};
use rustls_pki_types::{CertificateDer, pem::PemObject as _};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// jemalloc, as Quickwit, Qdrant and TiKV use: every call allocates dozens of small buffers (h2
/// frames, messages, strings), and under load glibc's malloc spends a few µs of each call on them
/// (measured by the check benchmark). Not on Windows, which jemalloc does not build for.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = match FileConfig::load(cli.config.as_ref()) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("personae: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let _telemetry = match cli.command.store_args() {
        // The probe: one line and an exit status say it all, so no logs and no traces (an exec
        // probe runs in the server's environment, OTEL_* included, every few seconds).
        None => None,
        Some(store) => match telemetry::init(store.log_json.or(file.log_json).unwrap_or(false)) {
            Ok(guard) => Some(guard),
            Err(error) => {
                eprintln!("personae: setting up telemetry: {error:#}");
                return ExitCode::FAILURE;
            }
        },
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args, file).await,
        Command::Migrate(args) => migrate(args, file).await,
        Command::Bootstrap(args) => bootstrap(args, file).await,
        Command::RotateSecretKey(args) => rotate_secret_key(args, file).await,
        Command::Probe(args) => return probe(args, &file).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "personae failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs, file: FileConfig) -> anyhow::Result<()> {
    let config = ServerConfig::resolve(args, file)?;
    // Before the store is touched: a bad certificate or key stops start-up, naming the file.
    let tls = config
        .tls
        .clone()
        .map(|files| ServerTls::load(files, config.tls_handshake_timeout))
        .transpose()?;
    let store = store::open(&config.database_url, &config.secret_key)
        .await
        .context("opening the store")?;
    announce_bootstrap(admin::bootstrap(store.as_ref(), config.bootstrap_token.as_deref()).await?);
    let grpc = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let metrics = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("listening on {} for metrics", config.metrics_listen))?;
    tracing::info!(
        grpc = %grpc.local_addr()?,
        metrics = %metrics.local_addr()?,
        store = store_kind(&config.database_url),
        user_info_allow_private_addresses = config.user_info_addresses.allow_private,
        tls = tls.is_some(),
        "personae is serving"
    );
    if tls.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            grpc = %config.listen,
            "gRPC is served in plaintext on an address other hosts can reach: API keys cross the \
             network in the clear; give --tls-cert and --tls-key"
        );
    }
    let options = ServeOptions {
        request_timeout: config.request_timeout,
        max_concurrent_requests: config.max_concurrent_requests,
        decision_audit_interval: config.decision_audit_interval,
        cache_entries: config.cache_entries,
        user_info_addresses: config.user_info_addresses,
        max_api_keys_per_user: config.max_api_keys_per_user,
        self_service_writes_per_minute: config.self_service_writes_per_minute,
        tls,
    };
    server::serve(store, grpc, metrics, options, shutdown_signal()).await?;
    tracing::info!("personae stopped");
    Ok(())
}

async fn migrate(args: StoreArgs, file: FileConfig) -> anyhow::Result<()> {
    let url = database_url(args.database_url, file.database_url);
    let secret_key = secret_key_source(&url, args.secret_key_file.or(file.secret_key_file))?;
    store::open(&url, &secret_key)
        .await
        .context("opening the store (migrations, then the secret key)")?;
    tracing::info!(store = store_kind(&url), "migrations applied");
    Ok(())
}

async fn bootstrap(args: BootstrapArgs, file: FileConfig) -> anyhow::Result<()> {
    if args.new_token {
        println!("{}", api_key::generate().token);
        return Ok(());
    }
    let url = database_url(args.store.database_url, file.database_url);
    let secret_key = secret_key_source(&url, args.store.secret_key_file.or(file.secret_key_file))?;
    let store = store::open(&url, &secret_key)
        .await
        .context("opening the store")?;
    let token = bootstrap_token(file.bootstrap_token)?;
    let created = admin::bootstrap(store.as_ref(), token.as_deref()).await?;
    if created.is_none() && token.is_none() {
        tracing::info!("the store already has users; nothing to bootstrap");
    }
    announce_bootstrap(created);
    Ok(())
}

/// Seals the stored secrets again under a new key: PERSONAE_NEW_SECRET_KEY, a new key file, or
/// a key made here when the current one is in a key file, which is then replaced. A made key is
/// written beside the file (`.new`) before the store changes, so it is never only in memory.
async fn rotate_secret_key(args: RotateArgs, file: FileConfig) -> anyhow::Result<()> {
    let url = database_url(args.store.database_url, file.database_url);
    let current = secret_key_source(&url, args.store.secret_key_file.or(file.secret_key_file))?;
    let store = SqlStore::open_with(&url, &current)
        .await
        .context("opening the store")?;
    let given = secret_env("PERSONAE_NEW_SECRET_KEY")?;
    let (new_key, replace) = match (given, args.new_secret_key_file, &current) {
        (Some(hex), _, _) => (secrets::parse_key(&hex, "PERSONAE_NEW_SECRET_KEY")?, None),
        (None, Some(path), _) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the new key file {}", path.display()))?;
            let origin = format!("the new key file {}", path.display());
            (secrets::parse_key(&text, &origin)?, None)
        }
        (None, None, KeySource::File { path, .. }) => {
            let pending = PathBuf::from(format!("{}.new", path.display()));
            (
                secrets::create_key_file(&pending)?,
                Some((pending, path.clone())),
            )
        }
        (None, None, _) => anyhow::bail!(
            "give the new key in PERSONAE_NEW_SECRET_KEY or --new-secret-key-file \
             (openssl rand -hex 32 makes one)"
        ),
    };
    let rotation = store.rotate_secret_key(&new_key).await?;
    if let Some((pending, path)) = replace {
        let old = PathBuf::from(format!("{}.old", path.display()));
        if path.exists() {
            std::fs::rename(&path, &old)
                .with_context(|| format!("keeping the old key as {}", old.display()))?;
        }
        std::fs::rename(&pending, &path).with_context(|| {
            format!(
                "the secrets are sealed under the key in {}; moving it to {} failed",
                pending.display(),
                path.display()
            )
        })?;
    }
    tracing::info!(
        version = rotation.version,
        secrets = rotation.secrets,
        "secrets sealed again under the new key; start the servers with it"
    );
    Ok(())
}

/// Asks the server's health and prints one line: the status on stdout, or on stderr why there
/// is none. Exit status 0 only for SERVING, within the timeout, connecting included.
async fn probe(args: ProbeArgs, file: &FileConfig) -> ExitCode {
    let server_tls_cert = std::env::var_os("PERSONAE_TLS_CERT")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let config = match ProbeConfig::resolve(args, file, server_tls_cert) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("personae probe: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let address = config.address;
    let answer = match tokio::time::timeout(config.timeout, health_status(&config)).await {
        Ok(answer) => answer,
        Err(_) => Err(anyhow::anyhow!(
            "no answer within {} s",
            config.timeout.as_secs()
        )),
    };
    match answer {
        Ok(ServingStatus::Serving) => {
            println!("{address}: SERVING");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            println!("{address}: {}", status.as_str_name());
            ExitCode::FAILURE
        }
        Err(error) => {
            let hint = if config.tls.is_none() && config.server_has_tls {
                "; the server's configuration names a TLS certificate: give the CA that issued \
                 it with --tls-ca or PERSONAE_PROBE_TLS_CA"
            } else {
                ""
            };
            eprintln!("personae probe: {address}: {}{hint}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause its parent already quoted (tonic's
/// transport errors repeat their source's text).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

async fn health_status(config: &ProbeConfig) -> anyhow::Result<ServingStatus> {
    let endpoint = match &config.tls {
        None => Endpoint::from_shared(format!("http://{}", config.address))?,
        Some(tls) => {
            let ca = std::fs::read(&tls.ca)
                .with_context(|| format!("reading the CA file {}", tls.ca.display()))?;
            let certificates = CertificateDer::pem_slice_iter(&ca)
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("the CA file {} is not PEM", tls.ca.display()))?;
            anyhow::ensure!(
                !certificates.is_empty(),
                "the CA file {} holds no PEM certificate",
                tls.ca.display()
            );
            Endpoint::from_shared(format!("https://{}", config.address))?.tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(ca))
                    .domain_name(tls.server_name.clone()),
            )?
        }
    };
    // The caller's timeout bounds all of it, connecting and the TLS handshake included.
    let channel = endpoint.connect().await.context(match &config.tls {
        Some(tls) => format!("connecting over TLS to a server named {}", tls.server_name),
        None => "connecting in plaintext".to_owned(),
    })?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: config.service.clone(),
        })
        .await
        .map_err(|status| anyhow::anyhow!("{:?}: {}", status.code(), status.message()))?;
    let status = answer.into_inner().status;
    ServingStatus::try_from(status).map_err(|_| anyhow::anyhow!("unknown health status {status}"))
}

/// Prints a generated admin key once, on stdout, where logs (on stderr) do not keep it.
fn announce_bootstrap(token: Option<String>) {
    if let Some(token) = token {
        println!(
            "Created the bootstrap admin {BOOTSTRAP_ADMIN_EMAIL}. Its API key, shown only this once:\n\n    {token}\n\n\
             Use it as `authorization: Bearer <key>`."
        );
    }
}

fn store_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

/// Resolves on SIGTERM or Ctrl-C; the server then drains in-flight calls.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; draining in-flight calls");
}
