//! Users: creating, listing, changing and deleting them, their names, attributes, external
//! usernames and direct grants; reading them is `user_rows.rs`.

use async_trait::async_trait;

use super::{
    Committed, NewApiKey, SqlStore, UserFilter, UserKey, UserStore, api_keys,
    attributes::{self, Owner},
    db::{Conn, query},
    grants,
    iams::ensure_iam_exists,
    queries::{contains_pattern, users as sql},
    search::{self, Lookup},
    user_rows::{UserRow, load_user, load_users},
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id, Version,
    audit::AuditRecord,
    client_certificate::CertificateUri,
    external::{AwsUserType, ExternalUsername, Platform},
    name::{AttributeName, comparison_key, search_key},
    page::PageRequest,
    permission::PermissionName,
    user::{Email, NewUser, User, UserChanges, UserKind},
};
use crate::error::{Error, Result};

/// The error for an id that names no user.
pub(super) fn user_not_found(id: Id) -> Error {
    Error::NotFound(format!("user {id} does not exist"))
}

pub(super) async fn user_exists(conn: &mut Conn<'_>, id: Id) -> Result<bool> {
    let found: Option<(Id,)> = conn.fetch_optional(query(sql::EXISTS).bind(id)).await?;
    Ok(found.is_some())
}

/// Fails with InvalidArgument naming `field` unless permission `name` exists.
pub(super) async fn ensure_permission_exists(
    conn: &mut Conn<'_>,
    field: &str,
    name: &PermissionName,
) -> Result<()> {
    let known: Option<(String,)> = conn
        .fetch_optional(query(sql::PERMISSION_EXISTS).bind(name.as_str()))
        .await?;
    known.map(|_| ()).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{name:?} is not a known permission", name = name.as_str()),
        )
    })
}

/// Refuses `email` as a username or email when another user (not `except`) has it, ignoring
/// case.
async fn ensure_username_free(
    conn: &mut Conn<'_>,
    field: &str,
    email: &Email,
    except: Option<Id>,
) -> Result<()> {
    let key = email.key();
    let taken: Option<(Id,)> = conn
        .fetch_optional(query(sql::OWNER_OF_NAME).bind(key.as_str()).bind(except))
        .await?;
    if let Some((owner,)) = taken {
        return Err(Error::AlreadyExists(format!(
            "{field}: {:?} is already the username or email of user {owner}",
            email.as_str()
        )));
    }
    // A platform name means one user: a username may not be another user's external username,
    // or a check naming it could resolve to either.
    let name = email.as_str();
    let holders: Vec<(Id, String, String, String)> = conn
        .fetch_all(
            query(sql::EXTERNAL_NAME_HOLDERS)
                .bind(key.as_str())
                .bind(name)
                .bind(except),
        )
        .await?;
    for (owner, platform, external, name_key) in holders {
        let platform = Platform::from_db(&platform)?;
        if platform.name_key(name) == name_key {
            return Err(Error::AlreadyExists(format!(
                "{field}: {name:?} is already user {owner}'s {} username {external:?}",
                platform.as_str()
            )));
        }
    }
    Ok(())
}

/// Refuses `name` as `user`'s external username when another user holds it on that platform,
/// or has it as username under the platform's comparison: a platform name means one user.
async fn ensure_external_username_free(
    conn: &mut Conn<'_>,
    user: Id,
    name: &ExternalUsername,
) -> Result<()> {
    let platform = name.platform.as_str();
    let owner: Option<(Id,)> = conn
        .fetch_optional(
            query(sql::EXTERNAL_USERNAME_OWNER)
                .bind(platform)
                .bind(name.name_key().as_str())
                .bind(user),
        )
        .await?;
    if let Some((owner,)) = owner {
        return Err(Error::AlreadyExists(format!(
            "username: {:?} on {platform} already belongs to user {owner}",
            name.username
        )));
    }
    let key = [comparison_key(&name.username)];
    let holders: Vec<(String, Id, String)> = conn
        .fetch_all(query(sql::USERNAMES_KEYED).bind(&key[..]))
        .await?;
    if let Some((_, owner, username)) = holders.into_iter().find(|(_, holder, username)| {
        *holder != user && name.platform.same_name(username, &name.username)
    }) {
        return Err(Error::AlreadyExists(format!(
            "username: {:?} on {platform} is the username {username:?} of user {owner}",
            name.username
        )));
    }
    Ok(())
}

