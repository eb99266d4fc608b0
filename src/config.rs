//! Configuration: flags, their `PERSONAE_*` environment twins, and an optional TOML file, in
//! that order of precedence, over built-in defaults.

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::domain::address::AddressPolicy;
use crate::secrets::KeySource;

#[derive(Parser, Debug)]
#[command(
    name = "personae",
    version,
    about = "Identity and permissions for data platforms, over gRPC"
)]
pub struct Cli {
    /// A TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "PERSONAE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the gRPC API (applies migrations first).
    Serve(Box<ServeArgs>),
    /// Apply the database migrations and exit.
    Migrate(StoreArgs),
    /// Create the first admin if the store is empty, print its API key once, and exit.
    Bootstrap(BootstrapArgs),
    /// Seal every stored secret again under a new secret key, in one transaction, and exit.
    /// Stop the servers first and start them with the new key after.
    RotateSecretKey(RotateArgs),
    /// Ask a running server's health (grpc.health.v1.Health/Check), print one line, and exit
    /// 0 when it is SERVING, 1 otherwise: an exec probe or container health check that speaks
    /// TLS. Touches no store.
    Probe(ProbeArgs),
}

impl Command {
    /// The store settings of a command that opens the store; `None` for the probe.
    pub fn store_args(&self) -> Option<&StoreArgs> {
        match self {
            Self::Serve(serve) => Some(&serve.store),
            Self::Migrate(store) => Some(store),
            Self::Bootstrap(BootstrapArgs { store, .. })
            | Self::RotateSecretKey(RotateArgs { store, .. }) => Some(store),
            Self::Probe(_) => None,
        }
    }
}

#[derive(Args, Debug, Default)]
pub struct StoreArgs {
    /// `sqlite://FILE` or `postgres://...`; default: the SQLite file personae.db here.
    #[arg(long, env = "PERSONAE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "PERSONAE_LOG_JSON")]
    pub log_json: Option<bool>,
    /// A file holding the secret key for secrets at rest (64 hex characters), when
    /// PERSONAE_SECRET_KEY is not set; default on SQLite: the database's path plus `.key`,
    /// created when a secret is first stored.
    #[arg(long, env = "PERSONAE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// gRPC address; default 127.0.0.1:50051.
    #[arg(long, env = "PERSONAE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Prometheus metrics address; default 127.0.0.1:9464.
    #[arg(long, env = "PERSONAE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Longest a call may run, in seconds; default 30.
    #[arg(long, env = "PERSONAE_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Calls served at once; further calls are refused with UNAVAILABLE. Default 1024.
    #[arg(long, env = "PERSONAE_MAX_CONCURRENT_REQUESTS")]
    pub max_concurrent_requests: Option<usize>,
    /// How often impersonation decisions are written to the audit log, in seconds (one event
    /// per distinct decision, with a count); default 60.
    #[arg(long, env = "PERSONAE_DECISION_AUDIT_INTERVAL_SECS")]
    pub decision_audit_interval_secs: Option<u64>,
    /// The most entries each cache of checks and credentials holds; default 100000.
    #[arg(long, env = "PERSONAE_CACHE_ENTRIES")]
    pub cache_entries: Option<usize>,
    /// Whether IAMs' user-info endpoints may be at loopback and private addresses (127.0.0.0/8,
    /// ::1, localhost, 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7); default false.
    /// Link-local and cloud metadata addresses are refused whatever this says.
    #[arg(long, env = "PERSONAE_USER_INFO_ALLOW_PRIVATE_ADDRESSES")]
    pub user_info_allow_private_addresses: Option<bool>,
    /// The most active (neither revoked nor expired) API keys one user may have; CreateApiKey
    /// beyond it is refused, whoever calls. Default 100.
    #[arg(long, env = "PERSONAE_MAX_API_KEYS_PER_USER")]
    pub max_api_keys_per_user: Option<u32>,
    /// How many writes a caller without USER_ADMIN may make on its own keys (CreateApiKey,
    /// RevokeApiKey) a minute, all at once at most; beyond it RESOURCE_EXHAUSTED. Counted per
    /// process. 0: unlimited. Default 30.
    #[arg(long, env = "PERSONAE_SELF_SERVICE_WRITES_PER_MINUTE")]
    pub self_service_writes_per_minute: Option<u32>,
    /// PEM certificate chain (the server's certificate first) to serve gRPC over TLS; with
    /// --tls-key. Read again when the file changes.
    #[arg(long, env = "PERSONAE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert's certificate.
    #[arg(long, env = "PERSONAE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates that client certificates are verified against; a verified
    /// certificate whose email SAN is a service account's username, or whose URI SAN is one of
    /// its certificate_uris, authenticates as it.
    #[arg(long, env = "PERSONAE_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// `optional` (default: a client may present a certificate, and bearer keys keep working) or
    /// `required` (a client without a certificate cannot connect).
    #[arg(long, env = "PERSONAE_TLS_CLIENT_AUTH")]
    pub tls_client_auth: Option<ClientAuth>,
    /// Longest a client may take to complete its TLS handshake, in seconds; default 10.
    #[arg(long, env = "PERSONAE_TLS_HANDSHAKE_TIMEOUT_SECS")]
    pub tls_handshake_timeout_secs: Option<u64>,
}

