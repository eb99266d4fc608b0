//! Identity managers: their rows, user-info endpoints (the password sealed, never in clear) and
//! profile schemas.

use std::time::Duration;

use async_trait::async_trait;

use super::{
    Committed, DbTime, IamStore, PageIndex, SqlStore,
    db::{Conn, query},
    names::{Named, ensure_name_free},
    queries::iams as sql,
    write::Write,
};
use crate::checks::Touched;
use crate::domain::{
    self, BUILT_IN_IAM_ID, Id, Version,
    audit::AuditRecord,
    external::{AwsUserType, Platform},
    iam::{
        Endpoint, EndpointChange, EndpointConfig, EndpointOutcome, Iam, IamChanges, NewIam,
        ProfileSchemaEntry, SecretChange, Timeouts,
    },
    page::PageRequest,
    tls::{PrivateKey, ensure_key_matches},
};
use crate::error::{Error, Result};
use crate::secrets::Place;

#[derive(sqlx::FromRow)]
struct IamRow {
    id: Id,
    name: String,
    built_in: bool,
    endpoint_uri: Option<String>,
    basic_auth_username: String,
    has_basic_auth_password: bool,
    tls_ca_cert_pem: String,
    tls_client_cert_pem: String,
    has_tls_client_key: bool,
    connect_timeout_ms: i64,
    request_timeout_ms: i64,
    create_time: DbTime,
    update_time: DbTime,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct ProfileSchemaRow {
    iam_id: Id,
    platform: String,
    attribute: String,
    aws_user_type: Option<String>,
}

/// The columns of `iams` holding sealed secrets.
pub(super) const PASSWORD: &str = "basic_auth_password";
pub(super) const CLIENT_KEY: &str = "tls_client_key";

/// Where an IAM's secret in `column` is sealed to.
pub(super) fn secret_place(id: Id, column: &'static str) -> Place {
    Place {
        table: "iams",
        row: id,
        column,
    }
}

/// A timeout as stored: whole milliseconds (a stored value is never negative).
fn millis(stored: i64) -> Duration {
    Duration::from_millis(u64::try_from(stored).unwrap_or_default())
}

fn as_millis(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

fn iam_not_found(id: Id) -> Error {
    Error::NotFound(format!("IAM {id} does not exist"))
}

/// Reads the profile schemas of a page of IAMs and joins them to the rows.
/// Fails with NotFound naming `field` unless IAM `id` exists.
pub(super) async fn ensure_iam_exists(conn: &mut Conn<'_>, field: &str, id: Id) -> Result<()> {
    let found: Option<(Id,)> = conn.fetch_optional(query(sql::EXISTS).bind(id)).await?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("{field}: IAM {id} does not exist")))
}

async fn load_iams(conn: &mut Conn<'_>, rows: Vec<IamRow>) -> Result<Vec<Iam>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let schemas: Vec<ProfileSchemaRow> = conn
        .fetch_all(query(sql::PROFILE_SCHEMAS_OF).bind(&ids[..]))
        .await?;
    let mut iams: Vec<Iam> = rows
        .into_iter()
        .map(|row| Iam {
            id: row.id,
            name: row.name,
            built_in: row.built_in,
            endpoint: row.endpoint_uri.map(|uri| Endpoint {
                uri,
                basic_auth_username: row.basic_auth_username,
                has_basic_auth_password: row.has_basic_auth_password,
                tls_ca_cert_pem: row.tls_ca_cert_pem,
                tls_client_cert_pem: row.tls_client_cert_pem,
                has_tls_client_key: row.has_tls_client_key,
                timeouts: Timeouts {
                    connect: millis(row.connect_timeout_ms),
                    request: millis(row.request_timeout_ms),
                },
            }),
            profile_schema: Vec::new(),
            create_time: row.create_time.0,
            update_time: row.update_time.0,
            version: Version(row.version),
        })
        .collect();
    let index = PageIndex::new(&ids);
    for row in schemas {
        if let Some(iam) = index.get(&mut iams, row.iam_id) {
            iam.profile_schema.push(ProfileSchemaEntry {
                platform: Platform::from_db(&row.platform)?,
                attribute: row.attribute,
                aws_user_type: row
                    .aws_user_type
                    .as_deref()
                    .map(AwsUserType::from_db)
                    .transpose()?,
            });
        }
    }
    Ok(iams)
}

async fn load_iam(conn: &mut Conn<'_>, id: Id) -> Result<Iam> {
    let row: Option<IamRow> = conn.fetch_optional(query(sql::BY_ID).bind(id)).await?;
    let row = row.ok_or_else(|| iam_not_found(id))?;
    load_iams(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| iam_not_found(id))
}

