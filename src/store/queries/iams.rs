//! Identity managers, their user-info endpoints and profile schemas.

use super::{Sql, where_in};

/// The columns of an IAM row; whether a password is stored, never the password.
macro_rules! iam_select {
    () => {
        "SELECT id, name, built_in, endpoint_uri, basic_auth_username,
                basic_auth_password IS NOT NULL AS has_basic_auth_password, tls_ca_cert_pem,
                tls_client_cert_pem, tls_client_key IS NOT NULL AS has_tls_client_key,
                connect_timeout_ms, request_timeout_ms, create_time, update_time, version
         FROM iams"
    };
}

pub(crate) const BY_ID: &str = concat!(iam_select!(), " WHERE id = $1");

/// A page of IAMs: $1 the last id of the previous page, $2 the limit.
pub(crate) const LIST: &str = concat!(iam_select!(), " WHERE id > $1 ORDER BY id LIMIT $2");

pub(crate) const PROFILE_SCHEMAS_OF: Sql = where_in!(
    "SELECT iam_id, platform, attribute, aws_user_type FROM iam_profile_schema",
    "iam_id",
    "ORDER BY iam_id, platform"
);

/// Another IAM (not $2) whose name has the comparison key $1.
pub(crate) const OWNER_OF_NAME: &str = "
    SELECT id FROM iams WHERE name_key = $1 AND ($2 IS NULL OR id <> $2)";

/// $1 id, $2 name, $3 its key, $4 the time, $5 endpoint URI, $6 basic-auth username.
pub(crate) const INSERT: &str = "
    INSERT INTO iams (id, name, name_key, built_in, create_time, update_time, version,
                      endpoint_uri, basic_auth_username)
    VALUES ($1, $2, $3, false, $4, $4, 1, $5, $6)";

/// $2 name, $3 its comparison key.
pub(crate) const SET_NAME: &str = "UPDATE iams SET name = $2, name_key = $3 WHERE id = $1";

/// $2 endpoint URI (NULL: none), $3 basic-auth username, $4 CA certificates, $5 client
/// certificate, $6 and $7 the connect and request timeouts in milliseconds.
pub(crate) const SET_ENDPOINT: &str = "
    UPDATE iams SET endpoint_uri = $2, basic_auth_username = $3, tls_ca_cert_pem = $4,
                    tls_client_cert_pem = $5, connect_timeout_ms = $6, request_timeout_ms = $7
    WHERE id = $1";

/// $2 the sealed password.
pub(crate) const SET_PASSWORD: &str = "UPDATE iams SET basic_auth_password = $2 WHERE id = $1";

pub(crate) const CLEAR_PASSWORD: &str = "UPDATE iams SET basic_auth_password = NULL WHERE id = $1";

/// $2 the sealed client key.
pub(crate) const SET_CLIENT_KEY: &str = "UPDATE iams SET tls_client_key = $2 WHERE id = $1";

pub(crate) const CLEAR_CLIENT_KEY: &str = "UPDATE iams SET tls_client_key = NULL WHERE id = $1";

/// The sealed secrets of IAM $1 (each NULL when none).
pub(crate) const SEALED_SECRETS: &str =
    "SELECT basic_auth_password, tls_client_key FROM iams WHERE id = $1";

pub(crate) const CLEAR_PROFILE_SCHEMA: &str = "DELETE FROM iam_profile_schema WHERE iam_id = $1";

pub(crate) const ADD_PROFILE_SCHEMA_ENTRY: &str = "
    INSERT INTO iam_profile_schema (iam_id, platform, attribute, aws_user_type)
    VALUES ($1, $2, $3, $4)";

pub(crate) const TOUCH: &str =
    "UPDATE iams SET version = version + 1, update_time = $2 WHERE id = $1";

pub(crate) const EXISTS: &str = "SELECT id FROM iams WHERE id = $1";

pub(crate) const USER_COUNT: &str = "SELECT count(*) FROM users WHERE iam_id = $1";

/// The profile schema goes with it (ON DELETE CASCADE).
pub(crate) const DELETE: &str = "DELETE FROM iams WHERE id = $1";

/// How many secrets are stored, for the start-up check of the secret key.
pub(crate) const SECRET_COUNT: &str = "
    SELECT count(basic_auth_password) + count(tls_client_key) FROM iams";