#[derive(Args, Debug, Default)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print a new, well-formed API key for PERSONAE_BOOTSTRAP_TOKEN and exit, touching nothing.
    #[arg(long)]
    pub new_token: bool,
}

#[derive(Args, Debug, Default)]
pub struct RotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A file holding the new key (64 hex characters), when PERSONAE_NEW_SECRET_KEY is not set.
    /// With neither, and the current key in a key file, a new key is made and the file replaced
    /// (the old one kept as `<file>.old`).
    #[arg(long, env = "PERSONAE_NEW_SECRET_KEY_FILE")]
    pub new_secret_key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
pub struct ProbeArgs {
    /// The gRPC address the server listens on, as serve's --listen, so that in the server's
    /// environment (PERSONAE_LISTEN) or with its config file the probe finds it; an unspecified
    /// address (0.0.0.0, `[::]`) is asked at loopback. Default 127.0.0.1:50051.
    #[arg(long, env = "PERSONAE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// PEM file of the CA certificate(s) to verify the server's certificate against; with it
    /// the probe speaks TLS (trusting only these), without it plaintext.
    #[arg(long, env = "PERSONAE_PROBE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate must be valid for; default `localhost` when the
    /// address is loopback (or unspecified), else the address's IP.
    #[arg(long, env = "PERSONAE_PROBE_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// The service whose health to ask; empty: the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Longest the probe may take, connecting included, in seconds (1 to 60); default 2.
    #[arg(long, env = "PERSONAE_PROBE_TIMEOUT_SECS")]
    pub timeout_secs: Option<u64>,
}

/// The settings a config file may hold.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub log_json: Option<bool>,
    pub request_timeout_secs: Option<u64>,
    pub max_concurrent_requests: Option<usize>,
    pub decision_audit_interval_secs: Option<u64>,
    pub cache_entries: Option<usize>,
    pub user_info_allow_private_addresses: Option<bool>,
    pub max_api_keys_per_user: Option<u32>,
    pub self_service_writes_per_minute: Option<u32>,
    pub bootstrap_token: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub tls_client_auth: Option<ClientAuth>,
    pub tls_handshake_timeout_secs: Option<u64>,
}

impl FileConfig {
    pub fn load(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

const DEFAULT_DATABASE_URL: &str = "sqlite://personae.db";

/// Resolved server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub metrics_listen: SocketAddr,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub decision_audit_interval: Duration,
    pub cache_entries: usize,
    pub user_info_addresses: AddressPolicy,
    pub max_api_keys_per_user: u32,
    /// 0: unlimited.
    pub self_service_writes_per_minute: u32,
    pub bootstrap_token: Option<String>,
    pub secret_key: KeySource,
    /// Serve over TLS with these files; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    pub tls_handshake_timeout: Duration,
}

/// The files a TLS listener's certificate chain and private key are read from, and what it asks
/// of clients.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Verify client certificates against the CA certificates in this file.
    pub client_ca: Option<PathBuf>,
    pub client_auth: ClientAuth,
}

/// Whether a client must present a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// A client may present one; one without it authenticates with a bearer key.
    #[default]
    Optional,
    /// A client without a verified certificate cannot connect.
    Required,
}

