//! Fills the comparison keys of rows written before the keys existed (migration 0003), at
//! start-up. SQL cannot compute them (SQLite's `lower()` folds ASCII only), so the service does,
//! with the same functions it uses on every write.
//!
//! Two rows whose keys collide (`Émile` and `émile`, which SQLite kept apart) are never merged:
//! the later one keeps a NULL key, which no unique index counts and no lookup by key finds, and
//! every start-up reports it until an operator renames or deletes one of them.

use super::{
    db::{Conn, Database, query},
    queries::{audit::LOCK_HEAD, backfill as sql, users as users_sql},
    search,
};
use crate::domain::{Id, external::Platform, name};
use crate::error::Result;

/// How many rows one read takes, so a large table is not read into memory at once.
const BATCH: i64 = 1000;

/// A row whose key could not be filled because another row already has it.
struct Collision {
    table: &'static str,
    row: String,
    name: String,
    holder: String,
}

pub(super) async fn fill_missing(db: &Database) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let mut conn = tx.conn();
    // Under the write lock, so replicas starting together fill each row once.
    let _: (i64, String) = conn.fetch_one(query(LOCK_HEAD)).await?;
    let mut collisions = Vec::new();
    fill_users(&mut conn, &mut collisions).await?;
    fill_groups(&mut conn, &mut collisions).await?;
    for table in NAMED {
        fill_named(&mut conn, table, &mut collisions).await?;
    }
    fill_external_usernames(&mut conn, &mut collisions).await?;
    report_shadowing_names(&mut conn).await?;
    tx.commit().await?;
    for collision in collisions {
        tracing::error!(
            table = collision.table,
            row = collision.row,
            name = collision.name,
            same_as = collision.holder,
            "two rows have names that are the same ignoring case; the row keeps no comparison \
             key, so lookups by name miss it, until one of the two is renamed or deleted"
        );
    }
    Ok(())
}

async fn fill_users(conn: &mut Conn<'_>, collisions: &mut Vec<Collision>) -> Result<()> {
    let mut after: Option<Id> = None;
    loop {
        let rows: Vec<(Id, String, String, String, Option<String>)> = conn
            .fetch_all(query(sql::USERS_WITHOUT_KEYS).bind(after).bind(BATCH))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.0);
        for (id, username, email, full_name, old_search) in rows {
            let (username_key, email_key) = (
                name::comparison_key(&username),
                name::comparison_key(&email),
            );
            let holder: Option<(Id,)> = conn
                .fetch_optional(
                    query(sql::USER_HOLDING_KEYS)
                        .bind(username_key.as_str())
                        .bind(email_key.as_str())
                        .bind(id),
                )
                .await?;
            if let Some((holder,)) = holder {
                collisions.push(Collision {
                    table: "users",
                    row: id.to_string(),
                    name: username,
                    holder: holder.to_string(),
                });
                continue;
            }
            let search = name::search_key(&[&full_name, &username, &email]);
            conn.execute(
                query(sql::FILL_USER)
                    .bind(id)
                    .bind(username_key.as_str())
                    .bind(email_key.as_str())
                    .bind(search.as_str()),
            )
            .await?;
            search::count(conn, old_search.as_deref(), Some(&search)).await?;
        }
    }
}

async fn fill_groups(conn: &mut Conn<'_>, collisions: &mut Vec<Collision>) -> Result<()> {
    let mut after: Option<Id> = None;
    loop {
        let rows: Vec<(Id, String, Option<String>)> = conn
            .fetch_all(query(sql::GROUPS_WITHOUT_KEYS).bind(after).bind(BATCH))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = Some(last.0);
        for (id, group_name, email) in rows {
            let key = name::comparison_key(&group_name);
            let holder: Option<(Id,)> = conn
                .fetch_optional(query(sql::GROUP_HOLDING_KEY).bind(key.as_str()).bind(id))
                .await?;
            if let Some((holder,)) = holder {
                collisions.push(Collision {
                    table: "groups",
                    row: id.to_string(),
                    name: group_name,
                    holder: holder.to_string(),
                });
                continue;
            }
            let search = name::search_key(&[&group_name, email.as_deref().unwrap_or_default()]);
            conn.execute(
                query(sql::FILL_GROUP)
                    .bind(id)
                    .bind(key.as_str())
                    .bind(search.as_str()),
            )
            .await?;
        }
    }
}

