//! Permissions, roles, tenants, assignments, effective permissions and settings, for both
//! backends: expanded by [`sql_store!`] into each backend module.

use crate::domain::{
    Id, Version,
    policy::{AdminGrant, Grant, Source},
    role::{AssignmentKey, Grantee, PermissionInfo, Role, RoleAssignment, Tenant},
};
use crate::error::{Error, Result};

use super::DbTime;

#[derive(sqlx::FromRow)]
pub(in crate::store) struct PermissionRow {
    pub name: String,
    pub description: String,
    pub built_in: bool,
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
pub(in crate::store) struct RoleRow {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub built_in: bool,
    pub create_time: DbTime,
    pub update_time: DbTime,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
pub(in crate::store) struct RolePermissionRow {
    pub role_id: Id,
    pub permission: String,
}

pub(in crate::store) fn assemble_roles(
    rows: Vec<RoleRow>,
    permissions: Vec<RolePermissionRow>,
) -> Vec<Role> {
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
    for row in permissions {
        if let Some(role) = roles.iter_mut().find(|r| r.id == row.role_id) {
            role.permissions.push(row.permission);
        }
    }
    roles
}

#[derive(sqlx::FromRow)]
pub(in crate::store) struct TenantRow {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub create_time: DbTime,
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
pub(in crate::store) struct AssignmentRow {
    pub id: Id,
    pub role_id: Id,
    pub user_id: Option<Id>,
    pub group_id: Option<Id>,
    pub tenant_id: Option<Id>,
    pub create_time: DbTime,
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
pub(in crate::store) struct DirectGrantRow {
    pub user_id: Id,
    pub permission: String,
}

#[derive(sqlx::FromRow)]
pub(in crate::store) struct RoleGrantRow {
    pub user_id: Id,
    pub permission: String,
    pub role_id: Id,
    pub tenant_id: Option<Id>,
    /// Set when the role reaches the user through a group.
    pub group_id: Option<Id>,
}

pub(in crate::store) fn grants(
    direct: Vec<DirectGrantRow>,
    through_roles: Vec<RoleGrantRow>,
) -> Vec<AdminGrant> {
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

macro_rules! sql_policy_store {
    ($store:ident) => {
        use $crate::domain::{
            policy::{AdminGrant, Grant},
            role::{
                AssignmentFilter, AssignmentKey, Grantee, NewRole, PermissionInfo, Role, RoleAssignment, RoleChanges,
                Settings, SettingsChanges, Tenant,
            },
        };
        use $crate::store::PolicyStore;
        use $crate::store::sql::policy::{
            AssignmentRow, DirectGrantRow, PermissionRow, RoleGrantRow, RolePermissionRow, RoleRow, TenantRow,
            assemble_roles, grants,
        };

        fn role_not_found(id: Id) -> Error {
            Error::NotFound(format!("role {id} does not exist"))
        }

        impl $store {
            /// Grants through roles: assigned to the user, or to a group the user is in.
            /// `user` and `permissions` narrow the rows; `tenant`, when given, adds the grants
            /// scoped to it to those held everywhere, and `all_tenants` takes every scope.
            async fn role_grants(
                conn: &mut Conn,
                user: Option<Id>,
                permissions: Option<(&str, &str)>,
                tenant: Option<Id>,
                all_tenants: bool,
            ) -> Result<Vec<RoleGrantRow>> {
                let (first, second) = permissions.unzip();
                let mut rows: Vec<RoleGrantRow> = sqlx::query_as(
                    "SELECT ra.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id \
                     FROM role_assignments ra JOIN role_permissions rp ON rp.role_id = ra.role_id \
                     WHERE ra.user_id IS NOT NULL AND ($1 IS NULL OR ra.user_id = $1) \
                       AND ($2 IS NULL OR rp.permission = $2 OR rp.permission = $3) \
                       AND ($5 OR ra.tenant_id IS NULL OR ra.tenant_id = $4)",
                )
                .bind(user)
                .bind(first)
                .bind(second)
                .bind(tenant)
                .bind(all_tenants)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                let through_groups: Vec<RoleGrantRow> = sqlx::query_as(
                    "SELECT gm.user_id AS user_id, rp.permission, ra.role_id, ra.tenant_id, ra.group_id \
                     FROM group_members gm \
                     JOIN role_assignments ra ON ra.group_id = gm.group_id \
                     JOIN role_permissions rp ON rp.role_id = ra.role_id \
                     WHERE ($1 IS NULL OR gm.user_id = $1) \
                       AND ($2 IS NULL OR rp.permission = $2 OR rp.permission = $3) \
                       AND ($5 OR ra.tenant_id IS NULL OR ra.tenant_id = $4)",
                )
                .bind(user)
                .bind(first)
                .bind(second)
                .bind(tenant)
                .bind(all_tenants)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                rows.extend(through_groups);
                Ok(rows)
            }

            /// Every grant of APPLICATION_ADMIN or GOVERNANCE, in every scope, to any user.
            async fn admin_and_governor_grants(conn: &mut Conn) -> Result<Vec<AdminGrant>> {
                let direct: Vec<DirectGrantRow> = sqlx::query_as(
                    "SELECT user_id, permission FROM user_permissions WHERE permission = $1 OR permission = $2",
                )
                .bind(permission::APPLICATION_ADMIN)
                .bind(permission::GOVERNANCE)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                let through_roles = Self::role_grants(
                    conn,
                    None,
                    Some((permission::APPLICATION_ADMIN, permission::GOVERNANCE)),
                    None,
                    true,
                )
                .await?;
                Ok(grants(direct, through_roles))
            }

            async fn load_roles(conn: &mut Conn, rows: Vec<RoleRow>) -> Result<Vec<Role>> {
                let (Some(first), Some(last)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else {
                    return Ok(Vec::new());
                };
                let permissions: Vec<RolePermissionRow> = sqlx::query_as(
                    "SELECT role_id, permission FROM role_permissions \
                     WHERE role_id BETWEEN $1 AND $2 ORDER BY role_id, permission",
                )
                .bind(first.min(last))
                .bind(first.max(last))
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Ok(assemble_roles(rows, permissions))
            }

            async fn load_role(conn: &mut Conn, id: Id) -> Result<Role> {
                let row: Option<RoleRow> = sqlx::query_as(
                    "SELECT id, name, description, built_in, create_time, update_time, version FROM roles WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?;
                let row = row.ok_or_else(|| role_not_found(id))?;
                Ok(Self::load_roles(conn, vec![row]).await?.remove(0))
            }

            async fn set_role_permissions(conn: &mut Conn, id: Id, permissions: &[String]) -> Result<()> {
                sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_error)?;
                for name in permissions {
                    Self::ensure_permission_exists(conn, name).await.map_err(|_| {
                        Error::invalid("permissions", format!("{name:?} is not a known permission"))
                    })?;
                    sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
                        .bind(id)
                        .bind(name)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }

            async fn refuse_built_in_role(conn: &mut Conn, id: Id, change: &str) -> Result<Role> {
                let role = Self::load_role(conn, id).await?;
                if role.built_in {
                    return Err(Error::FailedPrecondition(format!(
                        "role {id} ({}) is built in and cannot be {change}; create a custom role instead",
                        role.name
                    )));
                }
                Ok(role)
            }

            async fn find_assignment(conn: &mut Conn, key: &AssignmentKey) -> Result<Option<RoleAssignment>> {
                let (user, group) = match key.grantee {
                    Grantee::User(id) => (Some(id), None),
                    Grantee::Group(id) => (None, Some(id)),
                };
                let row: Option<AssignmentRow> = sqlx::query_as(
                    "SELECT id, role_id, user_id, group_id, tenant_id, create_time FROM role_assignments \
                     WHERE role_id = $1 \
                       AND (user_id = $2 OR (user_id IS NULL AND $2 IS NULL)) \
                       AND (group_id = $3 OR (group_id IS NULL AND $3 IS NULL)) \
                       AND (tenant_id = $4 OR (tenant_id IS NULL AND $4 IS NULL))",
                )
                .bind(key.role_id)
                .bind(user)
                .bind(group)
                .bind(key.tenant_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error)?;
                row.map(RoleAssignment::try_from).transpose()
            }

            async fn ensure_tenant_exists(conn: &mut Conn, field: &str, id: Id) -> Result<()> {
                let found: Option<(Id,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                found
                    .map(|_| ())
                    .ok_or_else(|| Error::NotFound(format!("{field}: tenant {id} does not exist")))
            }

            async fn load_settings(conn: &mut Conn) -> Result<Settings> {
                let (exclusive, version): (bool, i64) =
                    sqlx::query_as("SELECT admins_and_governors_mutually_exclusive, version FROM settings")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_error)?;
                let defaults: Vec<(String,)> =
                    sqlx::query_as("SELECT permission FROM default_permissions ORDER BY permission")
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_error)?;
                Ok(Settings {
                    default_permissions: defaults.into_iter().map(|(p,)| p).collect(),
                    admins_and_governors_mutually_exclusive: exclusive,
                    version: Version(version),
                })
            }
        }

        #[async_trait]
        impl PolicyStore for $store {
            async fn list_permissions(&self, page: &PageRequest) -> Result<Vec<PermissionInfo>> {
                let rows: Vec<PermissionRow> = sqlx::query_as(
                    "SELECT name, description, built_in FROM permissions \
                     WHERE ($1 IS NULL OR name > $1) ORDER BY name LIMIT $2",
                )
                .bind(page.after.as_deref())
                .bind(page.size as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(PermissionInfo::from).collect())
            }

            async fn create_permission(&self, name: &str, description: &str, audit: AuditRecord) -> Result<Committed<PermissionInfo>> {
                let mut write = self.write().await?;
                let existing: Option<PermissionRow> =
                    sqlx::query_as("SELECT name, description, built_in FROM permissions WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *write.tx)
                        .await
                        .map_err(db_error)?;
                if let Some(existing) = existing {
                    let kind = if existing.built_in { "a built-in" } else { "a custom" };
                    return Err(Error::AlreadyExists(format!("name: {name} is already {kind} permission")));
                }
                let row: PermissionRow = sqlx::query_as(
                    "INSERT INTO permissions (name, description, built_in) VALUES ($1, $2, false) \
                     RETURNING name, description, built_in",
                )
                .bind(name)
                .bind(description)
                .fetch_one(&mut *write.tx)
                .await
                .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: row.into(), revision })
            }

            async fn delete_permission(&self, name: &str, audit: AuditRecord) -> Result<Committed<()>> {
                let mut write = self.write().await?;
                let existing: Option<(bool,)> = sqlx::query_as("SELECT built_in FROM permissions WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                match existing {
                    None => return Err(Error::NotFound(format!("name: permission {name} does not exist"))),
                    Some((true,)) => {
                        return Err(Error::FailedPrecondition(format!(
                            "name: {name} is a built-in permission and cannot be deleted"
                        )));
                    }
                    Some((false,)) => {}
                }
                // Grants to users and roles and the default for new users go with it.
                sqlx::query("DELETE FROM permissions WHERE name = $1")
                    .bind(name)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: (), revision })
            }

            async fn create_role(&self, id: Id, role: NewRole, audit: AuditRecord) -> Result<Committed<Role>> {
                let mut write = self.write().await?;
                Self::ensure_name_free(&mut write.tx, Named::Role, "name", &role.name, None).await?;
                let now = DbTime(domain::now());
                sqlx::query(
                    "INSERT INTO roles (id, name, description, built_in, create_time, update_time, version) \
                     VALUES ($1, $2, $3, false, $4, $4, 1)",
                )
                .bind(id)
                .bind(&role.name)
                .bind(&role.description)
                .bind(now)
                .execute(&mut *write.tx)
                .await
                .map_err(db_error)?;
                Self::set_role_permissions(&mut write.tx, id, &role.permissions).await?;
                let created = Self::load_role(&mut write.tx, id).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: created, revision })
            }

