//! Groups, for both backends: expanded by [`sql_store!`] into each backend module.

use crate::domain::{Id, group::Group};
use crate::error::Result;

use super::DbTime;

#[derive(sqlx::FromRow)]
pub(in crate::store) struct GroupRow {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub email: Option<String>,
    pub member_count: i64,
    pub create_time: DbTime,
    pub update_time: DbTime,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
pub(in crate::store) struct GroupAttributeRow {
    pub group_id: Id,
    pub name: String,
    pub value: String,
}

/// Joins group rows with their attributes.
pub(in crate::store) fn assemble_groups(
    rows: Vec<GroupRow>,
    attributes: Vec<GroupAttributeRow>,
) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = rows
        .into_iter()
        .map(|row| Group {
            id: row.id,
            name: row.name,
            description: row.description,
            email: row.email,
            member_count: row.member_count,
            attributes: Default::default(),
            create_time: row.create_time.0,
            update_time: row.update_time.0,
            version: crate::domain::Version(row.version),
        })
        .collect();
    for row in attributes {
        if let Some(group) = groups.iter_mut().find(|g| g.id == row.group_id) {
            group
                .attributes
                .entry(row.name)
                .or_default()
                .push(row.value);
        }
    }
    Ok(groups)
}

/// The columns of [`GroupRow`] for a query over `groups g`, as a literal for `concat!`.
macro_rules! group_columns {
    () => {
        "g.id, g.name, g.description, g.email, \
         (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS member_count, \
         g.create_time, g.update_time, g.version"
    };
}

