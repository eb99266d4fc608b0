//! Roles: reading them with their permissions, and the checks their changes share.

use super::{
    DbTime, PageIndex,
    db::{Conn, query},
    queries::policy as sql,
    users::ensure_permission_exists,
};
use crate::domain::{Id, Version, permission::PermissionName, role::Role};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
pub(super) struct RoleRow {
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

/// Reads the permissions of a page of roles and joins them to the rows.
pub(super) async fn load_roles(conn: &mut Conn<'_>, rows: Vec<RoleRow>) -> Result<Vec<Role>> {
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
pub(super) async fn find_role(conn: &mut Conn<'_>, id: Id) -> Result<Option<Role>> {
    let row: Option<RoleRow> = conn.fetch_optional(query(sql::ROLE).bind(id)).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(load_roles(conn, vec![row]).await?.pop())
}

pub(super) fn role_not_found(id: Id) -> Error {
    Error::NotFound(format!("role {id} does not exist"))
}

pub(super) async fn load_role(conn: &mut Conn<'_>, id: Id) -> Result<Role> {
    find_role(conn, id).await?.ok_or_else(|| role_not_found(id))
}

pub(super) async fn set_role_permissions(
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

pub(super) async fn refuse_built_in_role(
    conn: &mut Conn<'_>,
    id: Id,
    change: &str,
) -> Result<Role> {
    let role = load_role(conn, id).await?;
    if role.built_in {
        return Err(Error::FailedPrecondition(format!(
            "role {id} ({}) is built in and cannot be {change}; create a custom role instead",
            role.name
        )));
    }
    Ok(role)
}
