//! Syncing users from their IAM (the rules are `domain::profile`): a batch of users' state read
//! at once, the changes planned user by user, then written with a fixed number of statements
//! in the one transaction that appends the batch's audit event.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    IamSyncStore, SqlStore, SyncApply, SyncBatch, SyncLease,
    db::{Conn, query},
    groups::insert_group,
    queries::{iam_sync as sql, users as user_sql},
    user_rows::{ExternalUsernameRow, UserAttributeRow},
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id,
    external::AwsUserType,
    name::comparison_key,
    profile::{self, ExternalProfile, Membership, NamedGroup, SyncChanges, UserState},
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct MembershipRow {
    user_id: Id,
    group_id: Id,
    name: String,
    external: bool,
}

#[derive(sqlx::FromRow)]
struct GroupNameRow {
    id: Id,
    name: String,
    name_key: String,
    managed_by_iam_id: Option<Id>,
    carries_roles: bool,
}

/// What a batch will do: each user's changes or why it cannot take them, and the groups to
/// create for the users that can.
struct Plan {
    outcomes: Vec<(Id, Result<SyncChanges>)>,
    new_groups: Vec<(Id, String)>,
}

/// What the store holds now of each of the users that a sync may change.
async fn user_states(conn: &mut Conn<'_>, ids: &[Id]) -> Result<HashMap<Id, UserState>> {
    let mut states: HashMap<Id, UserState> = HashMap::new();
    for row in conn
        .fetch_all::<MembershipRow>(query(sql::MEMBERSHIPS_OF).bind(ids))
        .await?
    {
        states
            .entry(row.user_id)
            .or_default()
            .memberships
            .push(Membership {
                group_id: row.group_id,
                group_name: row.name,
                external: row.external,
            });
    }
    for row in conn
        .fetch_all::<UserAttributeRow>(query(user_sql::AUTHORIZATIONS_OF).bind(ids))
        .await?
    {
        let state = states.entry(row.user_id).or_default();
        state
            .authorizations
            .entry(row.name)
            .or_default()
            .push(row.value);
    }
    for row in conn
        .fetch_all::<ExternalUsernameRow>(query(user_sql::EXTERNAL_USERNAMES_OF).bind(ids))
        .await?
    {
        let user_id = row.user_id;
        let name = row.into_name()?;
        states.entry(user_id).or_default().usernames.push(name);
    }
    Ok(states)
}

/// The existing groups the profiles name, by comparison key.
async fn existing_groups(
    conn: &mut Conn<'_>,
    profiles: &[(Id, ExternalProfile)],
) -> Result<HashMap<String, NamedGroup>> {
    let mut keys: Vec<String> = profiles
        .iter()
        .flat_map(|(_, p)| p.groups.iter().map(|g| g.key()))
        .collect();
    keys.sort();
    keys.dedup();
    let rows: Vec<GroupNameRow> = conn
        .fetch_all(query(sql::GROUPS_NAMED).bind(&keys[..]))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let group = NamedGroup {
                id: row.id,
                name: row.name,
                created: false,
                managed_by_iam: row.managed_by_iam_id,
                carries_roles: row.carries_roles,
            };
            (row.name_key, group)
        })
        .collect())
}

/// Who holds the external usernames the profiles set, by platform and comparison key.
async fn username_owners(
    conn: &mut Conn<'_>,
    profiles: &[(Id, ExternalProfile)],
) -> Result<HashMap<(&'static str, String), Id>> {
    let mut keys: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for name in profiles.iter().flat_map(|(_, p)| &p.usernames) {
        keys.entry(name.platform.as_str())
            .or_default()
            .push(name.name_key());
    }
    let mut owners = HashMap::new();
    for (platform, keys) in keys {
        let rows: Vec<(String, Id)> = conn
            .fetch_all(query(sql::USERNAME_OWNERS).bind(&keys[..]).bind(platform))
            .await?;
        owners.extend(rows.into_iter().map(|(key, id)| ((platform, key), id)));
    }
    Ok(owners)
}

/// The users whose usernames the external usernames of the profiles might equal, by the
/// usernames' comparison keys.
async fn username_holders(
    conn: &mut Conn<'_>,
    profiles: &[(Id, ExternalProfile)],
) -> Result<HashMap<String, Vec<(Id, String)>>> {
    let mut keys: Vec<String> = profiles
        .iter()
        .flat_map(|(_, p)| p.usernames.iter().map(|n| comparison_key(&n.username)))
        .collect();
    keys.sort();
    keys.dedup();
    let mut holders: HashMap<String, Vec<(Id, String)>> = HashMap::new();
    for (key, id, username) in conn
        .fetch_all::<(String, Id, String)>(query(user_sql::USERNAMES_KEYED).bind(&keys[..]))
        .await?
    {
        holders.entry(key).or_default().push((id, username));
    }
    Ok(holders)
}

