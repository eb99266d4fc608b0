//! Groups: members and attributes.

use async_trait::async_trait;

use super::{
    Committed, DbTime, GroupStore, PageIndex, SqlStore, UserFilter,
    attributes::{self, Owner},
    db::{Conn, query},
    grants,
    iams::ensure_iam_exists,
    impersonation,
    names::{Named, ensure_name_free},
    queries::{contains_pattern, groups as sql},
    users::user_exists,
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id, Version,
    audit::AuditRecord,
    group::{Group, GroupChanges, NewGroup},
    name::{AttributeName, comparison_key, search_key},
    page::PageRequest,
    user::User,
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: Id,
    name: String,
    description: String,
    email: Option<String>,
    member_count: i64,
    create_time: DbTime,
    update_time: DbTime,
    version: i64,
    managed_by_iam_id: Option<Id>,
}

#[derive(sqlx::FromRow)]
struct GroupAttributeRow {
    group_id: Id,
    name: String,
    value: String,
}

/// Reads the attributes of a page of groups and joins them to the rows.
async fn load_groups(conn: &mut Conn<'_>, rows: Vec<GroupRow>) -> Result<Vec<Group>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let attributes: Vec<GroupAttributeRow> = conn
        .fetch_all(query(sql::ATTRIBUTES_OF).bind(&ids[..]))
        .await?;
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
            version: Version(row.version),
            managed_by_iam: row.managed_by_iam_id,
        })
        .collect();
    let index = PageIndex::new(&ids);
    for row in attributes {
        if let Some(group) = index.get(&mut groups, row.group_id) {
            group
                .attributes
                .entry(row.name)
                .or_default()
                .push(row.value);
        }
    }
    Ok(groups)
}

/// The group, or `None` when `id` names none.
async fn find_group(conn: &mut Conn<'_>, id: Id) -> Result<Option<Group>> {
    let row: Option<GroupRow> = conn.fetch_optional(query(sql::BY_ID).bind(id)).await?;
    let Some(row) = row else { return Ok(None) };
    Ok(load_groups(conn, vec![row]).await?.pop())
}

pub(super) async fn group_exists(conn: &mut Conn<'_>, id: Id) -> Result<bool> {
    let found: Option<(Id,)> = conn.fetch_optional(query(sql::EXISTS).bind(id)).await?;
    Ok(found.is_some())
}

fn group_not_found(id: Id) -> Error {
    Error::NotFound(format!("group {id} does not exist"))
}

/// What a change to every membership of group `id` touches: each member.
pub(super) async fn members_touched(conn: &mut Conn<'_>, id: Id) -> Result<Touched> {
    let members: Vec<(Id,)> = conn.fetch_all(query(sql::MEMBER_IDS).bind(id)).await?;
    Ok(Touched::of(
        members.into_iter().map(|(user,)| Topic::User(user)),
    ))
}

async fn load_group(conn: &mut Conn<'_>, id: Id) -> Result<Group> {
    find_group(conn, id)
        .await?
        .ok_or_else(|| group_not_found(id))
}

/// A change to one group: the write transaction, with the group known to exist.
struct GroupChange {
    write: Write,
    id: Id,
}

impl GroupChange {
    async fn begin(store: &SqlStore, id: Id) -> Result<Self> {
        let mut write = Write::begin(&store.db).await?;
        if !group_exists(&mut write.conn(), id).await? {
            return Err(group_not_found(id));
        }
        Ok(Self { write, id })
    }

    fn conn(&mut self) -> Conn<'_> {
        self.write.conn()
    }

    /// Bumps the group's version and update time, audits and commits, returning the group as
    /// changed.
    async fn finish(mut self, record: AuditRecord, touched: Touched) -> Result<Committed<Group>> {
        let mut conn = self.write.conn();
        conn.execute(query(sql::TOUCH).bind(self.id).bind(domain::now()))
            .await?;
        let group = load_group(&mut conn, self.id).await?;
        self.write.finish(group, record, touched).await
    }
}

fn group_search_key(name: &str, email: Option<&str>) -> String {
    search_key(&[name, email.unwrap_or_default()])
}

