//! Persistence: one [`Store`] trait, implemented once in SQL for PostgreSQL and SQLite.
//!
//! Every mutation runs in one transaction that first takes the audit chain's head (a row lock
//! on PostgreSQL, the write lock on SQLite), so mutations are serialised, rule checks inside
//! them see every earlier change, and each appends exactly one audit event before it commits.

#[macro_use]
mod sql;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::domain::{
    Id, Revision, Timestamp, Version,
    api_key::{ApiKey, StoredCredential},
    audit::{AuditEvent, AuditRecord},
    external::{ExternalUsername, Platform},
    group::{Group, GroupChanges, NewGroup},
    page::PageRequest,
    policy::Grant,
    role::{
        AssignmentFilter, AssignmentKey, NewRole, PermissionInfo, Role, RoleAssignment,
        RoleChanges, Settings, SettingsChanges, Tenant,
    },
    user::{NewUser, User, UserChanges},
};
use crate::error::{Error, Result};

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
    Username(String),
}

/// ListUsers' filters, validated.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Lower-cased substring of the full name or email.
    pub query: Option<String>,
    pub include_disabled: bool,
    pub group_id: Option<Id>,
    pub permission: Option<String>,
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

/// Users, their keys and direct grants, and the audit log; groups and policy are in the
/// supertraits.
#[async_trait]
pub trait Store: GroupStore + PolicyStore + Send + Sync + 'static {
    /// Fails when the database cannot be reached.
    async fn ping(&self) -> Result<()>;

    /// Creates `admin` with every built-in permission and `key` if the store has no user yet;
    /// returns whether it did.
    async fn bootstrap(&self, admin: NewUser, key: NewApiKey) -> Result<bool>;

    async fn credential(&self, key_id: Id) -> Result<Option<Credential>>;

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
    async fn add_user_attribute(
        &self,
        id: Id,
        name: &str,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn remove_user_attribute_value(
        &self,
        id: Id,
        name: &str,
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
        permission: &str,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;
    async fn revoke_permission(
        &self,
        id: Id,
        permission: &str,
        audit: AuditRecord,
    ) -> Result<Committed<User>>;

    async fn create_api_key(&self, key: NewApiKey, audit: AuditRecord)
    -> Result<Committed<ApiKey>>;
    async fn get_api_key(&self, id: Id) -> Result<ApiKey>;
    async fn list_api_keys(&self, user_id: Id, include_revoked: bool) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: Id, audit: AuditRecord) -> Result<Committed<ApiKey>>;

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
    /// Up to `page.size + 1` groups ordered by id whose name or email contains `query`
    /// (lower-cased).
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
        name: &str,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<Group>>;
    async fn remove_group_attribute_value(
        &self,
        id: Id,
        name: &str,
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
        name: &str,
        description: &str,
        audit: AuditRecord,
    ) -> Result<Committed<PermissionInfo>>;
    /// Deletes a custom permission and every grant of it.
    async fn delete_permission(&self, name: &str, audit: AuditRecord) -> Result<Committed<()>>;

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
        name: &str,
        description: &str,
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
    async fn ensure_permission(&self, name: &str) -> Result<()>;

    async fn get_settings(&self) -> Result<Settings>;
    async fn update_settings(
        &self,
        etag: Version,
        changes: SettingsChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Settings>>;
}

/// Opens the store a database URL names (`sqlite:` or `postgres:`) and applies its migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url).await?))
    } else {
        Err(Error::invalid(
            "database_url",
            "must start with sqlite: or postgres://",
        ))
    }
}

/// The error for a user id that names no user.
fn user_not_found(id: Id) -> Error {
    Error::NotFound(format!("user {id} does not exist"))
}
