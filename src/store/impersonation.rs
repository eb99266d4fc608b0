//! Integrations, the facts an impersonation decision reads, and sessions.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::{
    Committed, DbTime, ImpersonationStore, SqlStore,
    db::{Conn, query},
    groups::group_exists,
    queries::impersonation as sql,
    write::Write,
};
use crate::checks::{Topic, Touched};
use crate::domain::{
    self, Id, Version,
    audit::AuditRecord,
    external::Platform,
    impersonation::{
        CompiledPatterns, Facts, Integration, IntegrationSettings, NewSession, Party, Session,
        SessionFilter, SessionId,
    },
    name::comparison_key,
    page::PageRequest,
};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    platform: String,
    enabled: bool,
    impersonation_role: String,
    allowed_impersonator_pattern: String,
    update_time: Option<DbTime>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Id,
    session_id: String,
    platform: String,
    actor: String,
    target: String,
    actor_user_id: Option<Id>,
    target_user_id: Option<Id>,
    reason: String,
    begin_time: DbTime,
    expire_time: Option<DbTime>,
    end_time: Option<DbTime>,
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;

    fn try_from(row: SessionRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            session_id: row.session_id,
            platform: Platform::from_db(&row.platform)?,
            actor: row.actor,
            target: row.target,
            actor_user_id: row.actor_user_id,
            target_user_id: row.target_user_id,
            reason: row.reason,
            begin_time: row.begin_time.0,
            expire_time: row.expire_time.map(|t| t.0),
            end_time: row.end_time.map(|t| t.0),
        })
    }
}

/// An integration from its row, its allow list and target groups (each in the stored order),
/// its pattern compiled once per text in `patterns`.
fn integration(
    row: IntegrationRow,
    allowed_impersonators: Vec<String>,
    target_group_ids: Vec<Id>,
    patterns: &CompiledPatterns,
) -> Result<Integration> {
    let platform = Platform::from_db(&row.platform)?;
    let pattern = patterns
        .parse("pattern", &row.allowed_impersonator_pattern)
        .map_err(|e| Error::internal(format!("stored pattern of {}: {e}", platform.as_str())))?;
    Ok(Integration {
        platform,
        settings: IntegrationSettings {
            enabled: row.enabled,
            impersonation_role: row.impersonation_role,
            allowed_impersonators,
            pattern,
            target_group_ids,
        },
        update_time: row.update_time.map(|t| t.0),
        version: Version(row.version),
    })
}

/// Reads integrations (all, or one platform's) with their allow lists and target groups; their
/// patterns compiled once per text in `patterns`.
async fn load_integrations(
    conn: &mut Conn<'_>,
    patterns: &CompiledPatterns,
    platform: Option<Platform>,
) -> Result<Vec<Integration>> {
    let name = platform.map(Platform::as_str);
    let rows: Vec<IntegrationRow> = match name {
        Some(name) => conn.fetch_all(query(sql::INTEGRATION).bind(name)).await?,
        None => conn.fetch_all(query(sql::INTEGRATIONS)).await?,
    };
    let allowed: Vec<(String, String)> = conn
        .fetch_all(query(sql::ALLOWED_IMPERSONATORS).bind(name))
        .await?;
    let targets: Vec<(String, Id)> = conn.fetch_all(query(sql::TARGET_GROUPS).bind(name)).await?;
    let mut integrations = Vec::with_capacity(rows.len());
    for row in rows {
        let of_platform = |p: &String| *p == row.platform;
        let allowed_impersonators = allowed
            .iter()
            .filter(|(p, _)| of_platform(p))
            .map(|(_, name)| name.clone())
            .collect();
        let target_group_ids = targets
            .iter()
            .filter(|(p, _)| of_platform(p))
            .map(|(_, id)| *id)
            .collect();
        integrations.push(integration(
            row,
            allowed_impersonators,
            target_group_ids,
            patterns,
        )?);
    }
    integrations.sort_by_key(|i| Platform::ALL.iter().position(|p| *p == i.platform));
    Ok(integrations)
}

async fn load_integration(
    conn: &mut Conn<'_>,
    patterns: &CompiledPatterns,
    platform: Platform,
) -> Result<Integration> {
    load_integrations(conn, patterns, Some(platform))
        .await?
        .pop()
        .ok_or_else(|| {
            Error::internal(format!(
                "the integration of {} is missing from the store",
                platform.as_str()
            ))
        })
}