/// Inserts a group whose name is known to be free, managed by `managed_by_iam` when given.
pub(super) async fn insert_group(
    conn: &mut Conn<'_>,
    id: Id,
    name: &str,
    description: &str,
    email: Option<&str>,
    managed_by_iam: Option<Id>,
) -> Result<()> {
    conn.execute(
        query(sql::INSERT)
            .bind(id)
            .bind(name)
            .bind(comparison_key(name).as_str())
            .bind(description)
            .bind(email)
            .bind(domain::now())
            .bind(group_search_key(name, email).as_str())
            .bind(managed_by_iam),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(
        &self,
        id: Id,
        group: NewGroup,
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        ensure_name_free(&mut conn, Named::Group, "name", &group.name, None).await?;
        if let Some(iam) = group.managed_by_iam {
            ensure_iam_exists(&mut conn, "managed_by_iam_id", iam).await?;
        }
        let email = group.email.as_ref().map(|e| e.as_str());
        insert_group(
            &mut conn,
            id,
            group.name.as_str(),
            group.description.as_str(),
            email,
            group.managed_by_iam,
        )
        .await?;
        let created = load_group(&mut conn, id).await?;
        // A new group has no members and no roles: no answer read before can depend on it.
        write.finish(created, audit, Touched::nothing()).await
    }

    async fn get_group(&self, id: Id) -> Result<Group> {
        let mut pooled = self.db.acquire().await?;
        load_group(&mut pooled.conn(), id).await
    }

    async fn list_groups(&self, query_key: Option<&str>, page: &PageRequest) -> Result<Vec<Group>> {
        let after = page.after_id()?;
        let pattern = query_key.map(contains_pattern);
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        let rows: Vec<GroupRow> = conn
            .fetch_all(
                query(sql::LIST)
                    .bind(pattern.as_deref())
                    .bind(after)
                    .bind(page.limit()),
            )
            .await?;
        load_groups(&mut conn, rows).await
    }

    async fn update_group(
        &self,
        id: Id,
        etag: Version,
        changes: GroupChanges,
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut change = GroupChange::begin(self, id).await?;
        let mut conn = change.conn();
        let (version,): (i64,) = conn.fetch_one(query(sql::VERSION).bind(id)).await?;
        etag.ensure_current(Version(version), &format!("group {id}"))?;
        if let Some(name) = &changes.name {
            ensure_name_free(&mut conn, Named::Group, "group.name", name, Some(id)).await?;
            conn.execute(
                query(sql::SET_NAME)
                    .bind(id)
                    .bind(name.as_str())
                    .bind(name.key().as_str()),
            )
            .await?;
        }
        if let Some(description) = &changes.description {
            conn.execute(
                query(sql::SET_DESCRIPTION)
                    .bind(id)
                    .bind(description.as_str()),
            )
            .await?;
        }
        if let Some(email) = &changes.email {
            conn.execute(
                query(sql::SET_EMAIL)
                    .bind(id)
                    .bind(email.as_ref().map(|e| e.as_str())),
            )
            .await?;
        }
        if let Some(managed_by) = changes.managed_by_iam {
            if let Some(iam) = managed_by {
                ensure_iam_exists(&mut conn, "group.managed_by_iam_id", iam).await?;
            }
            conn.execute(query(sql::SET_MANAGED_BY_IAM).bind(id).bind(managed_by))
                .await?;
        }
        let (name, email): (String, Option<String>) =
            conn.fetch_one(query(sql::SEARCHED_FIELDS).bind(id)).await?;
        let search = group_search_key(&name, email.as_deref());
        conn.execute(query(sql::SET_SEARCH_KEY).bind(id).bind(search.as_str()))
            .await?;
        // A group's name, description, email and managing IAM are no check's facts.
        change.finish(audit, Touched::nothing()).await
    }

    async fn delete_group(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let targeting = impersonation::platforms_targeting(&mut conn, id).await?;
        if !targeting.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "group {id} limits who may be impersonated on {}; remove it from those \
                 integrations' target groups first",
                targeting.join(", ")
            )));
        }
        let members = members_touched(&mut conn, id).await?;
        let deleted = conn.execute(query(sql::DELETE).bind(id)).await?;
        if deleted == 0 {
            return Err(group_not_found(id));
        }
        write.finish((), audit, members).await
    }

    async fn add_members(
        &self,
        id: Id,
        user_ids: &[Id],
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut change = GroupChange::begin(self, id).await?;
        let mut conn = change.conn();
        // A member gets what the group's roles carry: adding one hands that out.
        let carried: Vec<(String,)> = conn
            .fetch_all(query(sql::ROLE_PERMISSIONS_OF).bind(id))
            .await?;
        let doing = format!("adding members to group {id}");
        let permissions = carried.iter().map(|(p,)| p.as_str());
        grants::ensure_caller_may_pass(
            &mut conn,
            audit.actor_id,
            permissions,
            &doing,
            grants::Passing::HandsOut,
        )
        .await?;
        for user_id in user_ids {
            if !user_exists(&mut conn, *user_id).await? {
                return Err(Error::NotFound(format!(
                    "user_ids: user {user_id} does not exist; no member was added"
                )));
            }
        }
        for user_id in user_ids {
            conn.execute(query(sql::ADD_MEMBER).bind(id).bind(*user_id))
                .await?;
        }
        let added = Touched::of(user_ids.iter().map(|user| Topic::User(*user)));
        change.finish(audit, added).await
    }

    async fn remove_member(
        &self,
        id: Id,
        user_id: Id,
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut change = GroupChange::begin(self, id).await?;
        let removed = change
            .conn()
            .execute(query(sql::REMOVE_MEMBER).bind(id).bind(user_id))
            .await?;
        if removed == 0 {
            return Err(Error::NotFound(format!(
                "user_id: user {user_id} is not a member of group {id}"
            )));
        }
        change
            .finish(audit, Touched::of([Topic::User(user_id)]))
            .await
    }

    async fn list_members(
        &self,
        id: Id,
        query_key: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<User>> {
        let mut pooled = self.db.acquire().await?;
        if !group_exists(&mut pooled.conn(), id).await? {
            return Err(group_not_found(id));
        }
        drop(pooled);
        let filter = UserFilter {
            query: query_key.map(str::to_owned),
            include_disabled: true,
            group_id: Some(id),
            ..Default::default()
        };
        super::UserStore::list_users(self, &filter, page).await
    }

    async fn add_group_attribute(
        &self,
        id: Id,
        name: &AttributeName,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut change = GroupChange::begin(self, id).await?;
        attributes::add_values(&mut change.conn(), Owner::Group, id, name, values).await?;
        change.finish(audit, Touched::nothing()).await
    }

    async fn remove_group_attribute_value(
        &self,
        id: Id,
        name: &AttributeName,
        value: &str,
        audit: AuditRecord,
    ) -> Result<Committed<Group>> {
        let mut change = GroupChange::begin(self, id).await?;
        attributes::remove_value(&mut change.conn(), Owner::Group, id, name, value).await?;
        change.finish(audit, Touched::nothing()).await
    }
}
