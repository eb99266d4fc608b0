//! API keys and the credential authentication reads. Keys belong to users; their SQL is with
//! the users' (`queries::users`).

use async_trait::async_trait;

use super::{
    AccountCredential, ApiKeyStore, CertificateName, Committed, Credential, DbTime, NewApiKey,
    SqlStore,
    db::{Conn, query},
    grants,
    queries::users as sql,
    users::{user_exists, user_not_found},
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id,
    api_key::{ApiKey, StoredCredential},
    audit::AuditRecord,
    page::PageRequest,
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Id,
    user_id: Id,
    display_name: String,
    create_time: DbTime,
    expire_time: Option<DbTime>,
    revoke_time: Option<DbTime>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            display_name: row.display_name,
            create_time: row.create_time.0,
            expire_time: row.expire_time.map(|t| t.0),
            revoke_time: row.revoke_time.map(|t| t.0),
        }
    }
}

/// A key with one of its user's permissions (`None`: the user holds none).
#[derive(sqlx::FromRow)]
struct CredentialRow {
    secret_hash: Vec<u8>,
    expire_time: Option<DbTime>,
    revoke_time: Option<DbTime>,
    user_id: Id,
    disabled: bool,
    permission: Option<String>,
}

/// A service account with one of its permissions (`None`: it holds none).
#[derive(sqlx::FromRow)]
struct AccountRow {
    user_id: Id,
    disabled: bool,
    permission: Option<String>,
}

pub(super) async fn insert(conn: &mut Conn<'_>, key: &NewApiKey) -> Result<ApiKey> {
    let row: ApiKeyRow = conn
        .fetch_one(
            query(sql::INSERT_API_KEY)
                .bind(key.id)
                .bind(key.user_id)
                .bind(key.display_name.as_str())
                .bind(&key.secret_hash[..])
                .bind(domain::now())
                .bind(key.expire_time),
        )
        .await?;
    Ok(row.into())
}

fn api_key_not_found(id: Id) -> Error {
    Error::NotFound(format!("API key {id} does not exist"))
}

#[async_trait]
impl ApiKeyStore for SqlStore {
    async fn credential(&self, key_id: Id) -> Result<Option<Credential>> {
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<CredentialRow> = pooled
            .conn()
            .fetch_all(query(sql::CREDENTIAL).bind(key_id))
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let stored = StoredCredential {
            secret_hash: first.secret_hash.clone(),
            expire_time: first.expire_time.map(|t| t.0),
            revoke_time: first.revoke_time.map(|t| t.0),
            user_id: first.user_id,
            user_disabled: first.disabled,
        };
        Ok(Some(Credential {
            stored,
            permissions: rows.into_iter().filter_map(|row| row.permission).collect(),
        }))
    }

    async fn account_credential(
        &self,
        name: CertificateName<'_>,
    ) -> Result<Option<AccountCredential>> {
        let statement = match name {
            CertificateName::EmailKey(key) => query(sql::SERVICE_ACCOUNT_NAMED).bind(key),
            CertificateName::Uri(uri) => query(sql::SERVICE_ACCOUNT_WITH_URI).bind(uri.as_str()),
        };
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<AccountRow> = pooled.conn().fetch_all(statement).await?;
        let Some(&AccountRow {
            user_id, disabled, ..
        }) = rows.first()
        else {
            return Ok(None);
        };
        Ok(Some(AccountCredential {
            user_id,
            disabled,
            permissions: rows.into_iter().filter_map(|row| row.permission).collect(),
        }))
    }

    async fn create_api_key(
        &self,
        key: NewApiKey,
        max_active: u32,
        audit: AuditRecord,
    ) -> Result<Committed<ApiKey>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        if !user_exists(&mut conn, key.user_id).await? {
            return Err(user_not_found(key.user_id));
        }
        grants::ensure_caller_may_mint_for(&mut conn, audit.actor_id, key.user_id).await?;
        let (active,): (i64,) = conn
            .fetch_one(
                query(sql::ACTIVE_API_KEY_COUNT)
                    .bind(key.user_id)
                    .bind(domain::now()),
            )
            .await?;
        if active >= i64::from(max_active) {
            return Err(Error::FailedPrecondition(format!(
                "user {} has {active} active API keys and may have at most {max_active} \
             (max_api_keys_per_user); revoke one (RevokeApiKey) before creating another",
                key.user_id
            )));
        }
        let created = insert(&mut conn, &key).await?;
        // Unknown keys are never cached, so nothing cached can depend on a new one.
        let touched = Touched::of([Topic::ApiKey(created.id)]);
        write.finish(created, audit, touched).await
    }

    async fn get_api_key(&self, id: Id) -> Result<ApiKey> {
        let mut pooled = self.db.acquire().await?;
        let row: Option<ApiKeyRow> = pooled
            .conn()
            .fetch_optional(query(sql::API_KEY).bind(id))
            .await?;
        row.map(ApiKey::from).ok_or_else(|| api_key_not_found(id))
    }

    async fn list_api_keys(
        &self,
        user_id: Id,
        include_revoked: bool,
        page: &PageRequest,
    ) -> Result<Vec<ApiKey>> {
        let after = page.after_id()?;
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        if !user_exists(&mut conn, user_id).await? {
            return Err(user_not_found(user_id));
        }
        let rows: Vec<ApiKeyRow> = conn
            .fetch_all(
                query(sql::API_KEYS_OF)
                    .bind(user_id)
                    .bind(include_revoked)
                    .bind(after)
                    .bind(page.limit()),
            )
            .await?;
        Ok(rows.into_iter().map(ApiKey::from).collect())
    }

    async fn revoke_api_key(&self, id: Id, audit: AuditRecord) -> Result<Committed<ApiKey>> {
        let mut write = Write::begin(&self.db).await?;
        let row: Option<ApiKeyRow> = write
            .conn()
            .fetch_optional(query(sql::REVOKE_API_KEY).bind(id).bind(domain::now()))
            .await?;
        let key: ApiKey = row.ok_or_else(|| api_key_not_found(id))?.into();
        write
            .finish(key, audit, Touched::of([Topic::ApiKey(id)]))
            .await
    }
}