pub(super) async fn insert_user(conn: &mut Conn<'_>, id: Id, user: &NewUser) -> Result<()> {
    let email = user.email.as_str();
    let search = search_key(&[user.full_name.as_str(), email, email]);
    conn.execute(
        query(sql::INSERT)
            .bind(id)
            .bind(email)
            .bind(user.email.key().as_str())
            .bind(user.full_name.as_str())
            .bind(user.kind.as_str())
            .bind(user.iam_id)
            .bind(domain::now())
            .bind(search.as_str()),
    )
    .await?;
    search::count(conn, None, Some(&search)).await
}

/// Computes the user's search key again from the searched fields, keeping the search counts.
async fn refresh_search_key(conn: &mut Conn<'_>, id: Id) -> Result<()> {
    let (full_name, username, email, old_search): (String, String, String, Option<String>) =
        conn.fetch_one(query(sql::SEARCHED_FIELDS).bind(id)).await?;
    let search = search_key(&[&full_name, &username, &email]);
    conn.execute(query(sql::SET_SEARCH_KEY).bind(id).bind(search.as_str()))
        .await?;
    search::count(conn, old_search.as_deref(), Some(&search)).await
}

/// A change to one user: the write transaction, with the user known to exist.
/// Replaces a service account's certificate URIs. A URI is a credential (a certificate carrying
/// it acts as the account), so giving one needs what minting a key for the account needs.
async fn set_certificate_uris(
    conn: &mut Conn<'_>,
    id: Id,
    caller: Option<Id>,
    uris: &[CertificateUri],
) -> Result<()> {
    if !uris.is_empty() {
        let (kind,): (String,) = conn.fetch_one(query(sql::KIND).bind(id)).await?;
        if UserKind::from_db(&kind)? != UserKind::ServiceAccount {
            return Err(Error::FailedPrecondition(format!(
                "user.certificate_uris: user {id} is a person; only a service account is \
                 identified by a certificate URI"
            )));
        }
        grants::ensure_caller_may_mint_for(conn, caller, id).await?;
    }
    for uri in uris {
        let holder: Option<(Id,)> = conn
            .fetch_optional(
                query(sql::CERTIFICATE_URI_HOLDER)
                    .bind(uri.as_str())
                    .bind(id),
            )
            .await?;
        if let Some((holder,)) = holder {
            return Err(Error::AlreadyExists(format!(
                "user.certificate_uris: {:?} already identifies user {holder}",
                uri.as_str()
            )));
        }
    }
    conn.execute(query(sql::CLEAR_CERTIFICATE_URIS).bind(id))
        .await?;
    for uri in uris {
        conn.execute(query(sql::ADD_CERTIFICATE_URI).bind(uri.as_str()).bind(id))
            .await?;
    }
    Ok(())
}

/// Every name `user` may be looked up by: its username and email, its external usernames and
/// its certificate URIs.
fn names_of(user: &User) -> impl Iterator<Item = Topic> + '_ {
    [user.username.as_str(), user.email.as_str()]
        .into_iter()
        .chain(user.external_usernames.iter().map(|n| n.username.as_str()))
        .chain(user.certificate_uris.iter().map(String::as_str))
        .map(Topic::name)
}

struct UserChange {
    write: Write,
    id: Id,
    /// The names the user had, when the change may rename it.
    names_before: Vec<Topic>,
}