            async fn get_role(&self, id: Id) -> Result<Role> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::load_role(&mut conn, id).await
            }

            async fn update_role(&self, id: Id, etag: Version, changes: RoleChanges, audit: AuditRecord) -> Result<Committed<Role>> {
                let mut write = self.write().await?;
                let role = Self::refuse_built_in_role(&mut write.tx, id, "changed").await?;
                etag.ensure_current(role.version, &format!("role {id}"))?;
                if let Some(name) = &changes.name {
                    Self::ensure_name_free(&mut write.tx, Named::Role, "role.name", name, Some(id)).await?;
                }
                sqlx::query(
                    "UPDATE roles SET name = COALESCE($2, name), description = COALESCE($3, description), \
                     version = version + 1, update_time = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(changes.name.as_deref())
                .bind(changes.description.as_deref())
                .bind(DbTime(domain::now()))
                .execute(&mut *write.tx)
                .await
                .map_err(db_error)?;
                if let Some(permissions) = &changes.permissions {
                    Self::set_role_permissions(&mut write.tx, id, permissions).await?;
                }
                let updated = Self::load_role(&mut write.tx, id).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: updated, revision })
            }

            async fn delete_role(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
                let mut write = self.write().await?;
                Self::refuse_built_in_role(&mut write.tx, id, "deleted").await?;
                // Its assignments go with it.
                sqlx::query("DELETE FROM roles WHERE id = $1")
                    .bind(id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: (), revision })
            }