async fn set_profile_schema(
    conn: &mut Conn<'_>,
    id: Id,
    schema: &[ProfileSchemaEntry],
) -> Result<()> {
    conn.execute(query(sql::CLEAR_PROFILE_SCHEMA).bind(id))
        .await?;
    for entry in schema {
        conn.execute(
            query(sql::ADD_PROFILE_SCHEMA_ENTRY)
                .bind(id)
                .bind(entry.platform.as_str())
                .bind(entry.attribute.as_str())
                .bind(entry.aws_user_type.map(AwsUserType::as_str)),
        )
        .await?;
    }
    Ok(())
}

impl SqlStore {
    /// Writes what an IAM's endpoint becomes (`stored` is what it was), sealing new secrets
    /// under the secret key, and checks that the client key is its certificate's.
    async fn write_endpoint(
        &self,
        conn: &mut Conn<'_>,
        id: Id,
        stored: Option<&Endpoint>,
        outcome: EndpointOutcome,
    ) -> Result<()> {
        if !outcome.tls_client_cert_pem.is_empty() {
            let key = match &outcome.tls_client_key {
                Some(SecretChange::Set(key)) => Some(key.clone()),
                _ if stored
                    .is_some_and(|s| s.tls_client_cert_pem == outcome.tls_client_cert_pem) =>
                {
                    None
                }
                _ => Some(self.stored_client_key(conn, id).await?),
            };
            if let Some(key) = key {
                ensure_key_matches(
                    &outcome.tls_client_cert_pem,
                    &key,
                    "user_info_endpoint.tls.client_key_pem",
                )?;
            }
        }
        conn.execute(
            query(sql::SET_ENDPOINT)
                .bind(id)
                .bind(outcome.uri.as_deref())
                .bind(outcome.basic_auth_username.as_str())
                .bind(outcome.tls_ca_cert_pem.as_str())
                .bind(outcome.tls_client_cert_pem.as_str())
                .bind(as_millis(outcome.timeouts.connect))
                .bind(as_millis(outcome.timeouts.request)),
        )
        .await?;
        let password = outcome
            .basic_auth_password
            .map(|c| c.map(|p| p.expose().to_owned()));
        let client_key = outcome
            .tls_client_key
            .map(|c| c.map(|k| k.expose().to_owned()));
        for (change, column, field, set, clear) in [
            (
                password,
                PASSWORD,
                "user_info_endpoint.basic_auth_password",
                sql::SET_PASSWORD,
                sql::CLEAR_PASSWORD,
            ),
            (
                client_key,
                CLIENT_KEY,
                "user_info_endpoint.tls.client_key_pem",
                sql::SET_CLIENT_KEY,
                sql::CLEAR_CLIENT_KEY,
            ),
        ] {
            match change {
                None => {}
                Some(SecretChange::Remove) => {
                    conn.execute(query(clear).bind(id)).await?;
                }
                Some(SecretChange::Set(secret)) => {
                    let key = self.secrets.sealing_key(conn, field).await?;
                    let sealed = key.seal(secret_place(id, column), secret.as_bytes())?;
                    conn.execute(query(set).bind(id).bind(&sealed[..])).await?;
                }
            }
        }
        Ok(())
    }

    /// IAM `id`'s stored password and client key, opened (empty when none is stored).
    async fn stored_secrets(&self, conn: &mut Conn<'_>, id: Id) -> Result<(String, String)> {
        let (password, client_key): (Option<Vec<u8>>, Option<Vec<u8>>) =
            conn.fetch_one(query(sql::SEALED_SECRETS).bind(id)).await?;
        let open = |sealed: Option<Vec<u8>>, column| -> Result<String> {
            let Some(sealed) = sealed else {
                return Ok(String::new());
            };
            let plain = self
                .secrets
                .open_secret(secret_place(id, column), &sealed)?;
            String::from_utf8(plain).map_err(|e| {
                Error::internal(format!("IAM {id}: the stored {column} is not text: {e}"))
            })
        };
        Ok((open(password, PASSWORD)?, open(client_key, CLIENT_KEY)?))
    }

    /// The client key stored for IAM `id`, opened, for checking it against a new certificate.
    async fn stored_client_key(&self, conn: &mut Conn<'_>, id: Id) -> Result<PrivateKey> {
        let (_, pem) = self.stored_secrets(conn, id).await?;
        if pem.is_empty() {
            return Err(Error::invalid(
                "user_info_endpoint.tls.client_key_pem",
                "is required with client_cert_pem",
            ));
        }
        PrivateKey::parse("user_info_endpoint.tls.client_key_pem", &pem)
    }
}

/// Why the built-in IAM is never called: it holds the users made here, and an endpoint for it
/// would let whoever sets one (an APPLICATION_ADMIN) sync those users into groups.
const BUILT_IN_HAS_NO_ENDPOINT: &str =
    "the built-in IAM holds the users created here and has no user-info endpoint";

