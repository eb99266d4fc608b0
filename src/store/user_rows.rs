//! Reading users: a user's row and its details (permissions, groups, attributes,
//! authorizations, external usernames, certificate URIs), the details of a page read by the page's ids.

use super::{
    DbTime, PageIndex, UserKey,
    db::{Conn, query},
    queries::users as sql,
    users::user_not_found,
};
use crate::domain::{
    Id, Version,
    external::{AwsUserType, ExternalUsername, Platform},
    name::comparison_key,
    user::{User, UserKind},
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: Id,
    username: String,
    email: String,
    full_name: String,
    kind: String,
    iam_id: Id,
    disabled: bool,
    create_time: DbTime,
    update_time: DbTime,
    disable_time: Option<DbTime>,
    version: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            username: row.username,
            email: row.email,
            full_name: row.full_name,
            kind: UserKind::from_db(&row.kind)?,
            iam_id: row.iam_id,
            disabled: row.disabled,
            permissions: Vec::new(),
            group_ids: Vec::new(),
            attributes: Default::default(),
            external_usernames: Vec::new(),
            certificate_uris: Vec::new(),
            authorizations: Default::default(),
            create_time: row.create_time.0,
            update_time: row.update_time.0,
            disable_time: row.disable_time.map(|t| t.0),
            version: Version(row.version),
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserValueRow {
    user_id: Id,
    value: String,
}

#[derive(sqlx::FromRow)]
struct UserGroupRow {
    user_id: Id,
    group_id: Id,
}

#[derive(sqlx::FromRow)]
pub(super) struct UserAttributeRow {
    pub user_id: Id,
    pub name: String,
    pub value: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct ExternalUsernameRow {
    pub user_id: Id,
    platform: String,
    username: String,
    aws_user_type: Option<String>,
}

impl ExternalUsernameRow {
    pub(super) fn into_name(self) -> Result<ExternalUsername> {
        Ok(ExternalUsername {
            platform: Platform::from_db(&self.platform)?,
            username: self.username,
            aws_user_type: self
                .aws_user_type
                .as_deref()
                .map(AwsUserType::from_db)
                .transpose()?,
        })
    }
}

/// Reads the details of a page of users, one query per table whatever the table's size, and
/// joins them to the rows.
pub(super) async fn load_users(conn: &mut Conn<'_>, rows: Vec<UserRow>) -> Result<Vec<User>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Id> = rows.iter().map(|row| row.id).collect();
    let permissions: Vec<UserValueRow> = conn
        .fetch_all(query(sql::PERMISSIONS_OF).bind(&ids[..]))
        .await?;
    let groups: Vec<UserGroupRow> = conn.fetch_all(query(sql::GROUPS_OF).bind(&ids[..])).await?;
    let attributes: Vec<UserAttributeRow> = conn
        .fetch_all(query(sql::ATTRIBUTES_OF).bind(&ids[..]))
        .await?;
    let authorizations: Vec<UserAttributeRow> = conn
        .fetch_all(query(sql::AUTHORIZATIONS_OF).bind(&ids[..]))
        .await?;
    let external_usernames: Vec<ExternalUsernameRow> = conn
        .fetch_all(query(sql::EXTERNAL_USERNAMES_OF).bind(&ids[..]))
        .await?;
    let certificate_uris: Vec<UserValueRow> = conn
        .fetch_all(query(sql::CERTIFICATE_URIS_OF).bind(&ids[..]))
        .await?;

    let mut users = rows
        .into_iter()
        .map(User::try_from)
        .collect::<Result<Vec<_>>>()?;
    let index = PageIndex::new(&ids);
    for row in permissions {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.permissions.push(row.value);
        }
    }
    for row in groups {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.group_ids.push(row.group_id);
        }
    }
    for row in attributes {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.attributes.entry(row.name).or_default().push(row.value);
        }
    }
    for row in authorizations {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.authorizations
                .entry(row.name)
                .or_default()
                .push(row.value);
        }
    }
    for row in external_usernames {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.external_usernames.push(row.into_name()?);
        }
    }
    for row in certificate_uris {
        if let Some(user) = index.get(&mut users, row.user_id) {
            user.certificate_uris.push(row.value);
        }
    }
    Ok(users)
}

pub(super) async fn load_user(conn: &mut Conn<'_>, key: &UserKey) -> Result<User> {
    let row: Option<UserRow> = match key {
        UserKey::Id(id) => conn.fetch_optional(query(sql::BY_ID).bind(*id)).await?,
        UserKey::Username(name) => {
            let key = comparison_key(name);
            conn.fetch_optional(query(sql::BY_USERNAME_KEY).bind(key.as_str()))
                .await?
        }
    };
    let Some(row) = row else {
        return Err(match key {
            UserKey::Id(id) => user_not_found(*id),
            UserKey::Username(name) => {
                Error::NotFound(format!("no user has the username {name:?}"))
            }
        });
    };
    let mut users = load_users(conn, vec![row]).await?;
    users
        .pop()
        .ok_or_else(|| Error::internal("loading one user returned none"))
}
