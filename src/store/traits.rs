//! What the store offers: the [`Store`] traits, one per part of the store, and the values their
//! methods take and give. Each trait is implemented for `SqlStore` in the file of its part (the
//! table in `mod.rs`).

use std::sync::Arc;

use async_trait::async_trait;

use super::{db, iam_sync};
use crate::checks::Freshness;
use crate::domain::{
    Id, Revision, Timestamp, Version,
    api_key::{ApiKey, StoredCredential},
    audit::{AuditEvent, AuditRecord},
    client_certificate::CertificateUri,
    external::{ExternalUsername, Platform},
    group::{Group, GroupChanges, NewGroup},
    iam::{EndpointConfig, Iam, IamChanges, NewIam},
    impersonation::{
        Facts, Integration, IntegrationSettings, NewSession, Session, SessionFilter, SessionId,
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

/// A name in a client certificate that may identify a service account.
#[derive(Clone, Copy, Debug)]
pub enum CertificateName<'a> {
    /// An email subject alternative name, as its comparison key: the account's username.
    EmailKey(&'a str),
    /// A URI subject alternative name recorded on the account.
    Uri(&'a CertificateUri),
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
    pub(super) _local: iam_sync::LocalSync,
    pub(super) _shared: db::SharedLock,
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
    /// The service account a client certificate's name identifies, as the certificate
    /// authenticates; `None` when no service account has it (a person's name included).
    async fn account_credential(
        &self,
        name: CertificateName<'_>,
    ) -> Result<Option<AccountCredential>>;

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
    /// What deciding whether `actor` may act as `target` on `platform` needs, read from one snapshot.
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
