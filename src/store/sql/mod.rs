//! The SQL both backends share. The queries use `$n` placeholders, `RETURNING` and
//! `ON CONFLICT`, which PostgreSQL and SQLite both understand; what differs (connecting, taking
//! the write lock, mapping database errors, column types) lives in `postgres.rs` and `sqlite.rs`,
//! which each expand [`sql_store!`] with their own `Db`, `begin`, `LOCK_AUDIT_HEAD` and
//! `db_error` in scope. Users, keys and the audit log are here; `groups.rs` and `policy.rs` hold
//! the rest, expanded by the same macro.

#[macro_use]
pub(super) mod groups;
#[macro_use]
pub(super) mod policy;

use std::collections::HashMap;

use crate::domain::{
    Id, Timestamp, Version,
    api_key::ApiKey,
    audit::AuditEvent,
    external::{AwsUserType, ExternalUsername, Platform},
    user::{User, UserKind},
};
use crate::error::Result;

/// A timestamp column: `timestamptz` on PostgreSQL, integer microseconds on SQLite (so that
/// stored times sort and compare as numbers).
#[derive(Clone, Copy, Debug)]
pub(super) struct DbTime(pub Timestamp);

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub kind: String,
    pub iam_id: Id,
    pub disabled: bool,
    pub create_time: DbTime,
    pub update_time: DbTime,
    pub disable_time: Option<DbTime>,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserValueRow {
    pub user_id: Id,
    pub value: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserGroupRow {
    pub user_id: Id,
    pub group_id: Id,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserAttributeRow {
    pub user_id: Id,
    pub name: String,
    pub value: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct ExternalUsernameRow {
    pub user_id: Id,
    pub platform: String,
    pub username: String,
    pub aws_user_type: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    pub id: Id,
    pub user_id: Id,
    pub display_name: String,
    pub create_time: DbTime,
    pub expire_time: Option<DbTime>,
    pub revoke_time: Option<DbTime>,
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

#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    pub secret_hash: Vec<u8>,
    pub expire_time: Option<DbTime>,
    pub revoke_time: Option<DbTime>,
    pub user_id: Id,
    pub disabled: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub sequence: i64,
    pub id: Id,
    pub time: DbTime,
    pub actor_id: Option<Id>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub success: bool,
    pub impersonation_user: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            sequence: row.sequence,
            id: row.id,
            time: row.time.0,
            actor_id: row.actor_id,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            success: row.success,
            impersonation_user: row.impersonation_user,
            details: row.details,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// Everything about a range of users that lives outside the users table.
#[derive(Default)]
pub(super) struct UserDetails {
    pub permissions: Vec<UserValueRow>,
    pub groups: Vec<UserGroupRow>,
    pub attributes: Vec<UserAttributeRow>,
    pub authorizations: Vec<UserAttributeRow>,
    pub external_usernames: Vec<ExternalUsernameRow>,
}

impl UserDetails {
    /// Joins the rows of each user with their details.
    pub fn assemble(self, rows: Vec<UserRow>) -> Result<Vec<User>> {
        let mut users: Vec<User> = rows.into_iter().map(user_from_row).collect::<Result<_>>()?;
        let index: HashMap<Id, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
        let user = |id: &Id| index.get(id).copied();
        for row in self.permissions {
            if let Some(i) = user(&row.user_id) {
                users[i].permissions.push(row.value);
            }
        }
        for row in self.groups {
            if let Some(i) = user(&row.user_id) {
                users[i].group_ids.push(row.group_id);
            }
        }
        for row in self.attributes {
            if let Some(i) = user(&row.user_id) {
                users[i]
                    .attributes
                    .entry(row.name)
                    .or_default()
                    .push(row.value);
            }
        }
        for row in self.authorizations {
            if let Some(i) = user(&row.user_id) {
                users[i]
                    .authorizations
                    .entry(row.name)
                    .or_default()
                    .push(row.value);
            }
        }
        for row in self.external_usernames {
            if let Some(i) = user(&row.user_id) {
                users[i].external_usernames.push(ExternalUsername {
                    platform: Platform::from_db(&row.platform)?,
                    username: row.username,
                    aws_user_type: row
                        .aws_user_type
                        .as_deref()
                        .map(AwsUserType::from_db)
                        .transpose()?,
                });
            }
        }
        Ok(users)
    }
}

fn user_from_row(row: UserRow) -> Result<User> {
    Ok(User {
        id: row.id,
        username: row.username,
        email: row.email,
        full_name: row.full_name,
        kind: UserKind::from_db(&row.kind)?,
        iam_id: row.iam_id,
        disabled: row.disabled,
        permissions: Vec::new(),
        group_ids: Vec::new(),
        attributes: Default::default(),
        external_usernames: Vec::new(),
        authorizations: Default::default(),
        create_time: row.create_time.0,
        update_time: row.update_time.0,
        disable_time: row.disable_time.map(|t| t.0),
        version: Version(row.version),
    })
}

/// The resources whose names are unique ignoring case.
#[derive(Clone, Copy)]
pub(super) enum Named {
    Group,
    Role,
    Tenant,
}

impl Named {
    /// Selects the id of another row with the name `$1`, except row `$2` (when not NULL).
    pub fn owner_sql(self) -> &'static str {
        match self {
            Self::Group => {
                "SELECT id FROM groups WHERE lower(name) = lower($1) AND ($2 IS NULL OR id <> $2)"
            }
            Self::Role => {
                "SELECT id FROM roles WHERE lower(name) = lower($1) AND ($2 IS NULL OR id <> $2)"
            }
            Self::Tenant => {
                "SELECT id FROM tenants WHERE lower(name) = lower($1) AND ($2 IS NULL OR id <> $2)"
            }
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Role => "role",
            Self::Tenant => "tenant",
        }
    }
}

/// The resources that carry attributes (sets of values per name).
#[derive(Clone, Copy)]
pub(super) enum AttributeOwner {
    User,
    Group,
}

impl AttributeOwner {
    pub fn insert_sql(self) -> &'static str {
        match self {
            Self::User => {
                "INSERT INTO user_attributes (user_id, name, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            }
            Self::Group => {
                "INSERT INTO group_attributes (group_id, name, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            }
        }
    }

    pub fn delete_sql(self) -> &'static str {
        match self {
            Self::User => {
                "DELETE FROM user_attributes WHERE user_id = $1 AND name = $2 AND value = $3"
            }
            Self::Group => {
                "DELETE FROM group_attributes WHERE group_id = $1 AND name = $2 AND value = $3"
            }
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

/// `%text%` for LIKE with `\` as the escape character.
pub(super) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The columns of [`UserRow`], as a literal for `concat!`.
macro_rules! user_columns {
    () => {
        "id, username, email, full_name, kind, iam_id, disabled, create_time, update_time, disable_time, version"
    };
}

/// Implements [`super::Store`], [`super::GroupStore`] and [`super::PolicyStore`] for `$store`,
/// whose module defines `Db` (the sqlx database),
/// `begin` (opens a write transaction), `LOCK_AUDIT_HEAD` (reads the chain head, locking it)
/// and `db_error` (maps its database's errors to domain errors). The expansion brings the
/// imports both backends share (`Error`, `Result`, `Transaction`, `DbTime`, ...).
macro_rules! sql_store {
    ($store:ident) => {
        use async_trait::async_trait;
        use sqlx::{Connection as _, Transaction};

        use $crate::domain::{
            self, Id, Revision, Version,
            api_key::ApiKey,
            audit::{AuditEvent, AuditRecord},
            external::{ExternalUsername, Platform},
            page::PageRequest,
            permission, policy,
            user::{NewUser, User, UserChanges},
        };
        use $crate::error::{Error, Result};
        use $crate::store::sql::{
            ApiKeyRow, AttributeOwner, AuditRow, CredentialRow, DbTime, ExternalUsernameRow, Named, UserAttributeRow,
            UserDetails, UserGroupRow, UserRow, UserValueRow, contains_pattern,
        };
        use $crate::store::{AuditFilter, Committed, Credential, NewApiKey, Store, UserFilter, UserKey, user_not_found};

        type Conn = <Db as sqlx::Database>::Connection;

        /// A write transaction holding the audit chain's head.
        struct Write {
            tx: Transaction<'static, Db>,
            sequence: i64,
            hash: String,
            /// The enabled users holding USER_ADMIN when the transaction began (a few of them).
            user_admins_before: Vec<(Id, String)>,
        }

        impl $store {
            async fn write(&self) -> Result<Write> {
                let mut tx = begin(&self.pool).await?;
                let (sequence, hash): (i64, String) =
                    sqlx::query_as(LOCK_AUDIT_HEAD).fetch_one(&mut *tx).await.map_err(db_error)?;
                let user_admins_before = Self::enabled_user_admins(&mut tx, 3).await?;
                Ok(Write {
                    tx,
                    sequence,
                    hash,
                    user_admins_before,
                })
            }

            /// Up to `limit` enabled users holding USER_ADMIN everywhere, by any path.
            async fn enabled_user_admins(conn: &mut Conn, limit: i64) -> Result<Vec<(Id, String)>> {
                sqlx::query_as(
                    "SELECT u.id, u.username FROM users u WHERE NOT u.disabled AND u.id IN ( \
                       SELECT user_id FROM user_permissions WHERE permission = $1 \
                       UNION SELECT ra.user_id FROM role_permissions rp \
                         JOIN role_assignments ra ON ra.role_id = rp.role_id \
                         WHERE rp.permission = $1 AND ra.tenant_id IS NULL AND ra.user_id IS NOT NULL \
                       UNION SELECT gm.user_id FROM role_permissions rp \
                         JOIN role_assignments ra ON ra.role_id = rp.role_id \
                         JOIN group_members gm ON gm.group_id = ra.group_id \
                         WHERE rp.permission = $1 AND ra.tenant_id IS NULL) \
                     ORDER BY u.id LIMIT $2",
                )
                .bind(permission::USER_ADMIN)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)
            }

            /// The rules no change may break, checked after the change and before it commits,
            /// so they hold whichever path (grant, role, group, deletion) the change took.
            async fn check_policy_rules(write: &mut Write) -> Result<()> {
                if !write.user_admins_before.is_empty() && Self::enabled_user_admins(&mut write.tx, 1).await?.is_empty() {
                    return Err(Error::FailedPrecondition(policy::last_user_admin_message(&write.user_admins_before)));
                }
                let (exclusive,): (bool,) =
                    sqlx::query_as("SELECT admins_and_governors_mutually_exclusive FROM settings")
                        .fetch_one(&mut *write.tx)
                        .await
                        .map_err(db_error)?;
                if exclusive {
                    let grants = Self::admin_and_governor_grants(&mut write.tx).await?;
                    let conflicts = policy::admin_governor_conflicts(&grants);
                    if !conflicts.is_empty() {
                        let mut names = Vec::with_capacity(conflicts.len());
                        for id in conflicts {
                            let user = Self::load_user(&mut write.tx, &UserKey::Id(id)).await?;
                            names.push(format!("{} ({id})", user.username));
                        }
                        return Err(Error::FailedPrecondition(format!(
                            "admins and governors are mutually exclusive, and these users would hold both \
                             APPLICATION_ADMIN and GOVERNANCE: {}",
                            names.join(", ")
                        )));
                    }
                }
                Ok(())
            }

            /// Appends the audit event and commits; the event's sequence is the revision.
            async fn commit(mut write: Write, record: AuditRecord) -> Result<Revision> {
                Self::check_policy_rules(&mut write).await?;
                let event = AuditEvent::seal(record, write.sequence, write.hash, domain::now());
                sqlx::query(
                    "INSERT INTO audit_events (sequence, id, time, actor_id, action, target_type, target_id, \
                     success, impersonation_user, details, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(event.sequence)
                .bind(event.id)
                .bind(DbTime(event.time))
                .bind(event.actor_id)
                .bind(&event.action)
                .bind(&event.target_type)
                .bind(&event.target_id)
                .bind(event.success)
                .bind(&event.impersonation_user)
                .bind(&event.details)
                .bind(&event.prev_hash)
                .bind(&event.hash)
                .execute(&mut *write.tx)
                .await
                .map_err(db_error)?;
                sqlx::query("UPDATE audit_head SET sequence = $1, hash = $2")
                    .bind(event.sequence)
                    .bind(&event.hash)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                write.tx.commit().await.map_err(db_error)?;
                Ok(Revision(event.sequence))
            }

            async fn load_users(conn: &mut Conn, rows: Vec<UserRow>) -> Result<Vec<User>> {
                let (Some(first), Some(last)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else {
                    return Ok(Vec::new());
                };
                // Rows come ordered by id, so one range query per table covers the whole page;
                // assembling drops the details of users in the range the page left out.
                let (low, high) = (first.min(last), first.max(last));
                let details = UserDetails {
                    permissions: sqlx::query_as::<_, UserValueRow>(
                        "SELECT user_id, permission AS value FROM user_permissions \
                         WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, permission",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?,
                    groups: sqlx::query_as::<_, UserGroupRow>(
                        "SELECT user_id, group_id FROM group_members \
                         WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, group_id",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?,
                    attributes: sqlx::query_as::<_, UserAttributeRow>(
                        "SELECT user_id, name, value FROM user_attributes \
                         WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, name, value",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?,
                    authorizations: sqlx::query_as::<_, UserAttributeRow>(
                        "SELECT user_id, name, value FROM user_authorizations \
                         WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, name, value",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?,
                    external_usernames: sqlx::query_as::<_, ExternalUsernameRow>(
                        "SELECT user_id, platform, username, aws_user_type FROM external_usernames \
                         WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, platform",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?,
                };
                details.assemble(rows)
            }

            async fn load_user(conn: &mut Conn, key: &UserKey) -> Result<User> {
                let row: Option<UserRow> = match key {
                    UserKey::Id(id) => sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await,
                    UserKey::Username(name) => {
                        sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE lower(username) = lower($1)"))
                            .bind(name)
                            .fetch_optional(&mut *conn)
                            .await
                    }
                }
                .map_err(db_error)?;
                let Some(row) = row else {
                    return Err(match key {
                        UserKey::Id(id) => user_not_found(*id),
                        UserKey::Username(name) => Error::NotFound(format!("no user has the username {name:?}")),
                    });
                };
                Ok(Self::load_users(conn, vec![row]).await?.remove(0))
            }

            /// Marks a user changed: bumps its version and update time.
            async fn touch_user(conn: &mut Conn, id: Id) -> Result<()> {
                let updated = sqlx::query("UPDATE users SET version = version + 1, update_time = $2 WHERE id = $1")
                    .bind(id)
                    .bind(DbTime(domain::now()))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_error)?;
                if updated.rows_affected() == 0 {
                    return Err(user_not_found(id));
                }
                Ok(())
            }

            async fn ensure_user_exists(conn: &mut Conn, id: Id) -> Result<()> {
                let found: Option<(Id,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                found.map(|_| ()).ok_or_else(|| user_not_found(id))
            }

            /// Adds values to an attribute; values already there stay as they are.
            async fn add_attribute_values(conn: &mut Conn, owner: AttributeOwner, id: Id, name: &str, values: &[String]) -> Result<()> {
                for value in values {
                    sqlx::query(owner.insert_sql())
                        .bind(id)
                        .bind(name)
                        .bind(value)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }

            async fn remove_attribute_value(conn: &mut Conn, owner: AttributeOwner, id: Id, name: &str, value: &str) -> Result<()> {
                let removed = sqlx::query(owner.delete_sql())
                    .bind(id)
                    .bind(name)
                    .bind(value)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_error)?;
                if removed.rows_affected() == 0 {
                    return Err(Error::NotFound(format!(
                        "value: {} {id} has no value {value:?} in attribute {name:?}",
                        owner.noun()
                    )));
                }
                Ok(())
            }

            /// Refuses `name` for a `kind` when another one (not `except`) has it, ignoring case.
            async fn ensure_name_free(conn: &mut Conn, kind: Named, field: &str, name: &str, except: Option<Id>) -> Result<()> {
                let taken: Option<(Id,)> = sqlx::query_as(kind.owner_sql())
                    .bind(name)
                    .bind(except)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                match taken {
                    Some((owner,)) => Err(Error::AlreadyExists(format!(
                        "{field}: {} {owner} is already named {name:?}",
                        kind.noun()
                    ))),
                    None => Ok(()),
                }
            }

            async fn ensure_permission_exists(conn: &mut Conn, name: &str) -> Result<()> {
                let known: Option<(String,)> = sqlx::query_as("SELECT name FROM permissions WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                known
                    .map(|_| ())
                    .ok_or_else(|| Error::invalid("permission", format!("{name:?} is not a known permission")))
            }

            async fn ensure_username_free(conn: &mut Conn, field: &str, name: &str, except: Option<Id>) -> Result<()> {
                let taken: Option<(Id,)> = sqlx::query_as(
                    "SELECT id FROM users WHERE (lower(username) = lower($1) OR lower(email) = lower($1)) \
                     AND ($2 IS NULL OR id <> $2) LIMIT 1",
                )
                .bind(name)
                .bind(except)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?;
                match taken {
                    Some((owner,)) => Err(Error::AlreadyExists(format!(
                        "{field}: {name:?} is already the username or email of user {owner}"
                    ))),
                    None => Ok(()),
                }
            }

            async fn insert_user(conn: &mut Conn, id: Id, user: &NewUser) -> Result<()> {
                let now = DbTime(domain::now());
                sqlx::query(
                    "INSERT INTO users (id, username, email, full_name, kind, iam_id, disabled, create_time, update_time, version) \
                     VALUES ($1, $2, $2, $3, $4, $5, false, $6, $6, 1)",
                )
                .bind(id)
                .bind(user.email.as_str())
                .bind(user.full_name.as_str())
                .bind(user.kind.as_str())
                .bind(user.iam_id)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn insert_api_key(conn: &mut Conn, key: &NewApiKey) -> Result<ApiKey> {
                let row: ApiKeyRow = sqlx::query_as(
                    "INSERT INTO api_keys (id, user_id, display_name, secret_hash, create_time, expire_time) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING id, user_id, display_name, create_time, expire_time, revoke_time",
                )
                .bind(key.id)
                .bind(key.user_id)
                .bind(&key.display_name)
                .bind(&key.secret_hash)
                .bind(DbTime(domain::now()))
                .bind(key.expire_time.map(DbTime))
                .fetch_one(&mut *conn)
                .await
                .map_err(db_error)?;
                Ok(row.into())
            }

            /// Runs `change` on user `id` in a write transaction, then bumps the user's version,
            /// audits and commits, returning the user as changed.
            async fn change_user<F>(&self, id: Id, audit: AuditRecord, change: F) -> Result<Committed<User>>
            where
                F: for<'c> FnOnce(&'c mut Conn) -> futures::future::BoxFuture<'c, Result<()>> + Send,
            {
                let mut write = self.write().await?;
                Self::ensure_user_exists(&mut write.tx, id).await?;
                change(&mut write.tx).await?;
                Self::touch_user(&mut write.tx, id).await?;
                let user = Self::load_user(&mut write.tx, &UserKey::Id(id)).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: user, revision })
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                conn.ping().await.map_err(db_error)
            }

            async fn bootstrap(&self, admin: NewUser, key: NewApiKey) -> Result<bool> {
                let mut write = self.write().await?;
                let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
                    .fetch_one(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                if users > 0 {
                    return Ok(false);
                }
                Self::insert_user(&mut write.tx, key.user_id, &admin).await?;
                sqlx::query("INSERT INTO user_permissions (user_id, permission) SELECT $1, name FROM permissions WHERE built_in")
                    .bind(key.user_id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                Self::insert_api_key(&mut write.tx, &key).await?;
                let audit = AuditRecord::new(None, "Bootstrap", "user", key.user_id)
                    .with_details(serde_json::json!({ "username": admin.email.as_str(), "api_key_id": key.id.to_string() }));
                Self::commit(write, audit).await?;
                Ok(true)
            }

            async fn credential(&self, key_id: Id) -> Result<Option<Credential>> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let row: Option<CredentialRow> = sqlx::query_as(
                    "SELECT k.secret_hash, k.expire_time, k.revoke_time, k.user_id, u.disabled \
                     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1",
                )
                .bind(key_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?;
                let Some(row) = row else { return Ok(None) };
                let permissions: Vec<(String,)> = sqlx::query_as(
                    "SELECT permission FROM user_permissions WHERE user_id = $1 \
                     UNION SELECT rp.permission FROM role_assignments ra \
                       JOIN role_permissions rp ON rp.role_id = ra.role_id \
                       WHERE ra.user_id = $1 AND ra.tenant_id IS NULL \
                     UNION SELECT rp.permission FROM group_members gm \
                       JOIN role_assignments ra ON ra.group_id = gm.group_id \
                       JOIN role_permissions rp ON rp.role_id = ra.role_id \
                       WHERE gm.user_id = $1 AND ra.tenant_id IS NULL",
                )
                .bind(row.user_id)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Ok(Some(Credential {
                    stored: domain::api_key::StoredCredential {
                        secret_hash: row.secret_hash,
                        expire_time: row.expire_time.map(|t| t.0),
                        revoke_time: row.revoke_time.map(|t| t.0),
                        user_id: row.user_id,
                        user_disabled: row.disabled,
                    },
                    permissions: permissions.into_iter().map(|(p,)| p).collect(),
                }))
            }

            async fn create_user(&self, id: Id, user: NewUser, audit: AuditRecord) -> Result<Committed<User>> {
                let mut write = self.write().await?;
                Self::ensure_username_free(&mut write.tx, "email", user.email.as_str(), None).await?;
                let iam: Option<(Id,)> = sqlx::query_as("SELECT id FROM iams WHERE id = $1")
                    .bind(user.iam_id)
                    .fetch_optional(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                if iam.is_none() {
                    return Err(Error::NotFound(format!("iam_id: IAM {} does not exist", user.iam_id)));
                }
                Self::insert_user(&mut write.tx, id, &user).await?;
                sqlx::query("INSERT INTO user_permissions (user_id, permission) SELECT $1, permission FROM default_permissions")
                    .bind(id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let created = Self::load_user(&mut write.tx, &UserKey::Id(id)).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: created, revision })
            }

            async fn get_user(&self, key: &UserKey) -> Result<User> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::load_user(&mut conn, key).await
            }

            async fn list_users(&self, filter: &UserFilter, page: &PageRequest) -> Result<Vec<User>> {
                let after = page
                    .after
                    .as_deref()
                    .map(|a| Id::parse("page_token", a))
                    .transpose()?;
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let rows: Vec<UserRow> = sqlx::query_as(concat!(
                    "SELECT ", user_columns!(), " FROM users u \
                     WHERE ($1 OR NOT u.disabled) \
                       AND ($2 IS NULL OR lower(u.full_name) LIKE $2 ESCAPE '\\' OR lower(u.email) LIKE $2 ESCAPE '\\' \
                            OR lower(u.username) LIKE $2 ESCAPE '\\') \
                       AND ($3 IS NULL OR EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id AND m.group_id = $3)) \
                       AND ($4 IS NULL OR EXISTS (SELECT 1 FROM user_permissions p WHERE p.user_id = u.id AND p.permission = $4)) \
                       AND ($5 IS NULL OR u.iam_id = $5) \
                       AND ($6 IS NULL OR u.id > $6) \
                     ORDER BY u.id LIMIT $7"
                ))
                .bind(filter.include_disabled)
                .bind(filter.query.as_deref().map(contains_pattern))
                .bind(filter.group_id)
                .bind(filter.permission.as_deref())
                .bind(filter.iam_id)
                .bind(after)
                .bind(page.size as i64 + 1)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Self::load_users(&mut conn, rows).await
            }

            async fn update_user(&self, id: Id, etag: Version, changes: UserChanges, audit: AuditRecord) -> Result<Committed<User>> {
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        let (version,): (i64,) = sqlx::query_as("SELECT version FROM users WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        etag.ensure_current(Version(version), &format!("user {id}"))?;
                        if let Some(email) = &changes.email {
                            Self::ensure_username_free(conn, "user.email", email.as_str(), Some(id)).await?;
                            sqlx::query("UPDATE users SET email = $2, username = $2 WHERE id = $1")
                                .bind(id)
                                .bind(email.as_str())
                                .execute(&mut *conn)
                                .await
                                .map_err(db_error)?;
                        }
                        if let Some(name) = &changes.full_name {
                            sqlx::query("UPDATE users SET full_name = $2 WHERE id = $1")
                                .bind(id)
                                .bind(name.as_str())
                                .execute(&mut *conn)
                                .await
                                .map_err(db_error)?;
                        }
                        Ok(())
                    })
                })
                .await
            }

            async fn set_user_disabled(&self, id: Id, disabled: bool, audit: AuditRecord) -> Result<Committed<User>> {
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        // The disable time marks when the user was first disabled; disabling
                        // again keeps it.
                        sqlx::query(
                            "UPDATE users SET disabled = $2, \
                             disable_time = CASE WHEN $2 THEN COALESCE(disable_time, $3) ELSE NULL END \
                             WHERE id = $1",
                        )
                        .bind(id)
                        .bind(disabled)
                        .bind(DbTime(domain::now()))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                        Ok(())
                    })
                })
                .await
            }

            async fn delete_user(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
                let mut write = self.write().await?;
                Self::ensure_user_exists(&mut write.tx, id).await?;
                // Everything the user owns goes with it through ON DELETE CASCADE.
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: (), revision })
            }

            async fn add_user_attribute(&self, id: Id, name: &str, values: &[String], audit: AuditRecord) -> Result<Committed<User>> {
                let (name, values) = (name.to_owned(), values.to_vec());
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::add_attribute_values(conn, AttributeOwner::User, id, &name, &values).await
                    })
                })
                .await
            }

            async fn remove_user_attribute_value(&self, id: Id, name: &str, value: &str, audit: AuditRecord) -> Result<Committed<User>> {
                let (name, value) = (name.to_owned(), value.to_owned());
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::remove_attribute_value(conn, AttributeOwner::User, id, &name, &value).await
                    })
                })
                .await
            }

            async fn set_external_username(&self, id: Id, name: ExternalUsername, audit: AuditRecord) -> Result<Committed<User>> {
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        let platform = name.platform.as_str();
                        let owner: Option<(Id,)> = sqlx::query_as(
                            "SELECT user_id FROM external_usernames WHERE platform = $1 AND match_key = $2 AND user_id <> $3",
                        )
                        .bind(platform)
                        .bind(name.match_key())
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_error)?;
                        if let Some((owner,)) = owner {
                            return Err(Error::AlreadyExists(format!(
                                "username: {:?} on {platform} already belongs to user {owner}",
                                name.username
                            )));
                        }
                        sqlx::query(
                            "INSERT INTO external_usernames (user_id, platform, username, match_key, aws_user_type) \
                             VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (user_id, platform) DO UPDATE SET username = excluded.username, \
                             match_key = excluded.match_key, aws_user_type = excluded.aws_user_type",
                        )
                        .bind(id)
                        .bind(platform)
                        .bind(&name.username)
                        .bind(name.match_key())
                        .bind(name.aws_user_type.map(|t| t.as_str()))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                        Ok(())
                    })
                })
                .await
            }

            async fn clear_external_username(&self, id: Id, platform: Platform, audit: AuditRecord) -> Result<Committed<User>> {
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        let removed = sqlx::query("DELETE FROM external_usernames WHERE user_id = $1 AND platform = $2")
                            .bind(id)
                            .bind(platform.as_str())
                            .execute(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        if removed.rows_affected() == 0 {
                            return Err(Error::NotFound(format!(
                                "platform: user {id} has no external username on {}",
                                platform.as_str()
                            )));
                        }
                        Ok(())
                    })
                })
                .await
            }

            async fn grant_permission(&self, id: Id, permission: &str, audit: AuditRecord) -> Result<Committed<User>> {
                let permission = permission.to_owned();
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::ensure_permission_exists(conn, &permission).await?;
                        sqlx::query("INSERT INTO user_permissions (user_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(id)
                            .bind(&permission)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        Ok(())
                    })
                })
                .await
            }

            async fn revoke_permission(&self, id: Id, permission: &str, audit: AuditRecord) -> Result<Committed<User>> {
                let permission = permission.to_owned();
                self.change_user(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::ensure_permission_exists(conn, &permission).await?;
                        sqlx::query("DELETE FROM user_permissions WHERE user_id = $1 AND permission = $2")
                            .bind(id)
                            .bind(&permission)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        Ok(())
                    })
                })
                .await
            }

            async fn create_api_key(&self, key: NewApiKey, audit: AuditRecord) -> Result<Committed<ApiKey>> {
                let mut write = self.write().await?;
                Self::ensure_user_exists(&mut write.tx, key.user_id).await?;
                let created = Self::insert_api_key(&mut write.tx, &key).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: created, revision })
            }

            async fn get_api_key(&self, id: Id) -> Result<ApiKey> {
                let row: Option<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, user_id, display_name, create_time, expire_time, revoke_time FROM api_keys WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                row.map(ApiKey::from)
                    .ok_or_else(|| Error::NotFound(format!("API key {id} does not exist")))
            }

            async fn list_api_keys(&self, user_id: Id, include_revoked: bool) -> Result<Vec<ApiKey>> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::ensure_user_exists(&mut conn, user_id).await?;
                let rows: Vec<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, user_id, display_name, create_time, expire_time, revoke_time FROM api_keys \
                     WHERE user_id = $1 AND ($2 OR revoke_time IS NULL) ORDER BY id",
                )
                .bind(user_id)
                .bind(include_revoked)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(ApiKey::from).collect())
            }

            async fn revoke_api_key(&self, id: Id, audit: AuditRecord) -> Result<Committed<ApiKey>> {
                let mut write = self.write().await?;
                let row: Option<ApiKeyRow> = sqlx::query_as(
                    "UPDATE api_keys SET revoke_time = COALESCE(revoke_time, $2) WHERE id = $1 \
                     RETURNING id, user_id, display_name, create_time, expire_time, revoke_time",
                )
                .bind(id)
                .bind(DbTime(domain::now()))
                .fetch_optional(&mut *write.tx)
                .await
                .map_err(db_error)?;
                let key = row.ok_or_else(|| Error::NotFound(format!("API key {id} does not exist")))?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: key.into(), revision })
            }

            async fn list_audit_events(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Vec<AuditEvent>> {
                let after = match page.after.as_deref() {
                    Some(a) => a
                        .parse::<i64>()
                        .map_err(|_| Error::invalid("page_token", "is not a token this list returned"))?,
                    None => 0,
                };
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT sequence, id, time, actor_id, action, target_type, target_id, success, \
                     impersonation_user, details, prev_hash, hash FROM audit_events \
                     WHERE sequence > $1 \
                       AND ($2 IS NULL OR time >= $2) AND ($3 IS NULL OR time < $3) \
                       AND ($4 IS NULL OR actor_id = $4) AND ($5 IS NULL OR action = $5) \
                       AND ($6 IS NULL OR target_id = $6) \
                     ORDER BY sequence LIMIT $7",
                )
                .bind(after)
                .bind(filter.since.map(DbTime))
                .bind(filter.until.map(DbTime))
                .bind(filter.actor)
                .bind(filter.action.as_deref())
                .bind(filter.target.as_deref())
                .bind(page.size as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(AuditEvent::from).collect())
            }

            async fn audit_events_after(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT sequence, id, time, actor_id, action, target_type, target_id, success, \
                     impersonation_user, details, prev_hash, hash FROM audit_events \
                     WHERE sequence > $1 ORDER BY sequence LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(AuditEvent::from).collect())
            }

            async fn audit_head(&self) -> Result<(i64, String)> {
                sqlx::query_as("SELECT sequence, hash FROM audit_head")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error)
            }
        }

        sql_group_store!($store);
        sql_policy_store!($store);
    };
}
