//! Who holds which permission, and by which path: directly, through a role, through a group's
//! role; for checks and for the rules every write keeps.

use std::collections::BTreeSet;

use super::{
    db::{Conn, query},
    policy::tenant_not_found,
    queries::policy as sql,
    users::user_not_found,
};
use crate::domain::{
    Id, permission,
    policy::{AdminGrant, Grant, Source},
};
use crate::error::{Error, Result};

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

/// One row of `PERMISSION_FACTS`: which fact it is (`kind`), and its values in the columns that
/// kind uses.
#[derive(sqlx::FromRow)]
struct PermissionFactRow {
    kind: String,
    disabled: Option<bool>,
    permission: Option<String>,
    role_id: Option<Id>,
    tenant_id: Option<Id>,
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

/// Every path by which an enabled user holds a permission, globally and, when given, within the
/// tenant.
pub(super) async fn paths(
    conn: &mut Conn<'_>,
    user_id: Id,
    tenant_id: Option<Id>,
) -> Result<Vec<Grant>> {
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

/// Every path by which the user holds a permission, globally and, when given, within the
/// tenant (none when it is disabled), in one statement: what CheckPermission reads. NOT_FOUND
/// for an unknown user or tenant.
pub(super) async fn effective(
    conn: &mut Conn<'_>,
    user_id: Id,
    tenant_id: Option<Id>,
) -> Result<Vec<Grant>> {
    let rows: Vec<PermissionFactRow> = conn
        .fetch_all(query(sql::PERMISSION_FACTS).bind(user_id).bind(tenant_id))
        .await?;
    let malformed = || Error::internal("a malformed row of a user's permission facts");
    let (mut disabled, mut tenant_found) = (None, false);
    let (mut direct, mut through_roles, mut through_groups) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        match (row.kind.as_str(), row.permission, row.role_id) {
            ("user", _, _) => disabled = Some(row.disabled.ok_or_else(malformed)?),
            ("tenant", _, _) => tenant_found = true,
            ("grant", Some(permission), None) => direct.push(DirectGrantRow {
                user_id,
                permission,
            }),
            ("grant", Some(permission), Some(role_id)) => {
                let grant = RoleGrantRow {
                    user_id,
                    permission,
                    role_id,
                    tenant_id: row.tenant_id,
                    group_id: row.group_id,
                };
                match grant.group_id {
                    None => through_roles.push(grant),
                    Some(_) => through_groups.push(grant),
                }
            }
            _ => return Err(malformed()),
        }
    }
    let disabled = disabled.ok_or_else(|| user_not_found(user_id))?;
    if let Some(tenant) = tenant_id
        && !tenant_found
    {
        return Err(tenant_not_found("tenant_id", tenant));
    }
    if disabled {
        return Ok(Vec::new());
    }
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

/// Refuses a write unless its caller holds each built-in permission of `needed`; `refusal`
/// words the error from the ones it lacks. The service itself (no caller) holds everything, and
/// the caller is read only when something built-in is needed. Read in the write's transaction,
/// so it sees the caller as the write does.
async fn ensure_caller_holds<'a>(
    conn: &mut Conn<'_>,
    caller: Option<Id>,
    needed: impl IntoIterator<Item = &'a str>,
    refusal: impl FnOnce(&str) -> String,
) -> Result<()> {
    let Some(caller) = caller else {
        return Ok(());
    };
    let mut missing = permission::built_in_among(needed);
    if missing.is_empty() {
        return Ok(());
    }
    let held = held_globally(conn, caller)
        .await?
        .map(|(_, held)| held)
        .unwrap_or_default();
    missing.retain(|p| !held.contains(*p));
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::PermissionDenied(refusal(&missing.join(", "))))
}

/// Which way a change moves permissions between users.
#[derive(Clone, Copy)]
pub(super) enum Passing {
    /// Granting, assigning through a role, putting in a role, adding to a group with roles.
    HandsOut,
    /// Unassigning a role: a USER_ADMIN may not strip an auditor of AUDIT either.
    TakesAway,
}

/// Refuses handing out or taking away built-in permissions the caller lacks: nobody gives (or
/// takes) more than it holds.
pub(super) async fn ensure_caller_may_pass<'a>(
    conn: &mut Conn<'_>,
    caller: Option<Id>,
    permissions: impl IntoIterator<Item = &'a str>,
    doing: &str,
    passing: Passing,
) -> Result<()> {
    let verb = match passing {
        Passing::HandsOut => "hands out",
        Passing::TakesAway => "takes away",
    };
    ensure_caller_holds(conn, caller, permissions, |missing| {
        format!(
            "{doing} {verb} {missing}, which the caller does not hold: a caller {verb} only \
             permissions it holds"
        )
    })
    .await
}

/// Refuses acting on another `user` unless the caller holds those of the user's permissions
/// (by any path, disabled or not: a disabled user's come back when it is enabled) that `reach`
/// picks.
async fn ensure_caller_covers(
    conn: &mut Conn<'_>,
    caller: Option<Id>,
    user: Id,
    reach: impl Fn(&str) -> bool,
    refusal: impl FnOnce(&str) -> String,
) -> Result<()> {
    if caller.is_none_or(|caller| caller == user) {
        return Ok(());
    }
    let theirs: BTreeSet<String> = paths(conn, user, None)
        .await?
        .into_iter()
        .map(|g| g.permission)
        .collect();
    let reached = theirs.iter().map(String::as_str).filter(|p| reach(p));
    ensure_caller_holds(conn, caller, reached, refusal).await
}

/// Refuses acting on another user who holds an admin permission the caller lacks: a USER_ADMIN
/// may not rename, re-key, move or otherwise manage someone more powerful than itself.
pub(super) async fn ensure_caller_outranks(
    conn: &mut Conn<'_>,
    caller: Option<Id>,
    user: Id,
) -> Result<()> {
    let admin = |p: &str| permission::ADMIN.contains(&p);
    ensure_caller_covers(conn, caller, user, admin, |missing| {
        format!(
            "user {user} holds {missing}, which the caller does not: managing a user needs \
             every admin permission it holds"
        )
    })
    .await
}

/// Refuses minting a key for another user unless the caller holds every built-in permission
/// that user holds: the key carries them all.
pub(super) async fn ensure_caller_may_mint_for(
    conn: &mut Conn<'_>,
    caller: Option<Id>,
    user: Id,
) -> Result<()> {
    ensure_caller_covers(
        conn,
        caller,
        user,
        |_| true,
        |missing| {
            format!(
                "a key for user {user} would carry {missing}, which the caller does not hold: a \
             caller mints keys only for what it holds"
            )
        },
    )
    .await
}