impl ServerConfig {
    pub fn resolve(args: ServeArgs, file: FileConfig) -> anyhow::Result<Self> {
        let max_concurrent_requests = args
            .max_concurrent_requests
            .or(file.max_concurrent_requests)
            .unwrap_or(1024);
        anyhow::ensure!(
            max_concurrent_requests > 0,
            "max_concurrent_requests must be at least 1"
        );
        let timeout = args
            .request_timeout_secs
            .or(file.request_timeout_secs)
            .unwrap_or(30);
        anyhow::ensure!(timeout > 0, "request_timeout_secs must be at least 1");
        let audit_interval = args
            .decision_audit_interval_secs
            .or(file.decision_audit_interval_secs)
            .unwrap_or(60);
        anyhow::ensure!(
            (1..=3600).contains(&audit_interval),
            "decision_audit_interval_secs must be from 1 to 3600"
        );
        let max_api_keys_per_user = args
            .max_api_keys_per_user
            .or(file.max_api_keys_per_user)
            .unwrap_or(100);
        anyhow::ensure!(
            max_api_keys_per_user > 0,
            "max_api_keys_per_user must be at least 1"
        );
        let client_ca = args.tls_client_ca.or(file.tls_client_ca);
        let client_auth = args
            .tls_client_auth
            .or(file.tls_client_auth)
            .unwrap_or_default();
        anyhow::ensure!(
            client_auth == ClientAuth::Optional || client_ca.is_some(),
            "tls_client_auth required needs tls_client_ca: the CA client certificates are \
             verified against"
        );
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca,
                client_auth,
            }),
            (None, None) if client_ca.is_some() => anyhow::bail!(
                "tls_client_ca is given without tls_cert and tls_key: client certificates are \
                 asked for only over TLS"
            ),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!(
                "tls_cert is given without tls_key: TLS needs both (--tls-key or PERSONAE_TLS_KEY)"
            ),
            (None, Some(_)) => anyhow::bail!(
                "tls_key is given without tls_cert: TLS needs both (--tls-cert or \
                 PERSONAE_TLS_CERT)"
            ),
        };
        let handshake_timeout = args
            .tls_handshake_timeout_secs
            .or(file.tls_handshake_timeout_secs)
            .unwrap_or(10);
        anyhow::ensure!(
            (1..=300).contains(&handshake_timeout),
            "tls_handshake_timeout_secs must be from 1 to 300"
        );
        let database_url = database_url(args.store.database_url, file.database_url);
        let secret_key = secret_key_source(
            &database_url,
            args.store.secret_key_file.or(file.secret_key_file),
        )?;
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or(([127, 0, 0, 1], 50051).into()),
            database_url,
            secret_key,
            metrics_listen: args
                .metrics_listen
                .or(file.metrics_listen)
                .unwrap_or(([127, 0, 0, 1], 9464).into()),
            request_timeout: Duration::from_secs(timeout),
            max_concurrent_requests,
            decision_audit_interval: Duration::from_secs(audit_interval),
            cache_entries: args.cache_entries.or(file.cache_entries).unwrap_or(100_000),
            user_info_addresses: AddressPolicy {
                allow_private: args
                    .user_info_allow_private_addresses
                    .or(file.user_info_allow_private_addresses)
                    .unwrap_or(false),
            },
            max_api_keys_per_user,
            self_service_writes_per_minute: args
                .self_service_writes_per_minute
                .or(file.self_service_writes_per_minute)
                .unwrap_or(30),
            bootstrap_token: bootstrap_token(file.bootstrap_token)?,
            tls,
            tls_handshake_timeout: Duration::from_secs(handshake_timeout),
        })
    }
}

/// Resolved probe settings: which server to ask, how, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    pub address: SocketAddr,
    /// TLS trusting only this CA file, for this server name; plaintext when `None`.
    pub tls: Option<ProbeTls>,
    pub service: String,
    pub timeout: Duration,
    /// Whether the server's own configuration (PERSONAE_TLS_CERT, `tls_cert`) names a TLS
    /// certificate, for a hint when a plaintext probe fails.
    pub server_has_tls: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTls {
    pub ca: PathBuf,
    pub server_name: String,
}

impl ProbeConfig {
    /// `server_tls_cert`: the TLS certificate the server's configuration names, if any (the
    /// probe only mentions it when a plaintext probe fails).
    pub fn resolve(
        args: ProbeArgs,
        file: &FileConfig,
        server_tls_cert: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or(([127, 0, 0, 1], 50051).into());
        // A server listening on every address is reached at loopback, as from inside its pod.
        let ip = match listen.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
            ip => ip,
        };
        let address = SocketAddr::new(ip, listen.port());
        let tls = match (args.tls_ca, args.tls_server_name) {
            (Some(ca), name) => Some(ProbeTls {
                ca,
                server_name: name.filter(|name| !name.is_empty()).unwrap_or_else(|| {
                    if ip.is_loopback() {
                        "localhost".to_owned()
                    } else {
                        ip.to_string()
                    }
                }),
            }),
            (None, None) => None,
            (None, Some(_)) => anyhow::bail!(
                "--tls-server-name is given without --tls-ca: a TLS probe needs the CA to verify \
                 the server against (--tls-ca or PERSONAE_PROBE_TLS_CA)"
            ),
        };
        let timeout = args.timeout_secs.unwrap_or(2);
        anyhow::ensure!(
            (1..=60).contains(&timeout),
            "--timeout-secs must be from 1 to 60"
        );
        Ok(Self {
            address,
            tls,
            service: args.service,
            timeout: Duration::from_secs(timeout),
            server_has_tls: server_tls_cert.or(file.tls_cert.clone()).is_some(),
        })
    }
}

