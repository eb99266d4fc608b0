//! Who holds which permission, and by which path: directly, through a role, through a group's
//! role; for checks and for the rules every write keeps.

use std::collections::BTreeSet;

use super::{
    db::{Conn, Database, query},
    policy::{tenant_exists, tenant_not_found},
    queries::policy as sql,
    users::user_not_found,
};
use crate::domain::{
    Id, permission,
    policy::{AdminGrant, Grant, Source},
};
use crate::error::Result;

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

/// Every path by which the user holds a permission, globally and, when given, within the tenant.
pub(super) async fn effective(
    db: &Database,
    user_id: Id,
    tenant_id: Option<Id>,
) -> Result<Vec<Grant>> {
    let mut pooled = db.acquire().await?;
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
    paths(&mut conn, user_id, tenant_id).await
}

/// Every path by which an enabled user holds a permission, globally and, when given, within the
/// tenant.
async fn paths(conn: &mut Conn<'_>, user_id: Id, tenant_id: Option<Id>) -> Result<Vec<Grant>> {
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

/// Whether the user is disabled, and the permissions it holds globally by any path (none when
/// disabled); `None` when there is no such user.
pub(super) async fn held_globally(
    conn: &mut Conn<'_>,
    user_id: Id,
) -> Result<Option<(bool, BTreeSet<String>)>> {
    let disabled: Option<(bool,)> = conn
        .fetch_optional(query(sql::USER_DISABLED).bind(user_id))
        .await?;
    let Some((disabled,)) = disabled else {
        return Ok(None);
    };
    if disabled {
        return Ok(Some((true, BTreeSet::new())));
    }
    let held = paths(conn, user_id, None).await?;
    Ok(Some((
        false,
        held.into_iter().map(|g| g.permission).collect(),
    )))
}