/// Reads the batch's users as they are now and works out each one's changes. A user that is
/// gone, has moved to another IAM, or would take an external username another user holds
/// fails alone.
async fn plan(conn: &mut Conn<'_>, iam: Id, profiles: &[(Id, ExternalProfile)]) -> Result<Plan> {
    let ids: Vec<Id> = profiles.iter().map(|(id, _)| *id).collect();
    let iams: HashMap<Id, Id> = conn
        .fetch_all::<(Id, Id)>(query(sql::IAMS_OF).bind(&ids[..]))
        .await?
        .into_iter()
        .collect();
    let mut states = user_states(conn, &ids).await?;
    let mut groups = existing_groups(conn, profiles).await?;
    let mut owners = username_owners(conn, profiles).await?;
    let holders = username_holders(conn, profiles).await?;

    let mut outcomes = Vec::with_capacity(profiles.len());
    let mut new_groups = Vec::new();
    let mut created = HashSet::new();
    for (id, profile) in profiles {
        let outcome = match iams.get(id) {
            None => Err(Error::NotFound(format!("user {id} does not exist"))),
            Some(other) if *other != iam => Err(Error::FailedPrecondition(format!(
                "user {id} belongs to IAM {other}, not to IAM {iam}"
            ))),
            Some(_) => {
                let named: Vec<NamedGroup> = profile
                    .groups
                    .iter()
                    .map(|name| {
                        groups
                            .entry(name.key())
                            .or_insert_with(|| NamedGroup::new(iam, name.as_str()))
                            .clone()
                    })
                    .collect();
                let state = states.remove(id).unwrap_or_default();
                let changes = SyncChanges::between(&state, profile, &named);
                changes
                    .groups_added
                    .iter()
                    .filter_map(|added| named.iter().find(|g| g.id == added.id))
                    .try_for_each(|group| group.ensure_joinable_by(iam))
                    .and_then(|()| claim_usernames(&mut owners, &holders, *id, &state, &changes))
                    .map(|()| {
                        for group in named.iter().filter(|g| g.created) {
                            if created.insert(group.id) {
                                new_groups.push((group.id, group.name.clone()));
                            }
                        }
                        changes
                    })
            }
        };
        outcomes.push((*id, outcome));
    }
    Ok(Plan {
        outcomes,
        new_groups,
    })
}