/// Tables whose only key is that of their name: the select of rows lacking it, the test for
/// another row holding it, and the update.
struct Named {
    table: &'static str,
    missing: &'static str,
    holder: &'static str,
    fill: &'static str,
}

const NAMED: [Named; 3] = [
    Named {
        table: "roles",
        missing: sql::ROLES_WITHOUT_KEYS,
        holder: sql::ROLE_HOLDING_KEY,
        fill: sql::FILL_ROLE,
    },
    Named {
        table: "tenants",
        missing: sql::TENANTS_WITHOUT_KEYS,
        holder: sql::TENANT_HOLDING_KEY,
        fill: sql::FILL_TENANT,
    },
    Named {
        table: "iams",
        missing: sql::IAMS_WITHOUT_KEYS,
        holder: sql::IAM_HOLDING_KEY,
        fill: sql::FILL_IAM,
    },
];

/// Roles, tenants and IAMs are few, so they are read at once.
async fn fill_named(
    conn: &mut Conn<'_>,
    table: Named,
    collisions: &mut Vec<Collision>,
) -> Result<()> {
    let rows: Vec<(Id, String)> = conn.fetch_all(query(table.missing)).await?;
    for (id, row_name) in rows {
        let key = name::comparison_key(&row_name);
        let holder: Option<(Id,)> = conn
            .fetch_optional(query(table.holder).bind(key.as_str()).bind(id))
            .await?;
        match holder {
            Some((holder,)) => collisions.push(Collision {
                table: table.table,
                row: id.to_string(),
                name: row_name,
                holder: holder.to_string(),
            }),
            None => {
                conn.execute(query(table.fill).bind(id).bind(key.as_str()))
                    .await?;
            }
        }
    }
    Ok(())
}

/// External usernames are few per user and set by hand, so they are read at once.
async fn fill_external_usernames(
    conn: &mut Conn<'_>,
    collisions: &mut Vec<Collision>,
) -> Result<()> {
    let rows: Vec<(Id, String, String)> = conn
        .fetch_all(query(sql::EXTERNAL_USERNAMES_WITHOUT_KEYS))
        .await?;
    for (user_id, platform, username) in rows {
        let key = Platform::from_db(&platform)?.name_key(&username);
        let holder: Option<(Id,)> = conn
            .fetch_optional(
                query(sql::EXTERNAL_USERNAME_HOLDING_KEY)
                    .bind(platform.as_str())
                    .bind(key.as_str())
                    .bind(user_id),
            )
            .await?;
        match holder {
            Some((holder,)) => collisions.push(Collision {
                table: "external_usernames",
                row: format!("{user_id} on {platform}"),
                name: username,
                holder: holder.to_string(),
            }),
            None => {
                conn.execute(
                    query(sql::FILL_EXTERNAL_USERNAME)
                        .bind(user_id)
                        .bind(platform.as_str())
                        .bind(key.as_str()),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Reports every external username that is also another user's username on its platform (kept
/// from before that was refused): checks naming it resolve to nobody until one is changed.
async fn report_shadowing_names(conn: &mut Conn<'_>) -> Result<()> {
    let rows: Vec<(Id, String, String, Id, String)> = conn
        .fetch_all(query(users_sql::SHADOWING_EXTERNAL_NAMES).bind(Platform::S3.as_str()))
        .await?;
    for (holder, platform, external, other, username) in rows {
        tracing::error!(
            platform,
            external_username = external,
            of_user = %holder,
            username,
            user = %other,
            "an external username is another user's username on its platform; checks naming \
             it resolve to nobody until one of the two is changed"
        );
    }
    Ok(())
}