macro_rules! sql_group_store {
    ($store:ident) => {
        use $crate::domain::group::{Group, GroupChanges, NewGroup};
        use $crate::store::GroupStore;
        use $crate::store::sql::groups::{GroupAttributeRow, GroupRow, assemble_groups};

        fn group_not_found(id: Id) -> Error {
            Error::NotFound(format!("group {id} does not exist"))
        }

        impl $store {
            async fn load_groups(conn: &mut Conn, rows: Vec<GroupRow>) -> Result<Vec<Group>> {
                let (Some(first), Some(last)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else {
                    return Ok(Vec::new());
                };
                let attributes: Vec<GroupAttributeRow> = sqlx::query_as(
                    "SELECT group_id, name, value FROM group_attributes \
                     WHERE group_id BETWEEN $1 AND $2 ORDER BY group_id, name, value",
                )
                .bind(first.min(last))
                .bind(first.max(last))
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                assemble_groups(rows, attributes)
            }

            async fn load_group(conn: &mut Conn, id: Id) -> Result<Group> {
                let row: Option<GroupRow> =
                    sqlx::query_as(concat!("SELECT ", group_columns!(), " FROM groups g WHERE g.id = $1"))
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(db_error)?;
                let row = row.ok_or_else(|| group_not_found(id))?;
                Ok(Self::load_groups(conn, vec![row]).await?.remove(0))
            }

            /// Runs `change` on group `id` in a write transaction, bumps its version, audits
            /// and commits, returning the group as changed.
            async fn change_group<F>(&self, id: Id, audit: AuditRecord, change: F) -> Result<Committed<Group>>
            where
                F: for<'c> FnOnce(&'c mut Conn) -> futures::future::BoxFuture<'c, Result<()>> + Send,
            {
                let mut write = self.write().await?;
                Self::load_group(&mut write.tx, id).await?;
                change(&mut write.tx).await?;
                sqlx::query("UPDATE groups SET version = version + 1, update_time = $2 WHERE id = $1")
                    .bind(id)
                    .bind(DbTime(domain::now()))
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                let group = Self::load_group(&mut write.tx, id).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: group, revision })
            }
        }

        #[async_trait]
        impl GroupStore for $store {
            async fn create_group(&self, id: Id, group: NewGroup, audit: AuditRecord) -> Result<Committed<Group>> {
                let mut write = self.write().await?;
                Self::ensure_name_free(&mut write.tx, Named::Group, "name", &group.name, None).await?;
                let now = DbTime(domain::now());
                sqlx::query(
                    "INSERT INTO groups (id, name, description, email, create_time, update_time, version) \
                     VALUES ($1, $2, $3, $4, $5, $5, 1)",
                )
                .bind(id)
                .bind(&group.name)
                .bind(&group.description)
                .bind(group.email.as_ref().map(|e| e.as_str()))
                .bind(now)
                .execute(&mut *write.tx)
                .await
                .map_err(db_error)?;
                let created = Self::load_group(&mut write.tx, id).await?;
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: created, revision })
            }

            async fn get_group(&self, id: Id) -> Result<Group> {
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                Self::load_group(&mut conn, id).await
            }

            async fn list_groups(&self, query: Option<&str>, page: &PageRequest) -> Result<Vec<Group>> {
                let after = page.after.as_deref().map(|a| Id::parse("page_token", a)).transpose()?;
                let mut conn = self.pool.acquire().await.map_err(db_error)?;
                let rows: Vec<GroupRow> = sqlx::query_as(concat!(
                    "SELECT ", group_columns!(), " FROM groups g \
                     WHERE ($1 IS NULL OR lower(g.name) LIKE $1 ESCAPE '\\' OR lower(g.email) LIKE $1 ESCAPE '\\') \
                       AND ($2 IS NULL OR g.id > $2) \
                     ORDER BY g.id LIMIT $3"
                ))
                .bind(query.map(contains_pattern))
                .bind(after)
                .bind(page.size as i64 + 1)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_error)?;
                Self::load_groups(&mut conn, rows).await
            }

            async fn update_group(&self, id: Id, etag: Version, changes: GroupChanges, audit: AuditRecord) -> Result<Committed<Group>> {
                self.change_group(id, audit, move |conn| {
                    Box::pin(async move {
                        let (version,): (i64,) = sqlx::query_as("SELECT version FROM groups WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        etag.ensure_current(Version(version), &format!("group {id}"))?;
                        if let Some(name) = &changes.name {
                            Self::ensure_name_free(conn, Named::Group, "group.name", name, Some(id)).await?;
                            sqlx::query("UPDATE groups SET name = $2 WHERE id = $1")
                                .bind(id)
                                .bind(name)
                                .execute(&mut *conn)
                                .await
                                .map_err(db_error)?;
                        }
                        if let Some(description) = &changes.description {
                            sqlx::query("UPDATE groups SET description = $2 WHERE id = $1")
                                .bind(id)
                                .bind(description)
                                .execute(&mut *conn)
                                .await
                                .map_err(db_error)?;
                        }
                        if let Some(email) = &changes.email {
                            sqlx::query("UPDATE groups SET email = $2 WHERE id = $1")
                                .bind(id)
                                .bind(email.as_ref().map(|e| e.as_str()))
                                .execute(&mut *conn)
                                .await
                                .map_err(db_error)?;
                        }
                        Ok(())
                    })
                })
                .await
            }

            async fn delete_group(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
                let mut write = self.write().await?;
                // Memberships, attributes and role assignments go with it (ON DELETE CASCADE).
                let deleted = sqlx::query("DELETE FROM groups WHERE id = $1")
                    .bind(id)
                    .execute(&mut *write.tx)
                    .await
                    .map_err(db_error)?;
                if deleted.rows_affected() == 0 {
                    return Err(group_not_found(id));
                }
                let revision = Self::commit(write, audit).await?;
                Ok(Committed { value: (), revision })
            }

            async fn add_members(&self, id: Id, user_ids: &[Id], audit: AuditRecord) -> Result<Committed<Group>> {
                let user_ids = user_ids.to_vec();
                self.change_group(id, audit, move |conn| {
                    Box::pin(async move {
                        for user_id in &user_ids {
                            Self::ensure_user_exists(conn, *user_id)
                                .await
                                .map_err(|_| Error::NotFound(format!(
                                    "user_ids: user {user_id} does not exist; no member was added"
                                )))?;
                        }
                        for user_id in &user_ids {
                            sqlx::query(
                                "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            )
                            .bind(id)
                            .bind(user_id)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        }
                        Ok(())
                    })
                })
                .await
            }

            async fn remove_member(&self, id: Id, user_id: Id, audit: AuditRecord) -> Result<Committed<Group>> {
                self.change_group(id, audit, move |conn| {
                    Box::pin(async move {
                        let removed = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                            .bind(id)
                            .bind(user_id)
                            .execute(&mut *conn)
                            .await
                            .map_err(db_error)?;
                        if removed.rows_affected() == 0 {
                            return Err(Error::NotFound(format!("user_id: user {user_id} is not a member of group {id}")));
                        }
                        Ok(())
                    })
                })
                .await
            }

            async fn list_members(&self, id: Id, query: Option<&str>, page: &PageRequest) -> Result<Vec<User>> {
                self.get_group(id).await?;
                let filter = UserFilter {
                    query: query.map(str::to_owned),
                    include_disabled: true,
                    group_id: Some(id),
                    ..Default::default()
                };
                self.list_users(&filter, page).await
            }

            async fn add_group_attribute(&self, id: Id, name: &str, values: &[String], audit: AuditRecord) -> Result<Committed<Group>> {
                let (name, values) = (name.to_owned(), values.to_vec());
                self.change_group(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::add_attribute_values(conn, AttributeOwner::Group, id, &name, &values).await
                    })
                })
                .await
            }

            async fn remove_group_attribute_value(&self, id: Id, name: &str, value: &str, audit: AuditRecord) -> Result<Committed<Group>> {
                let (name, value) = (name.to_owned(), value.to_owned());
                self.change_group(id, audit, move |conn| {
                    Box::pin(async move {
                        Self::remove_attribute_value(conn, AttributeOwner::Group, id, &name, &value).await
                    })
                })
                .await
            }
        }
    };
}