/// The user a platform username names: the holder of that external username on the platform,
/// or the user with that username. Read by the writes of sessions; a check reads it with the
/// rest of its facts (`FACTS`).
async fn resolve(conn: &mut Conn<'_>, platform: Platform, name: &str) -> Result<Option<Id>> {
    let rows: Vec<(Id, Option<String>)> = conn
        .fetch_all(
            query(sql::USERS_NAMED)
                .bind(platform.as_str())
                .bind(platform.name_key(name).as_str())
                .bind(comparison_key(name).as_str()),
        )
        .await?;
    Ok(one_user_named(
        platform,
        name,
        rows.iter().map(|(id, username)| (*id, username.as_deref())),
    ))
}

/// The one user `name` means on `platform` among the users `USERS_NAMED` found (each with its
/// username when found by it): S3 names compare exactly, the others ignoring case. A name that
/// means two users (data from before that was refused) names nobody, so a check denies.
fn one_user_named<'a>(
    platform: Platform,
    name: &str,
    found: impl IntoIterator<Item = (Id, Option<&'a str>)>,
) -> Option<Id> {
    let mut named = found
        .into_iter()
        .filter(|(_, username)| username.is_none_or(|username| platform.same_name(username, name)))
        .map(|(id, _)| id);
    let first = named.next();
    if let Some(other) = named.find(|id| Some(*id) != first) {
        tracing::warn!(
            platform = platform.as_str(),
            name,
            users = ?[first, Some(other)],
            "a platform name is both one user's external username and another's username; \
             it resolves to nobody until one of them is changed"
        );
        return None;
    }
    first
}

/// One row of `FACTS`: which fact it is (`kind`), and its values in the columns that kind uses.
#[derive(sqlx::FromRow)]
struct FactRow {
    kind: String,
    side: Option<String>,
    user_id: Option<Id>,
    group_id: Option<Id>,
    text1: Option<String>,
    text2: Option<String>,
    text3: Option<String>,
    flag: Option<bool>,
    time: Option<DbTime>,
    number: Option<i64>,
}

/// What `FACTS` says of one side (the actor or the target).
#[derive(Default)]
struct SideRows {
    /// The users its name may mean, each with its username when found by it, and whether it is
    /// disabled.
    named: Vec<(Id, Option<String>, bool)>,
    permissions: HashMap<Id, BTreeSet<String>>,
    target_groups: HashMap<Id, BTreeSet<Id>>,
}

impl SideRows {
    /// The user the side's name resolves to, as a check sees it; `None` when it names no user.
    fn party(mut self, platform: Platform, name: &str) -> Option<Party> {
        let user_id = one_user_named(
            platform,
            name,
            self.named
                .iter()
                .map(|(id, username, _)| (*id, username.as_deref())),
        )?;
        let disabled = self
            .named
            .iter()
            .any(|(id, _, disabled)| *id == user_id && *disabled);
        Some(Party {
            user_id,
            disabled,
            // As `grants::held_globally` has it: a disabled user holds nothing.
            permissions: match disabled {
                true => BTreeSet::new(),
                false => self.permissions.remove(&user_id).unwrap_or_default(),
            },
            target_groups: self.target_groups.remove(&user_id).unwrap_or_default(),
        })
    }
}

/// The facts of a decision from the rows of `FACTS`.
fn facts_from_rows(
    rows: Vec<FactRow>,
    patterns: &CompiledPatterns,
    platform: Platform,
    actor: &str,
    target: &str,
) -> Result<Facts> {
    let malformed = |kind: &str| Error::internal(format!("a malformed {kind} row of the facts"));
    let mut integration_row = None;
    let mut allowed = Vec::new();
    let mut target_group_ids = Vec::new();
    let (mut actor_rows, mut target_rows) = (SideRows::default(), SideRows::default());
    for row in rows {
        let kind = row.kind.as_str();
        let side = match row.side.as_deref() {
            Some("actor") => Some(&mut actor_rows),
            Some("target") => Some(&mut target_rows),
            _ => None,
        };
        match (kind, side) {
            ("integration", None) => {
                integration_row = Some(IntegrationRow {
                    platform: row.text1.ok_or_else(|| malformed(kind))?,
                    impersonation_role: row.text2.ok_or_else(|| malformed(kind))?,
                    allowed_impersonator_pattern: row.text3.ok_or_else(|| malformed(kind))?,
                    enabled: row.flag.ok_or_else(|| malformed(kind))?,
                    update_time: row.time,
                    version: row.number.ok_or_else(|| malformed(kind))?,
                });
            }
            ("allowed", None) => allowed.push((
                row.text2.ok_or_else(|| malformed(kind))?,
                row.text1.ok_or_else(|| malformed(kind))?,
            )),
            ("target_group", None) => {
                target_group_ids.push(row.group_id.ok_or_else(|| malformed(kind))?);
            }
            ("named", Some(side)) => side.named.push((
                row.user_id.ok_or_else(|| malformed(kind))?,
                row.text1,
                row.flag.ok_or_else(|| malformed(kind))?,
            )),
            ("permission", Some(side)) => {
                side.permissions
                    .entry(row.user_id.ok_or_else(|| malformed(kind))?)
                    .or_default()
                    .insert(row.text1.ok_or_else(|| malformed(kind))?);
            }
            ("member_of", Some(side)) => {
                side.target_groups
                    .entry(row.user_id.ok_or_else(|| malformed(kind))?)
                    .or_default()
                    .insert(row.group_id.ok_or_else(|| malformed(kind))?);
            }
            _ => return Err(malformed(kind)),
        }
    }
    let integration_row = integration_row.ok_or_else(|| {
        Error::internal(format!(
            "the integration of {} is missing from the store",
            platform.as_str()
        ))
    })?;
    // In the order the integration is read in everywhere else.
    allowed.sort();
    target_group_ids.sort();
    let allowed = allowed.into_iter().map(|(_, name)| name).collect();
    Ok(Facts {
        integration: integration(integration_row, allowed, target_group_ids, patterns)?,
        actor_name: actor.to_owned(),
        actor: actor_rows.party(platform, actor),
        target_name: target.to_owned(),
        target: target_rows.party(platform, target),
    })
}

