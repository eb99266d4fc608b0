use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::Parser;
use personae::{
    bootstrap::{self as admin, BOOTSTRAP_ADMIN_EMAIL},
    config::{
        BootstrapArgs, Cli, Command, FileConfig, RotateArgs, ServeArgs, ServerConfig, StoreArgs,
        bootstrap_token, database_url, secret_env, secret_key_source,
    },
    domain::api_key,
    secrets::{self, KeySource},
    server::{self, ServeOptions, ServerTls},
    store::{self, SqlStore},
    telemetry,
};
use tokio::net::TcpListener;

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
    let store_args = match &cli.command {
        Command::Serve(serve) => &serve.store,
        Command::Migrate(store) => store,
        Command::Bootstrap(BootstrapArgs { store, .. })
        | Command::RotateSecretKey(RotateArgs { store, .. }) => store,
    };
    let log_json = store_args.log_json.or(file.log_json).unwrap_or(false);
    let _telemetry = match telemetry::init(log_json) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("personae: setting up telemetry: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args, file).await,
        Command::Migrate(args) => migrate(args, file).await,
        Command::Bootstrap(args) => bootstrap(args, file).await,
        Command::RotateSecretKey(args) => rotate_secret_key(args, file).await,
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