            async fn list_roles(&self, page: &PageRequest) -> Result<Vec<Role>> {
                let after = page.after.as_deref().map(|a| Id::parse("page_token", a)).transpose()?;
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let rows: Vec<RoleRow> = sqlx::query_as(
                    "SELECT id, name, description, built_in, create_time, update_time, version FROM roles \
                     WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(page.size as i64 + 1)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Self::load_roles(&mut conn, rows).await
            }

            async fn assign_role(&self, id: Id, key: AssignmentKey, audit: AuditRecord) -> Result<Committed<RoleAssignment>> {
                let mut write = self.write().await?;
                Self::load_role(&mut write.tx, key.role_id)
                    .await
                    .map_err(|_| Error::NotFound(format!("role_id: role {} does not exist", key.role_id)))?;
                let (user, group) = match key.grantee {
                    Grantee::User(user) => {
                        Self::ensure_user_exists(&mut write.tx, user)
                            .await
                            .map_err(|_| Error::NotFound(format!("user_id: user {user} does not exist")))?;
                        (Some(user), None)
                    }
                    Grantee::Group(group) => {
                        Self::load_group(&mut write.tx, group)
                            .await
                            .map_err(|_| Error::NotFound(format!("group_id: group {group} does not exist")))?;
                        (None, Some(group))
                    }
                };
                if let Some(tenant) = key.tenant_id {
                    Self::ensure_tenant_exists(&mut write.tx, "tenant_id", tenant).await?;
                }
                let assignment = match Self::find_assignment(&mut write.tx, &key).await? {
                    Some(existing) => existing,
                    None => {
                        let row: AssignmentRow = sqlx::query_as(
                            "INSERT INTO role_assignments (id, role_id, user_id, group_id, tenant_id, create_time) \
                             VALUES ($1, $2, $3, $4, $5, $6) \
                             RETURNING id, role_id, user_id, group_id, tenant_id, create_time",
                        )
                        .bind(id)
                        .bind(key.role_id)
                        .bind(user)
                        .bind(group)
                        .bind(key.tenant_id)
                        .bind(DbTime(domain::now()))
                        .fetch_one(&mut *write.tx)
                        .await
                        .map_err(db_error)?;
                        RoleAssignment::try_from(row)?
                    }
                };
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: assignment, revision })
            }

            async fn unassign_role(&self, key: AssignmentKey, audit: AuditRecord) -> Result<Committed<RoleAssignment>> {
                let mut write = self.write().await?;
                let assignment = Self::find_assignment(&mut write.tx, &key).await?.ok_or_else(|| {
                    Error::NotFound(format!("role_id: role {} is not assigned that way", key.role_id))
                })?;
                sqlx::query("DELETE FROM role_assignments WHERE id = $1")
                    .bind(assignment.id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: assignment, revision })
            }

            async fn list_role_assignments(&self, filter: &AssignmentFilter, page: &PageRequest) -> Result<Vec<RoleAssignment>> {
                let after = page.after.as_deref().map(|a| Id::parse("page_token", a)).transpose()?;
                let (user, group) = match filter.grantee {
                    Some(Grantee::User(id)) => (Some(id), None),
                    Some(Grantee::Group(id)) => (None, Some(id)),
                    None => (None, None),
                };
                let rows: Vec<AssignmentRow> = sqlx::query_as(
                    "SELECT id, role_id, user_id, group_id, tenant_id, create_time FROM role_assignments \
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR group_id = $2) \
                       AND ($3 IS NULL OR role_id = $3) AND ($4 IS NULL OR tenant_id = $4) \
                       AND ($5 IS NULL OR id > $5) \
                     ORDER BY id LIMIT $6",
                )
                .bind(user)
                .bind(group)
                .bind(filter.role_id)
                .bind(filter.tenant_id)
                .bind(after)
                .bind(page.size as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(RoleAssignment::try_from).collect()
            }

            async fn create_tenant(&self, id: Id, name: &str, description: &str, audit: AuditRecord) -> Result<Committed<Tenant>> {
                let mut write = self.write().await?;
                Self::ensure_name_free(&mut write.tx, Named::Tenant, "name", name, None).await?;
                let row: TenantRow = sqlx::query_as(
                    "INSERT INTO tenants (id, name, description, create_time) VALUES ($1, $2, $3, $4) \
                     RETURNING id, name, description, create_time",
                )
                .bind(id)
                .bind(name)
                .bind(description)
                .bind(DbTime(domain::now()))
                .fetch_one(&mut *write.tx)
                .await
                .map_err(db_error)?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: row.into(), revision })
            }

            async fn list_tenants(&self, page: &PageRequest) -> Result<Vec<Tenant>> {
                let after = page.after.as_deref().map(|a| Id::parse("page_token", a)).transpose()?;
                let rows: Vec<TenantRow> = sqlx::query_as(
                    "SELECT id, name, description, create_time FROM tenants \
                     WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(page.size as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(Tenant::from).collect())
            }

            async fn delete_tenant(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
                let mut write = self.write().await?;
                let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1")
                    .bind(id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::NotFound(format!("id: tenant {id} does not exist")));
                }
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: (), revision })
            }

            async fn effective_permissions(&self, user_id: Id, tenant_id: Option<Id>) -> Result<Vec<Grant>> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                // Only what the answer needs: checks are the hot path, so no full user load.
                let disabled: Option<(bool,)> = sqlx::query_as("SELECT disabled FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                let (disabled,) = disabled.ok_or_else(|| user_not_found(user_id))?;
                if let Some(tenant) = tenant_id {
                    Self::ensure_tenant_exists(&mut conn, "tenant_id", tenant).await?;
                }
                if disabled {
                    return Ok(Vec::new());
                }
                let direct: Vec<DirectGrantRow> =
                    sqlx::query_as("SELECT user_id, permission FROM user_permissions WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_error)?;
                let through_roles = Self::role_grants(&mut conn, Some(user_id), None, tenant_id, false).await?;
                Ok(grants(direct, through_roles).into_iter().map(|g| g.grant).collect())
            }

            async fn ensure_permission(&self, name: &str) -> Result<()> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::ensure_permission_exists(&mut conn, name).await
            }

            async fn get_settings(&self) -> Result<Settings> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::load_settings(&mut conn).await
            }

            async fn update_settings(&self, etag: Version, changes: SettingsChanges, audit: AuditRecord) -> Result<Committed<Settings>> {
                let mut write = self.write().await?;
                let current = Self::load_settings(&mut write.tx).await?;
                etag.ensure_current(current.version, "the settings")?;
                if let Some(permissions) = &changes.default_permissions {
                    sqlx::query("DELETE FROM default_permissions")
                        .execute(&mut *write.tx)
                        .await
                        .map_err(db_error)?;
                    for name in permissions {
                        Self::ensure_permission_exists(&mut write.tx, name).await.map_err(|_| {
                            Error::invalid("settings.default_permissions", format!("{name:?} is not a known permission"))
                        })?;
                        sqlx::query("INSERT INTO default_permissions (permission) VALUES ($1)")
                            .bind(name)
                            .execute(&mut *write.tx)
                            .await
                            .map_err(db_error)?;
                    }
                }
                sqlx::query(
                    "UPDATE settings SET admins_and_governors_mutually_exclusive = COALESCE($1, admins_and_governors_mutually_exclusive), \
                     version = version + 1",
                )
                .bind(changes.admins_and_governors_mutually_exclusive)
                .execute(&mut *write.tx)
                .await
                .map_err(db_error)?;
                let updated = Self::load_settings(&mut write.tx).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: updated, revision })
            }
        }
    };
}
