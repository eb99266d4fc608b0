//! Permissions, roles, tenants, assignments, effective permissions and settings.

use async_trait::async_trait;

use super::{
    Committed, DbTime, PolicyStore, SqlStore,
    db::{Conn, query},
    grants,
    groups::group_exists,
    names::{Named, ensure_name_free},
    queries::policy as sql,
    roles::{
        RoleRow, find_role, load_role, load_roles, refuse_built_in_role, set_role_permissions,
    },
    users::{ensure_permission_exists, user_exists, user_not_found},
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id, Version,
    audit::AuditRecord,
    name::{Description, Name},
    page::PageRequest,
    permission::PermissionName,
    policy::Grant,
    role::{
        AssignmentFilter, AssignmentKey, Grantee, NewRole, NewTenant, PermissionInfo, Role,
        RoleAssignment, RoleChanges, Settings, SettingsChanges, Tenant,
    },
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct PermissionRow {
    name: String,
    description: String,
    built_in: bool,
}

impl From<PermissionRow> for PermissionInfo {
    fn from(row: PermissionRow) -> Self {
        Self {
            name: row.name,
            description: row.description,
            built_in: row.built_in,
        }
    }
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Id,
    name: String,
    description: String,
    create_time: DbTime,
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            create_time: row.create_time.0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AssignmentRow {
    id: Id,
    role_id: Id,
    user_id: Option<Id>,
    group_id: Option<Id>,
    tenant_id: Option<Id>,
    create_time: DbTime,
}

impl TryFrom<AssignmentRow> for RoleAssignment {
    type Error = Error;

    fn try_from(row: AssignmentRow) -> Result<Self> {
        let grantee = match (row.user_id, row.group_id) {
            (Some(user), None) => Grantee::User(user),
            (None, Some(group)) => Grantee::Group(group),
            _ => {
                return Err(Error::internal(format!(
                    "role assignment {} has no single grantee",
                    row.id
                )));
            }
        };
        Ok(Self {
            id: row.id,
            key: AssignmentKey {
                grantee,
                role_id: row.role_id,
                tenant_id: row.tenant_id,
            },
            create_time: row.create_time.0,
        })
    }
}

/// The grantee as the user and group columns of an assignment.
fn grantee_columns(grantee: Option<Grantee>) -> (Option<Id>, Option<Id>) {
    match grantee {
        Some(Grantee::User(id)) => (Some(id), None),
        Some(Grantee::Group(id)) => (None, Some(id)),
        None => (None, None),
    }
}

async fn find_assignment(
    conn: &mut Conn<'_>,
    key: &AssignmentKey,
) -> Result<Option<RoleAssignment>> {
    let (user, group) = grantee_columns(Some(key.grantee));
    let row: Option<AssignmentRow> = conn
        .fetch_optional(
            query(sql::ASSIGNMENT)
                .bind(key.role_id)
                .bind(user)
                .bind(group)
                .bind(key.tenant_id),
        )
        .await?;
    row.map(RoleAssignment::try_from).transpose()
}

pub(super) async fn tenant_exists(conn: &mut Conn<'_>, id: Id) -> Result<bool> {
    let found: Option<(Id,)> = conn
        .fetch_optional(query(sql::TENANT_EXISTS).bind(id))
        .await?;
    Ok(found.is_some())
}

pub(super) fn tenant_not_found(field: &str, id: Id) -> Error {
    Error::NotFound(format!("{field}: tenant {id} does not exist"))
}

async fn load_settings(conn: &mut Conn<'_>) -> Result<Settings> {
    let (exclusive, version): (bool, i64) = conn.fetch_one(query(sql::SETTINGS)).await?;
    let defaults: Vec<(String,)> = conn.fetch_all(query(sql::DEFAULT_PERMISSIONS)).await?;
    Ok(Settings {
        default_permissions: defaults.into_iter().map(|(p,)| p).collect(),
        admins_and_governors_mutually_exclusive: exclusive,
        version: Version(version),
    })
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn list_permissions(&self, page: &PageRequest) -> Result<Vec<PermissionInfo>> {
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<PermissionRow> = pooled
            .conn()
            .fetch_all(
                query(sql::LIST_PERMISSIONS)
                    .bind(page.after.as_deref())
                    .bind(page.limit()),
            )
            .await?;
        Ok(rows.into_iter().map(PermissionInfo::from).collect())
    }

    async fn create_permission(
        &self,
        name: &PermissionName,
        description: &Description,
        audit: AuditRecord,
    ) -> Result<Committed<PermissionInfo>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let existing: Option<PermissionRow> = conn
            .fetch_optional(query(sql::PERMISSION).bind(name.as_str()))
            .await?;
        if let Some(existing) = existing {
            let kind = if existing.built_in {
                "a built-in"
            } else {
                "a custom"
            };
            return Err(Error::AlreadyExists(format!(
                "name: {name} is already {kind} permission"
            )));
        }
        let row: PermissionRow = conn
            .fetch_one(
                query(sql::INSERT_PERMISSION)
                    .bind(name.as_str())
                    .bind(description.as_str()),
            )
            .await?;
        // A new permission is held by no one: no answer read before depends on it.
        write.finish(row.into(), audit, Touched::nothing()).await
    }

    async fn delete_permission(
        &self,
        name: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let existing: Option<PermissionRow> = conn
            .fetch_optional(query(sql::PERMISSION).bind(name.as_str()))
            .await?;
        match existing {
            None => {
                return Err(Error::NotFound(format!(
                    "name: permission {name} does not exist"
                )));
            }
            Some(row) if row.built_in => {
                return Err(Error::FailedPrecondition(format!(
                    "name: {name} is a built-in permission and cannot be deleted"
                )));
            }
            Some(_) => {}
        }
        conn.execute(query(sql::DELETE_PERMISSION).bind(name.as_str()))
            .await?;
        // Its grants go with it, from everyone holding it.
        write.finish((), audit, Touched::everything()).await
    }

    async fn create_role(
        &self,
        id: Id,
        role: NewRole,
        audit: AuditRecord,
    ) -> Result<Committed<Role>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        ensure_name_free(&mut conn, Named::Role, "name", &role.name, None).await?;
        let permissions = role.permissions.iter().map(PermissionName::as_str);
        grants::ensure_caller_may_pass(
            &mut conn,
            audit.actor_id,
            permissions,
            "the role",
            grants::Passing::HandsOut,
        )
        .await?;
        conn.execute(
            query(sql::INSERT_ROLE)
                .bind(id)
                .bind(role.name.as_str())
                .bind(role.name.key().as_str())
                .bind(role.description.as_str())
                .bind(domain::now()),
        )
        .await?;
        set_role_permissions(&mut conn, id, &role.permissions).await?;
        let created = load_role(&mut conn, id).await?;
        // A new role is assigned to no one.
        write.finish(created, audit, Touched::nothing()).await
    }

    async fn get_role(&self, id: Id) -> Result<Role> {
        let mut pooled = self.db.acquire().await?;
        load_role(&mut pooled.conn(), id).await
    }

    async fn update_role(
        &self,
        id: Id,
        etag: Version,
        changes: RoleChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Role>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let role = refuse_built_in_role(&mut conn, id, "changed").await?;
        etag.ensure_current(role.version, &format!("role {id}"))?;
        if let Some(name) = &changes.name {
            ensure_name_free(&mut conn, Named::Role, "role.name", name, Some(id)).await?;
        }
        let name_key = changes.name.as_ref().map(Name::key);
        conn.execute(
            query(sql::UPDATE_ROLE)
                .bind(id)
                .bind(changes.name.as_ref().map(Name::as_str))
                .bind(name_key.as_deref())
                .bind(changes.description.as_ref().map(Description::as_str))
                .bind(domain::now()),
        )
        .await?;
        if let Some(permissions) = &changes.permissions {
            let added = permissions
                .iter()
                .map(PermissionName::as_str)
                .filter(|p| !role.permissions.iter().any(|held| held == p));
            let doing = format!("changing role {id}");
            grants::ensure_caller_may_pass(
                &mut conn,
                audit.actor_id,
                added,
                &doing,
                grants::Passing::HandsOut,
            )
            .await?;
            set_role_permissions(&mut conn, id, permissions).await?;
        }
        let updated = load_role(&mut conn, id).await?;
        // Its permissions reach every user it is assigned to, directly or through groups.
        write.finish(updated, audit, Touched::everything()).await
    }

    async fn delete_role(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        refuse_built_in_role(&mut conn, id, "deleted").await?;
        conn.execute(query(sql::DELETE_ROLE).bind(id)).await?;
        write.finish((), audit, Touched::everything()).await
    }

    async fn list_roles(&self, page: &PageRequest) -> Result<Vec<Role>> {
        let after = page.after_id()?;
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        let rows: Vec<RoleRow> = conn
            .fetch_all(query(sql::LIST_ROLES).bind(after).bind(page.limit()))
            .await?;
        load_roles(&mut conn, rows).await
    }

    async fn assign_role(
        &self,
        id: Id,
        key: AssignmentKey,
        audit: AuditRecord,
    ) -> Result<Committed<RoleAssignment>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let Some(role) = find_role(&mut conn, key.role_id).await? else {
            return Err(Error::NotFound(format!(
                "role_id: role {} does not exist",
                key.role_id
            )));
        };
        let permissions = role.permissions.iter().map(String::as_str);
        let doing = format!("assigning role {:?}", role.name);
        grants::ensure_caller_may_pass(
            &mut conn,
            audit.actor_id,
            permissions,
            &doing,
            grants::Passing::HandsOut,
        )
        .await?;
        match key.grantee {
            Grantee::User(user) => {
                if !user_exists(&mut conn, user).await? {
                    return Err(Error::NotFound(format!(
                        "user_id: {}",
                        user_not_found(user)
                    )));
                }
            }
            Grantee::Group(group) => {
                if !group_exists(&mut conn, group).await? {
                    return Err(Error::NotFound(format!(
                        "group_id: group {group} does not exist"
                    )));
                }
            }
        }
        if let Some(tenant) = key.tenant_id
            && !tenant_exists(&mut conn, tenant).await?
        {
            return Err(tenant_not_found("tenant_id", tenant));
        }
        let assignment = match find_assignment(&mut conn, &key).await? {
            Some(existing) => existing,
            None => {
                let (user, group) = grantee_columns(Some(key.grantee));
                let row: AssignmentRow = conn
                    .fetch_one(
                        query(sql::INSERT_ASSIGNMENT)
                            .bind(id)
                            .bind(key.role_id)
                            .bind(user)
                            .bind(group)
                            .bind(key.tenant_id)
                            .bind(domain::now()),
                    )
                    .await?;
                RoleAssignment::try_from(row)?
            }
        };
        let touched = grantee_touched(&mut conn, key.grantee).await?;
        write.finish(assignment, audit, touched).await
    }

    async fn unassign_role(
        &self,
        key: AssignmentKey,
        audit: AuditRecord,
    ) -> Result<Committed<RoleAssignment>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let assignment = find_assignment(&mut conn, &key).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "role_id: role {} is not assigned that way",
                key.role_id
            ))
        })?;
        let role = load_role(&mut conn, key.role_id).await?;
        let permissions = role.permissions.iter().map(String::as_str);
        let doing = format!("unassigning role {:?}", role.name);
        grants::ensure_caller_may_pass(
            &mut conn,
            audit.actor_id,
            permissions,
            &doing,
            grants::Passing::TakesAway,
        )
        .await?;
        conn.execute(query(sql::DELETE_ASSIGNMENT).bind(assignment.id))
            .await?;
        let touched = grantee_touched(&mut conn, key.grantee).await?;
        write.finish(assignment, audit, touched).await
    }

    async fn list_role_assignments(
        &self,
        filter: &AssignmentFilter,
        page: &PageRequest,
    ) -> Result<Vec<RoleAssignment>> {
        let after = page.after_id()?;
        let (user, group) = grantee_columns(filter.grantee);
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<AssignmentRow> = pooled
            .conn()
            .fetch_all(
                query(sql::LIST_ASSIGNMENTS)
                    .bind(user)
                    .bind(group)
                    .bind(filter.role_id)
                    .bind(filter.tenant_id)
                    .bind(after)
                    .bind(page.limit()),
            )
            .await?;
        rows.into_iter().map(RoleAssignment::try_from).collect()
    }

    async fn create_tenant(
        &self,
        id: Id,
        tenant: NewTenant,
        audit: AuditRecord,
    ) -> Result<Committed<Tenant>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        ensure_name_free(&mut conn, Named::Tenant, "name", &tenant.name, None).await?;
        let row: TenantRow = conn
            .fetch_one(
                query(sql::INSERT_TENANT)
                    .bind(id)
                    .bind(tenant.name.as_str())
                    .bind(tenant.name.key().as_str())
                    .bind(tenant.description.as_str())
                    .bind(domain::now()),
            )
            .await?;
        // A new tenant scopes no assignment yet.
        write.finish(row.into(), audit, Touched::nothing()).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Vec<Tenant>> {
        let after = page.after_id()?;
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<TenantRow> = pooled
            .conn()
            .fetch_all(query(sql::LIST_TENANTS).bind(after).bind(page.limit()))
            .await?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn delete_tenant(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let deleted = write
            .conn()
            .execute(query(sql::DELETE_TENANT).bind(id))
            .await?;
        if deleted == 0 {
            return Err(tenant_not_found("id", id));
        }
        // Its assignments go with it, from users and groups alike.
        write.finish((), audit, Touched::everything()).await
    }

    async fn effective_permissions(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
    ) -> Result<Vec<Grant>> {
        let mut pooled = self.db.acquire().await?;
        grants::effective(&mut pooled.conn(), user_id, tenant_id).await
    }

    async fn ensure_permission(&self, name: &PermissionName) -> Result<()> {
        let mut pooled = self.db.acquire().await?;
        ensure_permission_exists(&mut pooled.conn(), "permission", name).await
    }

    async fn get_settings(&self) -> Result<Settings> {
        let mut pooled = self.db.acquire().await?;
        load_settings(&mut pooled.conn()).await
    }

    async fn update_settings(
        &self,
        etag: Version,
        changes: SettingsChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Settings>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let current = load_settings(&mut conn).await?;
        etag.ensure_current(current.version, "the settings")?;
        if let Some(permissions) = &changes.default_permissions {
            conn.execute(query(sql::CLEAR_DEFAULT_PERMISSIONS)).await?;
            for name in permissions {
                ensure_permission_exists(&mut conn, "settings.default_permissions", name).await?;
                conn.execute(query(sql::ADD_DEFAULT_PERMISSION).bind(name.as_str()))
                    .await?;
            }
        }
        conn.execute(
            query(sql::UPDATE_SETTINGS).bind(changes.admins_and_governors_mutually_exclusive),
        )
        .await?;
        let updated = load_settings(&mut conn).await?;
        write.finish(updated, audit, Touched::everything()).await
    }
}

/// What changing the grantee's role assignments touches: the user, or each member of the group.
async fn grantee_touched(conn: &mut Conn<'_>, grantee: Grantee) -> Result<Touched> {
    match grantee {
        Grantee::User(user) => Ok(Touched::of([Topic::User(user)])),
        Grantee::Group(group) => super::groups::members_touched(conn, group).await,
    }
}
