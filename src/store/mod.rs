//! Persistence: the [`Store`] traits, implemented once in SQL by [`SqlStore`] over PostgreSQL or
//! SQLite.
//!
//! A newcomer's map. Each part of the store is a trait declared here and implemented, method by
//! method under the trait's own names, in the file of that part:
//!
//! | trait | file | its SQL |
//! |---|---|---|
//! | [`Store`] (ping, freshness) | `mod.rs` | |
//! | [`UserStore`] | `users.rs` (reading users: `user_rows.rs`) | `queries/users.rs` |
//! | [`ApiKeyStore`] | `api_keys.rs` | `queries/users.rs` |
//! | [`AuditStore`] | `audit.rs` | `queries/audit.rs` |
//! | [`GroupStore`] | `groups.rs` | `queries/groups.rs` |
//! | [`PolicyStore`] | `policy.rs` (roles: `roles.rs`) | `queries/policy.rs` |
//! | [`ImpersonationStore`] | `impersonation.rs` | `queries/impersonation.rs` |
//! | [`IamStore`] | `iams.rs` | `queries/iams.rs` |
//! | [`IamSyncStore`] | `iam_sync.rs` | `queries/iam_sync.rs` |
//!
//! Shared by several parts: `grants.rs` (who holds which permission, by which path; SQL in
//! `queries/policy.rs`), `attributes.rs`, `names.rs` (names unique among their kind),
//! `search.rs` (which index a user search reads). Every statement runs through `db.rs`, which
//! hands it to `postgres.rs` or `sqlite.rs` (connecting, column types, errors; their own
//! statements are `queries/postgres.rs` and `queries/sqlite.rs`). Every mutation runs in one
//! transaction that first takes the audit chain's head (`write.rs`), so mutations are
//! serialised, rule checks inside them see every earlier change, and each appends exactly one
//! audit event before it commits. At start-up `backfill.rs` fills the comparison keys of rows
//! older than them and `secret_keys.rs` checks the secret key against the store's;
//! `freshness.rs` is the revisions caches are checked against.

mod api_keys;
mod attributes;
mod audit;
mod backfill;
mod db;
mod freshness;
mod grants;
mod groups;
mod iam_sync;
mod iams;
mod impersonation;
mod names;
mod policy;
mod postgres;
mod queries;
mod roles;
mod search;
mod secret_keys;
mod sqlite;
mod user_rows;
mod users;
mod write;

use std::sync::Arc;

use async_trait::async_trait;

pub use db::Pool;
pub use freshness::{CacheKey, Consistency, EpochCache, Freshness};
pub use secret_keys::Rotation;

use crate::domain::{
    Id, Revision, Timestamp, Version,
    api_key::{ApiKey, StoredCredential},
    audit::{AuditEvent, AuditRecord},
    external::{ExternalUsername, Platform},
    group::{Group, GroupChanges, NewGroup},
    iam::{EndpointConfig, Iam, IamChanges, NewIam},
    impersonation::{
        CompiledPatterns, Facts, Integration, IntegrationSettings, NewSession, Session,
        SessionFilter, SessionId,
    },
    name::{AttributeName, Description},
    page::PageRequest,
    permission::PermissionName,
    policy::Grant,
    profile::{ExternalProfile, SyncChanges},
    role::{
        AssignmentFilter, AssignmentKey, NewRole, NewTenant, PermissionInfo, Role, RoleAssignment,
        RoleChanges, Settings, SettingsChanges, Tenant,
    },
    user::{Email, NewUser, User, UserChanges},
};
use crate::error::Result;
use crate::secrets::KeySource;

/// A change that committed, with the revision it committed at.
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub revision: Revision,
}

/// How GetUser names a user.
#[derive(Clone, Debug)]
pub enum UserKey {
    Id(Id),
    /// Matched by comparison key, so ignoring case.
    Username(String),
}

/// ListUsers' filters, validated.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// The comparison key of a substring of the full name, username or email.
    pub query: Option<String>,
    pub include_disabled: bool,
    pub group_id: Option<Id>,
    pub permission: Option<PermissionName>,
    pub iam_id: Option<Id>,
}

/// ListAuditEvents' filters, validated.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub actor: Option<Id>,
    pub action: Option<String>,
    pub target: Option<String>,
}

