//! The versions of the service's secret key (see `store/secret_keys.rs`).

/// The newest key's version and its check value.
pub(crate) const LATEST: &str =
    "SELECT version, key_check FROM secret_keys ORDER BY version DESC LIMIT 1";

/// Every stored basic-auth password, sealed.
pub(crate) const SEALED_PASSWORDS: &str =
    "SELECT id, basic_auth_password FROM iams WHERE basic_auth_password IS NOT NULL ORDER BY id";

/// Every stored TLS client key, sealed.
pub(crate) const SEALED_CLIENT_KEYS: &str =
    "SELECT id, tls_client_key FROM iams WHERE tls_client_key IS NOT NULL ORDER BY id";

/// Records key version $1 with its check value $2.
pub(crate) const INSERT: &str = "INSERT INTO secret_keys (version, key_check) VALUES ($1, $2)";