impl UserChange {
    /// Begins a change `caller` makes, refused when the user holds an admin permission the
    /// caller lacks (`None`: the service itself, or a change anyone allowed may make).
    async fn begin(store: &SqlStore, id: Id, caller: Option<Id>) -> Result<Self> {
        let mut write = Write::begin(&store.db).await?;
        let mut conn = write.conn();
        if !user_exists(&mut conn, id).await? {
            return Err(user_not_found(id));
        }
        grants::ensure_caller_outranks(&mut conn, caller, id).await?;
        Ok(Self {
            write,
            id,
            names_before: Vec::new(),
        })
    }

    /// Begins a change that may rename the user. Its old names are touched too: an answer
    /// that found no one by one of them because it named two users (data from before names
    /// were unique) may find the other one now.
    async fn begin_renaming(store: &SqlStore, id: Id, caller: Option<Id>) -> Result<Self> {
        let mut change = Self::begin(store, id, caller).await?;
        let user = load_user(&mut change.conn(), &UserKey::Id(id)).await?;
        change.names_before = names_of(&user).collect();
        Ok(change)
    }

    fn conn(&mut self) -> Conn<'_> {
        self.write.conn()
    }

    /// Bumps the user's version and update time, audits and commits, returning the user as
    /// changed. It touches the user, and every name it now has: an answer that found it by an
    /// old name depends on the user, one that found no one by a new name on that name.
    async fn finish(mut self, record: AuditRecord) -> Result<Committed<User>> {
        let mut conn = self.write.conn();
        conn.execute(query(sql::TOUCH).bind(self.id).bind(domain::now()))
            .await?;
        let user = load_user(&mut conn, &UserKey::Id(self.id)).await?;
        let touched = Touched::of([Topic::User(user.id)])
            .and(names_of(&user))
            .and(self.names_before);
        self.write.finish(user, record, touched).await
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn bootstrap(&self, admin: NewUser, key: NewApiKey) -> Result<bool> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let (users,): (i64,) = conn.fetch_one(query(sql::COUNT)).await?;
        if users > 0 {
            return Ok(false);
        }
        insert_user(&mut conn, key.user_id, &admin).await?;
        conn.execute(query(sql::GRANT_BUILT_IN_PERMISSIONS).bind(key.user_id))
            .await?;
        api_keys::insert(&mut conn, &key).await?;
        let record = AuditRecord::new(None, "Bootstrap", "user", key.user_id).with_details(
            serde_json::json!({
                "username": admin.email.as_str(),
                "api_key_id": key.id.to_string(),
            }),
        );
        // The first user of a new store: nothing was cached before it.
        write.commit(record, Touched::everything()).await?;
        Ok(true)
    }

    async fn create_user(
        &self,
        id: Id,
        user: NewUser,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        ensure_username_free(&mut conn, "email", &user.email, None).await?;
        ensure_iam_exists(&mut conn, "iam_id", user.iam_id).await?;
        insert_user(&mut conn, id, &user).await?;
        conn.execute(query(sql::GRANT_DEFAULT_PERMISSIONS).bind(id))
            .await?;
        let created = load_user(&mut conn, &UserKey::Id(id)).await?;
        // An answer that found no one by its names is wrong now.
        let touched = Touched::of([Topic::User(id)]).and(names_of(&created));
        write.finish(created, audit, touched).await
    }

    async fn get_user(&self, key: &UserKey) -> Result<User> {
        let mut pooled = self.db.acquire().await?;
        load_user(&mut pooled.conn(), key).await
    }

    async fn list_users(&self, filter: &UserFilter, page: &PageRequest) -> Result<Vec<User>> {
        let after = page.after_id()?.unwrap_or(Id::FIRST);
        let pattern = filter.query.as_deref().map(contains_pattern);
        let permission = filter.permission.as_ref().map(PermissionName::as_str);
        let mut pooled = self.db.acquire().await?;
        let mut conn = pooled.conn();
        let lookup = match (&filter.query, filter.group_id, permission) {
            (Some(text), None, None) => Some(search::lookup(&mut conn, text).await?),
            _ => None,
        };
        let statement = if let Some(group) = filter.group_id {
            query(sql::LIST_BY_GROUP)
                .bind(group)
                .bind(filter.include_disabled)
                .bind(filter.iam_id)
                .bind(pattern.as_deref())
                .bind(permission)
                .bind(after)
        } else if let Some(permission) = permission {
            query(sql::LIST_BY_PERMISSION)
                .bind(permission)
                .bind(filter.include_disabled)
                .bind(filter.iam_id)
                .bind(pattern.as_deref())
                .bind(after)
        } else if let (Some(lookup), Some(pattern)) = (&lookup, &pattern) {
            match lookup {
                Lookup::Trigrams(index_pattern) => query(sql::LIST_BY_QUERY).bind(index_pattern),
                Lookup::Word(word) => query(sql::LIST_BY_WORD).bind(word),
            }
            .bind(pattern)
            .bind(filter.include_disabled)
            .bind(filter.iam_id)
            .bind(after)
        } else {
            query(sql::LIST)
                .bind(filter.include_disabled)
                .bind(filter.iam_id)
                .bind(after)
        };
        // Each filter's selectivity is in its values, which a generic plan would not see.
        let statement = statement.bind(page.limit()).planned_per_run();
        let rows: Vec<UserRow> = conn.fetch_all(statement).await?;
        load_users(&mut conn, rows).await
    }

    async fn update_user(
        &self,
        id: Id,
        etag: Version,
        changes: UserChanges,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin_renaming(self, id, audit.actor_id).await?;
        let mut conn = change.conn();
        let (version,): (i64,) = conn.fetch_one(query(sql::VERSION).bind(id)).await?;
        etag.ensure_current(Version(version), &format!("user {id}"))?;
        if let Some(email) = &changes.email {
            ensure_username_free(&mut conn, "user.email", email, Some(id)).await?;
            conn.execute(
                query(sql::SET_EMAIL)
                    .bind(id)
                    .bind(email.as_str())
                    .bind(email.key().as_str()),
            )
            .await?;
        }
        if let Some(name) = &changes.full_name {
            conn.execute(query(sql::SET_FULL_NAME).bind(id).bind(name.as_str()))
                .await?;
        }
        if let Some(uris) = &changes.certificate_uris {
            set_certificate_uris(&mut conn, id, audit.actor_id, uris).await?;
        }
        refresh_search_key(&mut conn, id).await?;
        change.finish(audit).await
    }

    async fn migrate_user(
        &self,
        id: Id,
        target_iam: Id,
        new_username: Option<Email>,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin_renaming(self, id, audit.actor_id).await?;
        let mut conn = change.conn();
        let user = load_user(&mut conn, &UserKey::Id(id)).await?;
        if user.iam_id == target_iam {
            return Err(Error::FailedPrecondition(format!(
                "target_iam_id: user {id} already belongs to IAM {target_iam}"
            )));
        }
        ensure_iam_exists(&mut conn, "target_iam_id", target_iam).await?;
        if let Some(username) = &new_username {
            ensure_username_free(&mut conn, "new_username", username, Some(id)).await?;
            conn.execute(
                query(sql::SET_EMAIL)
                    .bind(id)
                    .bind(username.as_str())
                    .bind(username.key().as_str()),
            )
            .await?;
            refresh_search_key(&mut conn, id).await?;
        }
        conn.execute(query(sql::SET_IAM).bind(id).bind(target_iam))
            .await?;
        conn.execute(query(sql::DROP_AUTHORIZATIONS).bind(id))
            .await?;
        conn.execute(query(sql::DROP_EXTERNAL_MEMBERSHIPS).bind(id))
            .await?;
        change.finish(audit).await
    }

    async fn set_user_disabled(
        &self,
        id: Id,
        disabled: bool,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        // Disabling protects and hands out nothing: any USER_ADMIN may, as when a key leaks.
        let caller = audit.actor_id.filter(|_| !disabled);
        let mut change = UserChange::begin(self, id, caller).await?;
        change
            .conn()
            .execute(
                query(sql::SET_DISABLED)
                    .bind(id)
                    .bind(disabled)
                    .bind(domain::now()),
            )
            .await?;
        change.finish(audit).await
    }

    async fn delete_user(&self, id: Id, audit: AuditRecord) -> Result<Committed<()>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        grants::ensure_caller_outranks(&mut conn, audit.actor_id, id).await?;
        let Some((old_search,)) = conn
            .fetch_optional::<(Option<String>,)>(query(sql::DELETE).bind(id))
            .await?
        else {
            return Err(user_not_found(id));
        };
        search::count(&mut conn, old_search.as_deref(), None).await?;
        // An answer that found it by any name depends on the user.
        write
            .finish((), audit, Touched::of([Topic::User(id)]))
            .await
    }

    async fn add_user_attribute(
        &self,
        id: Id,
        name: &AttributeName,
        values: &[String],
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin(self, id, audit.actor_id).await?;
        attributes::add_values(&mut change.conn(), Owner::User, id, name, values).await?;
        change.finish(audit).await
    }

    async fn remove_user_attribute_value(
        &self,
        id: Id,
        name: &AttributeName,
        value: &str,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin(self, id, audit.actor_id).await?;
        attributes::remove_value(&mut change.conn(), Owner::User, id, name, value).await?;
        change.finish(audit).await
    }

    async fn set_external_username(
        &self,
        id: Id,
        name: ExternalUsername,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin_renaming(self, id, audit.actor_id).await?;
        let mut conn = change.conn();
        ensure_external_username_free(&mut conn, id, &name).await?;
        conn.execute(
            query(sql::SET_EXTERNAL_USERNAME)
                .bind(id)
                .bind(name.platform.as_str())
                .bind(name.username.as_str())
                .bind(name.name_key().as_str())
                .bind(name.aws_user_type.map(AwsUserType::as_str)),
        )
        .await?;
        change.finish(audit).await
    }

    async fn clear_external_username(
        &self,
        id: Id,
        platform: Platform,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin_renaming(self, id, audit.actor_id).await?;
        let removed = change
            .conn()
            .execute(
                query(sql::CLEAR_EXTERNAL_USERNAME)
                    .bind(id)
                    .bind(platform.as_str()),
            )
            .await?;
        if removed == 0 {
            return Err(Error::NotFound(format!(
                "platform: user {id} has no external username on {}",
                platform.as_str()
            )));
        }
        change.finish(audit).await
    }

    async fn grant_permission(
        &self,
        id: Id,
        permission: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        self.change_grant(id, permission, sql::GRANT, audit).await
    }

    async fn revoke_permission(
        &self,
        id: Id,
        permission: &PermissionName,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        self.change_grant(id, permission, sql::REVOKE, audit).await
    }
}

impl SqlStore {
    /// Grants or revokes (`statement`) a known permission to a user.
    async fn change_grant(
        &self,
        id: Id,
        permission: &PermissionName,
        statement: &'static str,
        audit: AuditRecord,
    ) -> Result<Committed<User>> {
        let mut change = UserChange::begin(self, id, audit.actor_id).await?;
        let mut conn = change.conn();
        ensure_permission_exists(&mut conn, "permission", permission).await?;
        let doing = format!("changing user {id}'s permissions");
        grants::ensure_caller_may_pass(
            &mut conn,
            audit.actor_id,
            [permission.as_str()],
            &doing,
            grants::Passing::HandsOut,
        )
        .await?;
        conn.execute(query(statement).bind(id).bind(permission.as_str()))
            .await?;
        change.finish(audit).await
    }
}