/// A key about to be stored: its secret only as a hash.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub id: Id,
    pub user_id: Id,
    pub display_name: String,
    pub secret_hash: Vec<u8>,
    pub expire_time: Option<Timestamp>,
}

/// A caller's credential and what it may do, as read at authentication time.
#[derive(Clone, Debug)]
pub struct Credential {
    pub stored: StoredCredential,
    pub permissions: Vec<String>,
}

/// A service account as a client certificate naming it authenticates: whether it is disabled,
/// and the permissions it holds everywhere.
#[derive(Clone, Debug)]
pub struct AccountCredential {
    pub user_id: Id,
    pub disabled: bool,
    pub permissions: Vec<String>,
}

/// Whether a sync batch writes its changes or only works them out.
#[derive(Debug)]
pub enum SyncApply {
    DryRun,
    /// Write them, with this audit event (its details become the changes).
    Commit(AuditRecord),
}

/// What a sync batch did: each user's changes, or why that user could not take them.
#[derive(Debug)]
pub struct SyncBatch {
    pub outcomes: Vec<(Id, Result<SyncChanges>)>,
    /// Set when the batch committed, which it does only when something changed.
    pub revision: Option<Revision>,
}

/// Held while a SyncAll runs; dropping it lets another start.
pub struct SyncLease {
    _local: iam_sync::LocalSync,
    _shared: db::SharedLock,
}

/// The whole store: every part's trait, and what concerns the store as a whole. Each part's
/// methods are implemented in the file of the same name (`UserStore` in `users.rs`,
/// `ApiKeyStore` in `api_keys.rs`, ...).
#[async_trait]
pub trait Store:
    UserStore
    + ApiKeyStore
    + AuditStore
    + GroupStore
    + PolicyStore
    + ImpersonationStore
    + IamStore
    + IamSyncStore
    + Send
    + Sync
    + 'static
{
    /// Fails when the database cannot be reached.
    async fn ping(&self) -> Result<()>;
    /// What this process knows of the store's revisions, for caches.
    fn freshness(&self) -> Arc<Freshness>;
}

/// Users: their names, attributes, external usernames and direct grants.
#[async_trait]
pub trait UserStore {
    /// Creates `admin` with every built-in permission and `key` if the store has no user yet;
    /// returns whether it did.
    async fn bootstrap(&self, admin: NewUser, key: NewApiKey) -> Result<bool>;

