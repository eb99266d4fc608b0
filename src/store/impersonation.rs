//! Integrations, the facts an impersonation decision reads, and sessions.

use async_trait::async_trait;

use super::{
    Committed, DbTime, ImpersonationStore, SqlStore,
    db::{Conn, query},
    grants,
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
        let platform = Platform::from_db(&row.platform)?;
        let pattern = patterns
            .parse("pattern", &row.allowed_impersonator_pattern)
            .map_err(|e| {
                Error::internal(format!("stored pattern of {}: {e}", platform.as_str()))
            })?;
        integrations.push(Integration {
            platform,
            settings: IntegrationSettings {
                enabled: row.enabled,
                impersonation_role: row.impersonation_role,
                allowed_impersonators: allowed
                    .iter()
                    .filter(|(p, _)| *p == row.platform)
                    .map(|(_, name)| name.clone())
                    .collect(),
                pattern,
                target_group_ids: targets
                    .iter()
                    .filter(|(p, _)| *p == row.platform)
                    .map(|(_, id)| *id)
                    .collect(),
            },
            update_time: row.update_time.map(|t| t.0),
            version: Version(row.version),
        });
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
/// or the user with that username (S3 names compare exactly, the others ignoring case). A name
/// that means two users (data from before that was refused) names nobody, so a check denies.
async fn resolve(conn: &mut Conn<'_>, platform: Platform, name: &str) -> Result<Option<Id>> {
    let rows: Vec<(Id, Option<String>)> = conn
        .fetch_all(
            query(sql::USERS_NAMED)
                .bind(platform.as_str())
                .bind(platform.name_key(name).as_str())
                .bind(comparison_key(name).as_str()),
        )
        .await?;
    let mut named = rows
        .into_iter()
        .filter(|(_, username)| {
            username
                .as_deref()
                .is_none_or(|username| platform.same_name(username, name))
        })
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
        return Ok(None);
    }
    Ok(first)
}

/// The user `name` resolves to, as a check sees it; `None` when it names no user.
async fn party(
    conn: &mut Conn<'_>,
    platform: Platform,
    name: &str,
    target_groups: &[Id],
) -> Result<Option<Party>> {
    let Some(user_id) = resolve(conn, platform, name).await? else {
        return Ok(None);
    };
    // Deleted between the two reads: as if it had never been found.
    let Some((disabled, permissions)) = grants::held_globally(conn, user_id).await? else {
        return Ok(None);
    };
    let target_groups: Vec<(Id,)> = if target_groups.is_empty() {
        Vec::new()
    } else {
        conn.fetch_all(query(sql::MEMBER_OF).bind(target_groups).bind(user_id))
            .await?
    };
    Ok(Some(Party {
        user_id,
        disabled,
        permissions,
        target_groups: target_groups.into_iter().map(|(id,)| id).collect(),
    }))
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
        let mut snapshot = self.db.begin_snapshot().await?;
        let mut conn = snapshot.conn();
        let integration = load_integration(&mut conn, &self.patterns, platform).await?;
        let target_groups = integration.settings.target_group_ids.clone();
        let actor_party = party(&mut conn, platform, actor, &[]).await?;
        let target_party = party(&mut conn, platform, target, &target_groups).await?;
        snapshot.end().await?;
        Ok(Facts {
            integration,
            actor_name: actor.to_owned(),
            actor: actor_party,
            target_name: target.to_owned(),
            target: target_party,
        })
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