fn session_not_found(session_id: &SessionId) -> Error {
    Error::NotFound(format!(
        "session_id: no session {:?} is recorded",
        session_id.as_str()
    ))
}

async fn find_session(conn: &mut Conn<'_>, session_id: &SessionId) -> Result<Option<Session>> {
    let row: Option<SessionRow> = conn
        .fetch_optional(query(sql::SESSION).bind(session_id.as_str()))
        .await?;
    row.map(Session::try_from).transpose()
}

#[async_trait]
impl ImpersonationStore for SqlStore {
    async fn list_integrations(&self) -> Result<Vec<Integration>> {
        let mut pooled = self.db.acquire().await?;
        load_integrations(&mut pooled.conn(), &self.patterns, None).await
    }

    async fn get_integration(&self, platform: Platform) -> Result<Integration> {
        let mut pooled = self.db.acquire().await?;
        load_integration(&mut pooled.conn(), &self.patterns, platform).await
    }

    async fn configure_integration(
        &self,
        platform: Platform,
        settings: IntegrationSettings,
        etag: Option<Version>,
        audit: AuditRecord,
    ) -> Result<Committed<Integration>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let current = load_integration(&mut conn, &self.patterns, platform).await?;
        if let Some(etag) = etag {
            etag.ensure_current(
                current.version,
                &format!("the {} integration", platform.as_str()),
            )?;
        }
        for (i, group) in settings.target_group_ids.iter().enumerate() {
            if !group_exists(&mut conn, *group).await? {
                return Err(Error::NotFound(format!(
                    "target_group_ids[{i}]: group {group} does not exist"
                )));
            }
        }
        let name = platform.as_str();
        conn.execute(
            query(sql::UPDATE_INTEGRATION)
                .bind(name)
                .bind(settings.enabled)
                .bind(settings.impersonation_role.as_str())
                .bind(settings.pattern.as_ref().map_or("", |p| p.as_str()))
                .bind(domain::now()),
        )
        .await?;
        conn.execute(query(sql::CLEAR_ALLOWED_IMPERSONATORS).bind(name))
            .await?;
        for allowed in &settings.allowed_impersonators {
            conn.execute(
                query(sql::INSERT_ALLOWED_IMPERSONATOR)
                    .bind(name)
                    .bind(allowed.as_str())
                    .bind(comparison_key(allowed).as_str()),
            )
            .await?;
        }
        conn.execute(query(sql::CLEAR_TARGET_GROUPS).bind(name))
            .await?;
        for group in &settings.target_group_ids {
            conn.execute(query(sql::INSERT_TARGET_GROUP).bind(name).bind(*group))
                .await?;
        }
        let configured = load_integration(&mut conn, &self.patterns, platform).await?;
        let touched = Touched::of([Topic::Integration(platform)]);
        write.finish(configured, audit, touched).await
    }

    async fn impersonation_facts(
        &self,
        platform: Platform,
        actor: &str,
        target: &str,
    ) -> Result<Facts> {
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<FactRow> = pooled
            .conn()
            .fetch_all(
                query(sql::FACTS)
                    .bind(platform.as_str())
                    .bind(platform.name_key(actor).as_str())
                    .bind(comparison_key(actor).as_str())
                    .bind(platform.name_key(target).as_str())
                    .bind(comparison_key(target).as_str()),
            )
            .await?;
        facts_from_rows(rows, &self.patterns, platform, actor, target)
    }

    async fn get_session(&self, session_id: &SessionId) -> Result<Session> {
        let mut pooled = self.db.acquire().await?;
        find_session(&mut pooled.conn(), session_id)
            .await?
            .ok_or_else(|| session_not_found(session_id))
    }

    async fn begin_impersonation(
        &self,
        id: Id,
        session: NewSession,
        audit: AuditRecord,
    ) -> Result<Committed<Session>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        if find_session(&mut conn, &session.session_id)
            .await?
            .is_some()
        {
            return Err(Error::AlreadyExists(format!(
                "session_id: session {:?} is already recorded",
                session.session_id.as_str()
            )));
        }
        let actor_user_id = resolve(&mut conn, session.platform, &session.actor).await?;
        let target_user_id = resolve(&mut conn, session.platform, &session.target).await?;
        let begin_time = domain::now();
        conn.execute(
            query(sql::INSERT_SESSION)
                .bind(id)
                .bind(session.session_id.as_str())
                .bind(session.platform.as_str())
                .bind(session.actor.as_str())
                .bind(comparison_key(&session.actor).as_str())
                .bind(session.target.as_str())
                .bind(actor_user_id)
                .bind(target_user_id)
                .bind(session.reason.as_str())
                .bind(begin_time)
                .bind(session.ttl.map(|ttl| begin_time + ttl)),
        )
        .await?;
        let recorded = find_session(&mut conn, &session.session_id)
            .await?
            .ok_or_else(|| session_not_found(&session.session_id))?;
        let touched = Touched::of([Topic::Session(recorded.session_id.as_str().into())]);
        write.finish(recorded, audit, touched).await
    }

    async fn end_impersonation(
        &self,
        session_id: &SessionId,
        audit: AuditRecord,
    ) -> Result<Committed<Session>> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        conn.execute(
            query(sql::END_SESSION)
                .bind(session_id.as_str())
                .bind(domain::now()),
        )
        .await?;
        let session = find_session(&mut conn, session_id)
            .await?
            .ok_or_else(|| session_not_found(session_id))?;
        let touched = Touched::of([Topic::Session(session_id.as_str().into())]);
        write.finish(session, audit, touched).await
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> Result<Vec<Session>> {
        let before = page.after_id()?.unwrap_or(Id::LAST);
        let statement = if filter.actor_key.is_some() {
            sql::SESSIONS_OF_ACTOR
        } else if filter.platform.is_some() {
            sql::SESSIONS_ON_PLATFORM
        } else if filter.active_only {
            sql::OPEN_SESSIONS
        } else {
            sql::SESSIONS
        };
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<SessionRow> = pooled
            .conn()
            .fetch_all(
                query(statement)
                    .bind(before)
                    .bind(filter.platform.map(Platform::as_str))
                    .bind(filter.actor_key.as_deref())
                    .bind(filter.active_only)
                    .bind(domain::now())
                    .bind(page.limit()),
            )
            .await?;
        rows.into_iter().map(Session::try_from).collect()
    }
}