#[async_trait]
impl IamStore for SqlStore {
    async fn list_iams(&self, page: &PageRequest) -> Result<Vec<Iam>> {
        let after = page.after_id()?.unwrap_or(Id::FIRST);
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        let rows: Vec<IamRow> = conn
            .fetch_all(query(sql::LIST).bind(after).bind(page.limit()))
            .await?;
        load_iams(&mut conn, rows).await
    }

    async fn get_iam(&self, id: Id) -> Result<Iam> {
        let mut pooled = self.db.acquire().await?;
        load_iam(&mut pooled.conn(), id).await
    }

    async fn create_iam(&self, id: Id, iam: NewIam, audit: AuditRecord) -> Result<Committed<Iam>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        ensure_name_free(&mut conn, Named::Iam, "name", &iam.name, None).await?;
        conn.execute(
            query(sql::INSERT)
                .bind(id)
                .bind(iam.name.as_str())
                .bind(iam.name.key().as_str())
                .bind(domain::now())
                .bind(None::<&str>)
                .bind(""),
        )
        .await?;
        if let Some(endpoint) = iam.endpoint {
            let outcome = EndpointChange::Replace(endpoint).apply(None)?;
            self.write_endpoint(&mut conn, id, None, outcome).await?;
        }
        set_profile_schema(&mut conn, id, &iam.profile_schema).await?;
        let created = load_iam(&mut conn, id).await?;
        // An IAM's settings are no check's facts.
        write.finish(created, audit, Touched::nothing()).await
    }

    async fn update_iam(
        &self,
        id: Id,
        etag: Version,
        changes: IamChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Iam>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let current = load_iam(&mut conn, id).await?;
        etag.ensure_current(current.version, &format!("IAM {id}"))?;
        if let Some(name) = &changes.name {
            ensure_name_free(&mut conn, Named::Iam, "iam.name", name, Some(id)).await?;
            conn.execute(
                query(sql::SET_NAME)
                    .bind(id)
                    .bind(name.as_str())
                    .bind(name.key().as_str()),
            )
            .await?;
        }
        if let Some(change) = changes.endpoint {
            let outcome = change.apply(current.endpoint.as_ref())?;
            if id == BUILT_IN_IAM_ID && outcome.uri.is_some() {
                return Err(Error::FailedPrecondition(format!(
                    "user_info_endpoint: {BUILT_IN_HAS_NO_ENDPOINT}"
                )));
            }
            self.write_endpoint(&mut conn, id, current.endpoint.as_ref(), outcome)
                .await?;
        }
        if let Some(schema) = &changes.profile_schema {
            set_profile_schema(&mut conn, id, schema).await?;
        }
        conn.execute(query(sql::TOUCH).bind(id).bind(domain::now()))
            .await?;
        let updated = load_iam(&mut conn, id).await?;
        write.finish(updated, audit, Touched::nothing()).await
    }

    async fn iam_endpoint(&self, id: Id) -> Result<(Iam, EndpointConfig)> {
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        let iam = load_iam(&mut conn, id).await?;
        if id == BUILT_IN_IAM_ID {
            return Err(Error::FailedPrecondition(format!(
                "iam_id: {BUILT_IN_HAS_NO_ENDPOINT}"
            )));
        }
        let Some(endpoint) = iam.endpoint.clone() else {
            return Err(Error::FailedPrecondition(format!(
                "iam_id: IAM {id} ({}) has no user-info endpoint",
                iam.name
            )));
        };
        let (password, client_key_pem) = self.stored_secrets(&mut conn, id).await?;
        let config = EndpointConfig {
            uri: endpoint.uri,
            basic_auth: (!endpoint.basic_auth_username.is_empty())
                .then_some((endpoint.basic_auth_username, password)),
            ca_cert_pem: endpoint.tls_ca_cert_pem,
            client_cert_pem: endpoint.tls_client_cert_pem,
            client_key_pem,
            timeouts: endpoint.timeouts,
        };
        Ok((iam, config))
    }

    async fn delete_iam(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let iam = load_iam(&mut conn, id).await?;
        if iam.built_in {
            return Err(Error::FailedPrecondition(format!(
                "IAM {id} ({}) is built in and cannot be deleted",
                iam.name
            )));
        }
        let (users,): (i64,) = conn.fetch_one(query(sql::USER_COUNT).bind(id)).await?;
        if users > 0 {
            return Err(Error::FailedPrecondition(format!(
                "IAM {id} ({}) has {users} users; migrate or delete them first",
                iam.name
            )));
        }
        conn.execute(query(sql::DELETE).bind(id)).await?;
        // Only an IAM no user belongs to can go.
        write.finish((), audit, Touched::nothing()).await
    }
}