/// Records that `user` now holds the usernames its changes set, unless another user holds
/// one of them, or has it as username: a platform name means one user.
fn claim_usernames(
    owners: &mut HashMap<(&'static str, String), Id>,
    holders: &HashMap<String, Vec<(Id, String)>>,
    user: Id,
    state: &UserState,
    changes: &SyncChanges,
) -> Result<()> {
    for name in &changes.usernames_set {
        let key = (name.platform.as_str(), name.name_key());
        if let Some(owner) = owners.get(&key).filter(|owner| **owner != user) {
            return Err(Error::FailedPrecondition(format!(
                "the {} username {:?} the IAM gives belongs to user {owner}",
                name.platform.as_str(),
                name.username
            )));
        }
        let same_username = holders
            .get(&comparison_key(&name.username))
            .into_iter()
            .flatten()
            .find(|(holder, username)| {
                *holder != user && name.platform.same_name(username, &name.username)
            });
        if let Some((holder, username)) = same_username {
            return Err(Error::FailedPrecondition(format!(
                "the {} username {:?} the IAM gives is the username {username:?} of user {holder}",
                name.platform.as_str(),
                name.username
            )));
        }
    }
    for name in &changes.usernames_set {
        let old = state.usernames.iter().find(|n| n.platform == name.platform);
        if let Some(old) = old {
            owners.remove(&(old.platform.as_str(), old.name_key()));
        }
        owners.insert((name.platform.as_str(), name.name_key()), user);
    }
    Ok(())
}

impl Plan {
    /// The users that can take their changes and have some.
    fn changed(&self) -> Vec<(Id, &SyncChanges)> {
        self.outcomes
            .iter()
            .filter_map(|(id, outcome)| outcome.as_ref().ok().map(|c| (*id, c)))
            .filter(|(_, changes)| !changes.is_empty())
            .collect()
    }
}

/// Creates the new groups and writes the changes of the users that can take theirs (some).
async fn write_plan(
    conn: &mut Conn<'_>,
    iam: Id,
    new_groups: &[(Id, String)],
    changed: &[(Id, &SyncChanges)],
) -> Result<()> {
    for (id, name) in new_groups {
        insert_group(conn, *id, name, "", None, Some(iam)).await?;
    }
    let memberships = |pick: fn(&SyncChanges) -> &[profile::GroupChange]| {
        let (mut groups, mut users) = (Vec::new(), Vec::new());
        for (id, changes) in changed {
            for group in pick(changes) {
                groups.push(group.id);
                users.push(*id);
            }
        }
        (groups, users)
    };
    for (statement, (groups, users)) in [
        (sql::REMOVE_MEMBERSHIPS, memberships(|c| &c.groups_removed)),
        (sql::ADD_MEMBERSHIPS, memberships(|c| &c.groups_added)),
    ] {
        if !groups.is_empty() {
            conn.execute(query(statement).bind(&groups[..]).bind(&users[..]))
                .await?;
        }
    }
    let authorizations = |pick: fn(&SyncChanges) -> &domain::user::Attributes| {
        let (mut users, mut names, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (id, changes) in changed {
            for (name, list) in pick(changes) {
                for value in list {
                    users.push(*id);
                    names.push(name.clone());
                    values.push(value.clone());
                }
            }
        }
        (users, names, values)
    };
    for (statement, (users, names, values)) in [
        (
            sql::REMOVE_AUTHORIZATIONS,
            authorizations(|c| &c.authorizations_removed),
        ),
        (
            sql::ADD_AUTHORIZATIONS,
            authorizations(|c| &c.authorizations_added),
        ),
    ] {
        if !users.is_empty() {
            conn.execute(
                query(statement)
                    .bind(&users[..])
                    .bind(&names[..])
                    .bind(&values[..]),
            )
            .await?;
        }
    }
    let (mut users, mut platforms, mut usernames, mut keys, mut types) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, changes) in changed {
        for name in &changes.usernames_set {
            users.push(*id);
            platforms.push(name.platform.as_str().to_owned());
            usernames.push(name.username.clone());
            keys.push(name.name_key());
            types.push(
                name.aws_user_type
                    .map_or("", AwsUserType::as_str)
                    .to_owned(),
            );
        }
    }
    if !users.is_empty() {
        conn.execute(
            query(sql::SET_USERNAMES)
                .bind(&users[..])
                .bind(&platforms[..])
                .bind(&usernames[..])
                .bind(&keys[..])
                .bind(&types[..]),
        )
        .await?;
    }
    let touched: Vec<Id> = changed.iter().map(|(id, _)| *id).collect();
    conn.execute(
        query(sql::TOUCH_USERS)
            .bind(&touched[..])
            .bind(domain::now()),
    )
    .await?;
    Ok(())
}

#[async_trait]
impl IamSyncStore for SqlStore {
    async fn sync_users(
        &self,
        iam: Id,
        profiles: Vec<(Id, ExternalProfile)>,
        apply: SyncApply,
    ) -> Result<SyncBatch> {
        let SyncApply::Commit(record) = apply else {
            let mut pooled = self.db.acquire().await?;
            let plan = plan(&mut pooled.conn(), iam, &profiles).await?;
            return Ok(SyncBatch {
                outcomes: plan.outcomes,
                revision: None,
            });
        };
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let plan = plan(&mut conn, iam, &profiles).await?;
        let changed = plan.changed();
        // A batch that changes nothing commits nothing, not even its audit event.
        let revision = if changed.is_empty() {
            None
        } else {
            write_plan(&mut conn, iam, &plan.new_groups, &changed).await?;
            let record = record.with_details(profile::audit_details(&changed));
            // Each changed user, and the external usernames it gained (an answer that found
            // it by one it lost depends on the user); new groups have no role assignments.
            let touched = Touched::of(changed.iter().flat_map(|(user, changes)| {
                let names = changes
                    .usernames_set
                    .iter()
                    .map(|n| Topic::name(&n.username));
                std::iter::once(Topic::User(*user)).chain(names)
            }));
            Some(write.commit(record, touched).await?)
        };
        Ok(SyncBatch {
            outcomes: plan.outcomes,
            revision,
        })
    }

    async fn iam_users(&self, iam: Id, after: Id, limit: i64) -> Result<Vec<(Id, String)>> {
        let mut pooled = self.db.acquire().await?;
        pooled
            .conn()
            .fetch_all(query(sql::USERS_OF_IAM).bind(iam).bind(after).bind(limit))
            .await
    }

    async fn lease_sync(&self, iam: Id) -> Result<SyncLease> {
        let busy = || {
            Error::FailedPrecondition(format!(
                "iam_id: a SyncAll of IAM {iam} is running already; wait for it to finish or \
                 cancel it"
            ))
        };
        if !lock(&self.syncs).insert(iam) {
            return Err(busy());
        }
        let local = LocalSync {
            running: self.syncs.clone(),
            iam,
        };
        let shared = self
            .db
            .try_shared_lock(advisory_key(iam))
            .await?
            .ok_or_else(busy)?;
        Ok(SyncLease {
            _local: local,
            _shared: shared,
        })
    }
}

/// The IAMs this process is syncing.
pub(super) type RunningSyncs = Arc<Mutex<HashSet<Id>>>;

fn lock(running: &RunningSyncs) -> std::sync::MutexGuard<'_, HashSet<Id>> {
    running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// This process's mark that it is syncing an IAM, removed when dropped.
pub(super) struct LocalSync {
    running: RunningSyncs,
    iam: Id,
}

impl Drop for LocalSync {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.iam);
    }
}

/// The advisory lock key of an IAM's sync: the random half of its UUIDv7.
fn advisory_key(iam: Id) -> i64 {
    let bytes = iam.0.as_bytes();
    let mut low = [0; 8];
    low.copy_from_slice(&bytes[8..]);
    i64::from_be_bytes(low)
}