pub fn database_url(flag: Option<String>, file: Option<String>) -> String {
    flag.or(file)
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// Where the secret key for secrets at rest comes from: PERSONAE_SECRET_KEY (a secret, so from
/// the environment only, never a flag), else a key file named by flag or file, else on SQLite a
/// file beside the database, created when a secret is first stored. PostgreSQL has no default:
/// replicas must share one key, so it is given.
/// A PERSONAE_SECRET_KEY that is not UTF-8 is an error, not unset: the server would otherwise
/// start on another key (the SQLite key file) than the one its operator gave.
pub fn secret_key_source(
    database_url: &str,
    key_file: Option<PathBuf>,
) -> anyhow::Result<KeySource> {
    if let Some(hex) = secret_env("PERSONAE_SECRET_KEY")? {
        return Ok(KeySource::Hex(hex));
    }
    if let Some(path) = key_file {
        return Ok(KeySource::File {
            path,
            create: false,
        });
    }
    let database_file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && *path != ":memory:");
    Ok(match database_file {
        Some(path) => KeySource::File {
            path: PathBuf::from(format!("{path}.key")),
            create: true,
        },
        None => KeySource::None,
    })
}

/// PERSONAE_BOOTSTRAP_TOKEN, a secret, comes from the environment or the file, never a flag.
pub fn bootstrap_token(file: Option<String>) -> anyhow::Result<Option<String>> {
    Ok(secret_env("PERSONAE_BOOTSTRAP_TOKEN")?.or(file))
}

/// A secret given in the environment variable `name`; `None` when it is unset or empty. A value
/// that is not UTF-8 is refused naming the variable (never quoting it), not taken as unset.
pub fn secret_env(name: &str) -> anyhow::Result<Option<String>> {
    secret_text(name, std::env::var_os(name))
}