/// The platforms whose integration scopes impersonation to group `id`: a group in use there
/// may not be deleted.
pub(super) async fn platforms_targeting(conn: &mut Conn<'_>, group: Id) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = conn
        .fetch_all(query(sql::PLATFORMS_TARGETING_GROUP).bind(group))
        .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditRecord;

    /// Every uncached check reads its integration; a Trino pattern read again is the one
    /// compiled before, not compiled again.
    #[tokio::test]
    async fn reading_an_integration_reuses_its_compiled_pattern() {
        let store = SqlStore::open("sqlite::memory:").await.unwrap();
        let settings =
            IntegrationSettings::new(Platform::Trino, true, "", &[], "svc_.*", Vec::new()).unwrap();
        let record = AuditRecord::new(None, "ConfigureIntegration", "integration", "TRINO");
        store
            .configure_integration(Platform::Trino, settings, None, record)
            .await
            .unwrap();
        let pattern = async || {
            let facts = store
                .impersonation_facts(Platform::Trino, "svc_etl", "ada@example.com")
                .await
                .unwrap();
            facts.integration.settings.pattern.unwrap()
        };
        let (first, again) = (pattern().await, pattern().await);
        assert!(first.is_compiled_once_with(&again), "compiled again");
        let listed = store.get_integration(Platform::Trino).await.unwrap();
        assert!(first.is_compiled_once_with(&listed.settings.pattern.unwrap()));
    }
}