    async fn create_user(
        &self,
        id: Id,
        user: NewUser,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn get_user(&self, key: &UserKey) -> Result<User>;
    /// Returns up to `page.size + 1` users ordered by id, so the caller can tell whether another
    /// page follows.
    async fn list_users(&self, filter: &UserFilter, page: &PageRequest) -> Result<Vec<User>>;
    async fn update_user(
        &self,
        id: Id,
        etag: Version,
        changes: UserChanges,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn set_user_disabled(
        &self,
        id: Id,
        disabled: bool,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn delete_user(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>>;
    /// Moves a user to another IAM (renaming them when `new_username` is given), keeping what
    /// was granted here and dropping what the old IAM supplied: its authorizations and the
    /// group memberships it made.
    async fn migrate_user(
        &self,
        id: Id,
        target_iam: Id,
        new_username: Option<Email>,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn add_user_attribute(
        &self,
        id: Id,
        name: &AttributeName,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn remove_user_attribute_value(
        &self,
        id: Id,
        name: &AttributeName,
        value: &str,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn set_external_username(
        &self,
        id: Id,
        name: ExternalUsername,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn clear_external_username(
        &self,
        id: Id,
        platform: Platform,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn grant_permission(
        &self,
        id: Id,
        permission: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn revoke_permission(
        &self,
        id: Id,
        permission: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
}

/// API keys, and the credential authentication reads.
#[async_trait]
pub trait ApiKeyStore {
    /// What authentication needs of a key: its stored hash and validity, and the permissions
    /// its user holds everywhere.
    async fn credential(&self, key_id: Id) -> Result<Option<Credential>>;
    /// The service account whose username has the comparison key `username_key`, as a client
    /// certificate naming it authenticates; `None` when no service account has it (a person's
    /// name included).
    async fn account_credential(&self, username_key: &str) -> Result<Option<AccountCredential>>;

    /// Refused (FAILED_PRECONDITION) when the user already has `max_active` keys neither
    /// revoked nor expired; counted under the write lock, so concurrent creates cannot pass it.
    async fn create_api_key(
        &self,
        key: NewApiKey,
        max_active: u32,
        audit: AuditRecord,
    ) -> Result<Committed<ApiKey>>;
    async fn get_api_key(&self, id: Id) -> Result<ApiKey>;
    /// Up to `page.size + 1` of the user's keys ordered by id, revoked ones only when asked.
    async fn list_api_keys(
        &self,
        user_id: Id,
        include_revoked: bool,
        page: &PageRequest,
    ) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: Id, audit: AuditRecord) -> Result<Committed<ApiKey>>;
}

/// The audit log, and the usage counts kept beside it.
#[async_trait]
pub trait AuditStore {
    /// Up to `page.size + 1` events in sequence order.
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Vec<AuditEvent>>;
    /// Up to `limit` events with a sequence above `after`, in order; for chain verification.
    async fn audit_events_after(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>>;
    /// The sequence and hash of the last event appended, as the chain head records them.
    async fn audit_head(&self) -> Result<(i64, String)>;
    /// Appends events that record no change of their own (batched decisions), in one
    /// transaction.
    async fn append_audit_events(&self, records: Vec<AuditRecord>) -> Result<Revision>;
    /// The usage counts `(day, metric, count)` from `first_day` (YYYY-MM-DD) on.
    async fn usage_counts(&self, first_day: &str) -> Result<Vec<(String, String, i64)>>;
}

#[async_trait]
pub trait GroupStore {
    async fn create_group(
        &self,
        id: Id,
        group: NewGroup,
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    async fn get_group(&self, id: Id) -> Result<Group>;
    /// Up to `page.size + 1` groups ordered by id whose name or email contains `query` (a
    /// comparison key).
    async fn list_groups(&self, query: Option<&str>, page: &PageRequest) -> Result<Vec<Group>>;
    async fn update_group(
        &self,
        id: Id,
        etag: Version,
        changes: GroupChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    /// Deletes the group with its memberships, attributes and role assignments.
    async fn delete_group(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>>;
    /// Adds every user or none: an unknown id refuses the call and is named. Existing members
    /// are left as they are.
    async fn add_members(
        &self,
        id: Id,
        user_ids: &[Id],
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    async fn remove_member(
        &self,
        id: Id,
        user_id: Id,
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    /// Up to `page.size + 1` members (disabled ones too) ordered by id.
    async fn list_members(
        &self,
        id: Id,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<User>>;
    async fn add_group_attribute(
        &self,
        id: Id,
        name: &AttributeName,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    async fn remove_group_attribute_value(
        &self,
        id: Id,
        name: &AttributeName,
        value: &str,
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
}

/// Permissions, roles, tenants, assignments, effective permissions and settings.
#[async_trait]
pub trait PolicyStore {
    /// Up to `page.size + 1` permissions ordered by name.
    async fn list_permissions(&self, page: &PageRequest) -> Result<Vec<PermissionInfo>>;
    async fn create_permission(
        &self,
        name: &PermissionName,
        description: &Description,
        audit: AuditRecord,
    ) -> Result<Committed<PermissionInfo>>;
    /// Deletes a custom permission and every grant of it.
    async fn delete_permission(
        &self,
        name: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<()>>;

    async fn create_role(
        &self,
        id: Id,
        role: NewRole,
        audit: AuditRecord,
    ) -> Result<Committed<Role>>;
    async fn get_role(&self, id: Id) -> Result<Role>;
    async fn update_role(
        &self,
        id: Id,
        etag: Version,
        changes: RoleChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Role>>;
    async fn delete_role(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>>;
    /// Up to `page.size + 1` roles ordered by id.
    async fn list_roles(&self, page: &PageRequest) -> Result<Vec<Role>>;

    /// Binds the role; an existing identical binding is returned as it is.
    async fn assign_role(
        &self,
        id: Id,
        key: AssignmentKey,
        audit: AuditRecord,
    ) -> Result<Committed<RoleAssignment>>;
    async fn unassign_role(
        &self,
        key: AssignmentKey,
        audit: AuditRecord,
    ) -> Result<Committed<RoleAssignment>>;
    /// Up to `page.size + 1` assignments ordered by id.
    async fn list_role_assignments(
        &self,
        filter: &AssignmentFilter,
        page: &PageRequest,
    ) -> Result<Vec<RoleAssignment>>;

    async fn create_tenant(
        &self,
        id: Id,
        tenant: NewTenant,
        audit: AuditRecord,
    ) -> Result<Committed<Tenant>>;
    /// Up to `page.size + 1` tenants ordered by id.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Vec<Tenant>>;
    /// Deletes the tenant and the assignments scoped to it.
    async fn delete_tenant(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>>;

    /// Every path by which the user holds a permission, globally and, when given, within the
    /// tenant. A disabled user holds nothing.
    async fn effective_permissions(&self, user_id: Id, tenant_id: Option<Id>)
    -> Result<Vec<Grant>>;
    /// Fails with InvalidArgument when `name` is no permission.
    async fn ensure_permission(&self, name: &PermissionName) -> Result<()>;

    async fn get_settings(&self) -> Result<Settings>;
    async fn update_settings(
        &self,
        etag: Version,
        changes: SettingsChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Settings>>;
}

/// Integrations, the facts an impersonation decision reads, and sessions.
#[async_trait]
pub trait ImpersonationStore {
    /// Every platform's integration, in [`Platform::ALL`] order.
    async fn list_integrations(&self) -> Result<Vec<Integration>>;
    async fn get_integration(&self, platform: Platform) -> Result<Integration>;
    /// Replaces the integration's settings; the target groups must exist.
    async fn configure_integration(
        &self,
        platform: Platform,
        settings: IntegrationSettings,
        etag: Option<Version>,
        audit: AuditRecord,
    ) -> Result<Committed<Integration>>;
    /// What deciding whether `actor` may act as `target` on `platform` needs, read at once.
    async fn impersonation_facts(
        &self,
        platform: Platform,
        actor: &str,
        target: &str,
    ) -> Result<Facts>;
    async fn get_session(&self, session_id: &SessionId) -> Result<Session>;
    /// Records a session, with the users its actor and target resolve to now.
    async fn begin_impersonation(
        &self,
        id: Id,
        session: NewSession,
        audit: AuditRecord,
    ) -> Result<Committed<Session>>;
    /// Ends a session; an ended one is returned unchanged.
    async fn end_impersonation(
        &self,
        session_id: &SessionId,
        audit: AuditRecord,
    ) -> Result<Committed<Session>>;
    /// Up to `page.size + 1` sessions, newest first.
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Vec<Session>>;
}

/// Identity managers and their user-info endpoints.
#[async_trait]
pub trait IamStore {
    /// Up to `page.size + 1` IAMs in id order, the built-in one first.
    async fn list_iams(&self, page: &PageRequest) -> Result<Vec<Iam>>;
    async fn get_iam(&self, id: Id) -> Result<Iam>;
    /// Creates an IAM; its password, if any, is sealed under the secret key.
    async fn create_iam(&self, id: Id, iam: NewIam, audit: AuditRecord) -> Result<Committed<Iam>>;
    async fn update_iam(
        &self,
        id: Id,
        etag: Version,
        changes: IamChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Iam>>;
    /// Refused for the built-in IAM and while users belong to the IAM.
    async fn delete_iam(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>>;
    /// The IAM with its endpoint's settings, secrets opened, for calling it; FAILED_PRECONDITION
    /// when the IAM has no endpoint.
    async fn iam_endpoint(&self, id: Id) -> Result<(Iam, EndpointConfig)>;
}

/// Syncing users from their IAM: the users a SyncAll walks, the batches it writes, and the
/// lease that keeps two from running at once.
#[async_trait]
pub trait IamSyncStore {
    /// Up to `limit` users of IAM `iam` with ids above `after`, in id order: id and username.
    async fn iam_users(&self, iam: Id, after: Id, limit: i64) -> Result<Vec<(Id, String)>>;
    /// Applies the profiles IAM `iam` gave for its users in one transaction, with one audit
    /// event when anything changed (none otherwise); a user that cannot take its profile (gone,
    /// moved to another IAM, an external username another user holds) fails alone. A dry run
    /// only works the changes out.
    async fn sync_users(
        &self,
        iam: Id,
        profiles: Vec<(Id, ExternalProfile)>,
        apply: SyncApply,
    ) -> Result<SyncBatch>;
    /// Marks a SyncAll of IAM `iam` running until the lease is dropped; FAILED_PRECONDITION
    /// while one runs in this process or in another sharing the database.
    async fn lease_sync(&self, iam: Id) -> Result<SyncLease>;
}

/// The store over either database.
pub struct SqlStore {
    db: db::Database,
    secrets: secret_keys::Secrets,
    syncs: iam_sync::RunningSyncs,
    patterns: CompiledPatterns,
}

impl SqlStore {
    /// Opens the store a database URL names (`sqlite:` or `postgres://`) with no secret key;
    /// see [`SqlStore::open_with`].
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &KeySource::None).await
    }

    /// Opens the store a database URL names (`sqlite:` or `postgres://`), applies its
    /// migrations, fills the comparison keys of rows that predate them, and checks that the
    /// secret key `secret_key` gives is the store's.
    pub async fn open_with(url: &str, secret_key: &KeySource) -> Result<Self> {
        let (pool, process_lock) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                let pool = postgres::connect(url).await?;
                sqlx::migrate!("src/store/migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(|e| migration_error(e, "PostgreSQL"))?;
                (Pool::Postgres(pool), None)
            } else if url.starts_with("sqlite:") {
                let (pool, process_lock) = sqlite::connect(url).await?;
                sqlx::migrate!("src/store/migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(|e| migration_error(e, "SQLite"))?;
                (Pool::Sqlite(pool), process_lock)
            } else {
                return Err(crate::error::Error::invalid(
                    "database_url",
                    "must start with sqlite: or postgres://",
                ));
            };
        // On SQLite this process is the only one (`sqlite::ProcessLock`), so it hears every
        // commit: its own.
        let hearing = matches!(pool, Pool::Sqlite(_));
        let db = db::Database::new(pool, process_lock, Arc::new(Freshness::new(0, hearing)));
        backfill::fill_missing(&db).await?;
        let secrets = secret_keys::Secrets::open(&db, secret_key.clone()).await?;
        let store = Self {
            db,
            secrets,
            syncs: Default::default(),
            patterns: Default::default(),
        };
        let (head, _) = store.audit_head().await?;
        store.db.freshness.advance(head);
        if let Pool::Postgres(pool) = &store.db.pool {
            postgres::listen(pool.clone(), Arc::downgrade(&store.db.freshness));
        }
        Ok(store)
    }

    /// The database, for tests that must reach under the API (altering audit rows, say).
    pub fn pool(&self) -> &Pool {
        &self.db.pool
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        self.db.ping(PING_TIMEOUT).await
    }

    fn freshness(&self) -> Arc<Freshness> {
        self.db.freshness.clone()
    }
}

/// How long health waits for the database to answer before calling it unreachable.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

fn migration_error(error: sqlx::migrate::MigrateError, backend: &str) -> crate::error::Error {
    crate::error::Error::Internal(
        anyhow::Error::new(error).context(format!("applying {backend} migrations")),
    )
}

/// Opens the store a database URL names; see [`SqlStore::open_with`].
pub async fn open(url: &str, secret_key: &KeySource) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open_with(url, secret_key).await?))
}

/// Where each id of a page stands in it, to join the page's detail rows to its items.
struct PageIndex(std::collections::HashMap<Id, usize>);

impl PageIndex {
    fn new(ids: &[Id]) -> Self {
        Self(ids.iter().enumerate().map(|(i, id)| (*id, i)).collect())
    }

    /// The item with `id`; detail rows are read by the page's ids, so each has one.
    fn get<'a, T>(&self, items: &'a mut [T], id: Id) -> Option<&'a mut T> {
        self.0.get(&id).and_then(|&i| items.get_mut(i))
    }
}

/// A timestamp column: `timestamptz` on PostgreSQL, integer microseconds on SQLite (so that
/// stored times sort and compare as numbers). Each backend module decodes it.
#[derive(Clone, Copy, Debug)]
struct DbTime(Timestamp);
