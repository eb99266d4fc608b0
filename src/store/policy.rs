//! Permissions, roles, tenants, assignments, effective permissions and settings.

use async_trait::async_trait;

use super::{
    Committed, DbTime, PageIndex, PolicyStore, SqlStore,
    db::{Conn, query},
    groups::group_exists,
    names::{Named, ensure_name_free},
    queries::policy as sql,
    users::{ensure_permission_exists, user_exists, user_not_found},
    write::Write,
};
use crate::domain::{
    self, Id, Version,
    audit::AuditRecord,
    name::{Description, Name},
    page::PageRequest,
    permission::{self, PermissionName},
    policy::{AdminGrant, Grant, Source},
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
struct RoleRow {
    id: Id,
    name: String,
    description: String,
    built_in: bool,
    create_time: DbTime,
    update_time: DbTime,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct RolePermissionRow {
    role_id: Id,
    permission: String,
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

#[derive(sqlx::FromRow)]
struct DirectGrantRow {
    user_id: Id,
    permission: String,
}

#[derive(sqlx::FromRow)]
struct RoleGrantRow {
    user_id: Id,
    permission: String,
    role_id: Id,
    tenant_id: Option<Id>,
    /// Set when the role reaches the user through a group.
    group_id: Option<Id>,
}

fn grants(direct: Vec<DirectGrantRow>, through_roles: Vec<RoleGrantRow>) -> Vec<AdminGrant> {
    let direct = direct.into_iter().map(|row| AdminGrant {
        user_id: row.user_id,
        grant: Grant {
            permission: row.permission,
            source: Source::Direct,
        },
    });
    let through_roles = through_roles.into_iter().map(|row| AdminGrant {
        user_id: row.user_id,
        grant: Grant {
            permission: row.permission,
            source: match row.group_id {
                None => Source::Role {
                    role_id: row.role_id,
                    tenant_id: row.tenant_id,
                },
                Some(group_id) => Source::Group {
                    group_id,
                    role_id: row.role_id,
                    tenant_id: row.tenant_id,
                },
            },
        },
    });
    direct.chain(through_roles).collect()
}

/// Every grant of APPLICATION_ADMIN or GOVERNANCE, in every scope, to any user.
pub(super) async fn admin_and_governor_grants(conn: &mut Conn<'_>) -> Result<Vec<AdminGrant>> {
    let direct: Vec<DirectGrantRow> = conn
        .fetch_all(
            query(sql::DIRECT_ADMIN_GRANTS)
                .bind(permission::APPLICATION_ADMIN)
                .bind(permission::GOVERNANCE),
        )
        .await?;
    let through_roles: Vec<RoleGrantRow> = conn
        .fetch_all(
            query(sql::ROLE_ADMIN_GRANTS)
                .bind(permission::APPLICATION_ADMIN)
                .bind(permission::GOVERNANCE),
        )
        .await?;
    Ok(grants(direct, through_roles))
}

/// Reads the permissions of a page of roles and joins them to the rows.
async fn load_roles(conn: &mut Conn<'_>, rows: Vec<RoleRow>) -> Result<Vec<Role>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let permissions: Vec<RolePermissionRow> = conn
        .fetch_all(query(sql::ROLE_PERMISSIONS_OF).bind(&ids[..]))
        .await?;
    let mut roles: Vec<Role> = rows
        .into_iter()
        .map(|row| Role {
            id: row.id,
            name: row.name,
            description: row.description,
            permissions: Vec::new(),
            built_in: row.built_in,
            create_time: row.create_time.0,
            update_time: row.update_time.0,
            version: Version(row.version),
        })
        .collect();
    let index = PageIndex::new(&ids);
    for row in permissions {
        if let Some(role) = index.get(&mut roles, row.role_id) {
            role.permissions.push(row.permission);
        }
    }
    Ok(roles)
}

/// The role, or `None` when `id` names none.
async fn find_role(conn: &mut Conn<'_>, id: Id) -> Result<Option<Role>> {
    let row: Option<RoleRow> = conn.fetch_optional(query(sql::ROLE).bind(id)).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(load_roles(conn, vec![row]).await?.pop())
}

fn role_not_found(id: Id) -> Error {
    Error::NotFound(format!("role {id} does not exist"))
}

async fn load_role(conn: &mut Conn<'_>, id: Id) -> Result<Role> {
    find_role(conn, id).await?.ok_or_else(|| role_not_found(id))
}

async fn set_role_permissions(
    conn: &mut Conn<'_>,
    id: Id,
    permissions: &[PermissionName],
) -> Result<()> {
    conn.execute(query(sql::CLEAR_ROLE_PERMISSIONS).bind(id))
        .await?;
    for name in permissions {
        ensure_permission_exists(conn, "permissions", name).await?;
        conn.execute(query(sql::ADD_ROLE_PERMISSION).bind(id).bind(name.as_str()))
            .await?;
    }
    Ok(())
}

async fn refuse_built_in_role(conn: &mut Conn<'_>, id: Id, change: &str) -> Result<Role> {
    let role = load_role(conn, id).await?;
    if role.built_in {
        return Err(Error::FailedPrecondition(format!(
            "role {id} ({}) is built in and cannot be {change}; create a custom role instead",
            role.name
        )));
    }
    Ok(role)
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

async fn tenant_exists(conn: &mut Conn<'_>, id: Id) -> Result<bool> {
    let found: Option<(Id,)> = conn
        .fetch_optional(query(sql::TENANT_EXISTS).bind(id))
        .await?;
    Ok(found.is_some())
}

fn tenant_not_found(field: &str, id: Id) -> Error {
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
        write.finish(row.into(), audit).await
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
        write.finish((), audit).await
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
        write.finish(created, audit).await
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
            set_role_permissions(&mut conn, id, permissions).await?;
        }
        let updated = load_role(&mut conn, id).await?;
        write.finish(updated, audit).await
    }

    async fn delete_role(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        refuse_built_in_role(&mut conn, id, "deleted").await?;
        conn.execute(query(sql::DELETE_ROLE).bind(id)).await?;
        write.finish((), audit).await
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
        if find_role(&mut conn, key.role_id).await?.is_none() {
            return Err(Error::NotFound(format!(
                "role_id: role {} does not exist",
                key.role_id
            )));
        }
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
        write.finish(assignment, audit).await
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
        conn.execute(query(sql::DELETE_ASSIGNMENT).bind(assignment.id))
            .await?;
        write.finish(assignment, audit).await
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
        write.finish(row.into(), audit).await
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
        write.finish((), audit).await
    }

    async fn effective_permissions(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
    ) -> Result<Vec<Grant>> {
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        // Only what the answer needs: checks are the hot path, so no full user load.
        let disabled: Option<(bool,)> = conn
            .fetch_optional(query(sql::USER_DISABLED).bind(user_id))
            .await?;
        let (disabled,) = disabled.ok_or_else(|| user_not_found(user_id))?;
        if let Some(tenant) = tenant_id
            && !tenant_exists(&mut conn, tenant).await?
        {
            return Err(tenant_not_found("tenant_id", tenant));
        }
        if disabled {
            return Ok(Vec::new());
        }
        let direct: Vec<DirectGrantRow> = conn
            .fetch_all(query(sql::DIRECT_GRANTS_OF).bind(user_id))
            .await?;
        let mut through_roles: Vec<RoleGrantRow> = conn
            .fetch_all(query(sql::ROLE_GRANTS_OF).bind(user_id).bind(tenant_id))
            .await?;
        let through_groups: Vec<RoleGrantRow> = conn
            .fetch_all(query(sql::GROUP_GRANTS_OF).bind(user_id).bind(tenant_id))
            .await?;
        through_roles.extend(through_groups);
        Ok(grants(direct, through_roles)
            .into_iter()
            .map(|g| g.grant)
            .collect())
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
        write.finish(updated, audit).await
    }
}