fn secret_text(name: &str, value: Option<OsString>) -> anyhow::Result<Option<String>> {
    match value.map(OsString::into_string) {
        None => Ok(None),
        Some(Ok(text)) => Ok(Some(text).filter(|text| !text.is_empty())),
        Some(Err(_)) => anyhow::bail!(
            "the environment variable {name} is set but is not UTF-8 text; set it to the \
             value it should hold, or unset it"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_key_is_a_given_file_or_on_sqlite_one_beside_the_database() {
        let file = |path: &str, create| KeySource::File {
            path: path.into(),
            create,
        };
        let cases = [
            ("sqlite://personae.db", None, file("personae.db.key", true)),
            (
                "sqlite:///var/lib/p.db?mode=rwc",
                None,
                file("/var/lib/p.db.key", true),
            ),
            ("sqlite::memory:", None, KeySource::None),
            ("postgres://db/personae", None, KeySource::None),
            (
                "postgres://db/personae",
                Some("/etc/k"),
                file("/etc/k", false),
            ),
            (
                "sqlite://personae.db",
                Some("/etc/k"),
                file("/etc/k", false),
            ),
        ];
        for (url, key_file, expected) in cases {
            let source = secret_key_source(url, key_file.map(PathBuf::from)).unwrap();
            assert_eq!(
                format!("{source:?}"),
                format!("{expected:?}"),
                "{url} {key_file:?}"
            );
        }
    }

    /// The variable is set in a child process (this test binary again, running only this test),
    /// since setting one here would race the other tests' threads reading the environment.
    #[cfg(unix)]
    #[test]
    fn a_secret_key_variable_that_is_not_utf8_is_refused_naming_it() {
        use std::os::unix::ffi::OsStrExt as _;
        const CHILD: &str = "PERSONAE_TEST_NOT_UTF8_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let error = secret_key_source("sqlite://personae.db", None)
                .expect_err("a PERSONAE_SECRET_KEY that is not UTF-8 is refused");
            let text = format!("{error:#}");
            assert!(
                text.contains("PERSONAE_SECRET_KEY is set but is not UTF-8 text"),
                "{text}"
            );
            return;
        }
        let mut key = "ab".repeat(31).into_bytes();
        key.extend([0xff, 0xfe]);
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "config::tests::a_secret_key_variable_that_is_not_utf8_is_refused_naming_it",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("PERSONAE_SECRET_KEY", std::ffi::OsStr::from_bytes(&key))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success() && stdout.contains("1 passed"),
            "the child: {stdout}{}",
            String::from_utf8_lossy(&child.stderr)
        );
    }

    #[test]
    fn secrets_from_the_environment_are_text_or_unset() {
        assert_eq!(secret_text("V", None).unwrap(), None);
        assert_eq!(secret_text("V", Some("".into())).unwrap(), None);
        assert_eq!(
            secret_text("V", Some("k".into())).unwrap(),
            Some("k".into())
        );
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:6000"
            database_url = "postgres://db/personae"
            request_timeout_secs = 5
            user_info_allow_private_addresses = true
            max_api_keys_per_user = 20
            self_service_writes_per_minute = 0
            "#,
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        let config = ServerConfig::resolve(args, file).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.database_url, "postgres://db/personae");
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.metrics_listen, "127.0.0.1:9464".parse().unwrap());
        assert_eq!(config.max_concurrent_requests, 1024);
        assert!(config.user_info_addresses.allow_private);
        assert_eq!(config.max_api_keys_per_user, 20);
        assert_eq!(
            config.self_service_writes_per_minute, 0,
            "0 turns the limit off"
        );

        let defaults = ServerConfig::resolve(ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(defaults.listen, "127.0.0.1:50051".parse().unwrap());
        assert_eq!(defaults.database_url, DEFAULT_DATABASE_URL);
        assert!(
            !defaults.user_info_addresses.allow_private,
            "private addresses are refused unless allowed"
        );
        assert_eq!(defaults.max_api_keys_per_user, 100);
        assert_eq!(defaults.self_service_writes_per_minute, 30);
    }

    #[test]
    fn the_probe_asks_the_configured_address_at_loopback_and_verifies_a_name() {
        let resolve = |args: ProbeArgs, file: &str| {
            ProbeConfig::resolve(args, &toml::from_str(file).unwrap(), None)
        };
        let defaults = resolve(ProbeArgs::default(), "").unwrap();
        assert_eq!(
            defaults,
            ProbeConfig {
                address: "127.0.0.1:50051".parse().unwrap(),
                tls: None,
                service: String::new(),
                timeout: Duration::from_secs(2),
                server_has_tls: false,
            }
        );
        let with_ca = |listen: &str| ProbeArgs {
            listen: Some(listen.parse().unwrap()),
            tls_ca: Some("ca.crt".into()),
            ..Default::default()
        };
        for (listen, address, name) in [
            ("0.0.0.0:6000", "127.0.0.1:6000", "localhost"),
            ("[::]:6000", "[::1]:6000", "localhost"),
            ("[::1]:6000", "[::1]:6000", "localhost"),
            ("10.1.2.3:6000", "10.1.2.3:6000", "10.1.2.3"),
        ] {
            let config = resolve(with_ca(listen), "").unwrap();
            assert_eq!(config.address, address.parse().unwrap(), "{listen}");
            assert_eq!(
                config.tls,
                Some(ProbeTls {
                    ca: "ca.crt".into(),
                    server_name: name.into()
                }),
                "{listen}"
            );
        }
        let named = ProbeArgs {
            tls_server_name: Some("personae.prod.svc".into()),
            ..with_ca("0.0.0.0:50051")
        };
        assert_eq!(
            resolve(named, "").unwrap().tls.unwrap().server_name,
            "personae.prod.svc"
        );

        // The server's config file gives the address, and says TLS is on.
        let from_file = resolve(
            ProbeArgs::default(),
            "listen = \"0.0.0.0:7000\"\ntls_cert = \"/tls/tls.crt\"\ntls_key = \"/tls/tls.key\"",
        )
        .unwrap();
        assert_eq!(from_file.address, "127.0.0.1:7000".parse().unwrap());
        assert!(from_file.server_has_tls);

        let refused = [
            ProbeArgs {
                tls_server_name: Some("localhost".into()),
                ..Default::default()
            },
            ProbeArgs {
                timeout_secs: Some(0),
                ..Default::default()
            },
        ];
        for args in refused {
            assert!(resolve(args, "").is_err());
        }
    }

    #[test]
    fn the_file_refuses_unknown_keys_and_zero_limits() {
        assert!(toml::from_str::<FileConfig>("listn = \"127.0.0.1:1\"").is_err());
        for zero in ["max_concurrent_requests = 0", "max_api_keys_per_user = 0"] {
            let file: FileConfig = toml::from_str(zero).unwrap();
            assert!(
                ServerConfig::resolve(ServeArgs::default(), file).is_err(),
                "{zero}"
            );
        }
    }
}
