//! The checks themselves (CheckImpersonation, CheckPermission, GetEffectivePermissions,
//! BatchCheck): facts from the store, or from caches that keep each answer until a commit
//! touches what it was read from ([`super::invalidation`]), the rules from the domain; impersonation decisions are handed to the
//! decision audit ([`super::audit`]).

use std::{sync::Arc, time::Duration};

use equivalent::Equivalent;

use super::{
    Deps, Topic,
    audit::DecisionAudit,
    cache::{CacheKey, EpochCache},
    freshness::{Consistency, Epoch, Freshness},
};
use crate::domain::{
    self, Id,
    external::Platform,
    impersonation::{Decision, Facts, Session, SessionId, Subject, decide},
    name::comparison_key,
    permission::PermissionName,
    policy::Grant,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::telemetry::Metrics;

/// May `actor` act as the subject on `platform`? Evaluated straight from the store, with no
/// cache: the reference the cached answers are tested against. Also returns the target.
pub async fn evaluate(
    store: &dyn Store,
    platform: Platform,
    actor: &str,
    subject: &Subject,
) -> Result<(String, Decision)> {
    let (target, ended) = resolve_subject(subject, platform, actor, async |id| {
        store.get_session(id).await
    })
    .await?;
    let decision = match ended {
        Some(ended) => ended,
        None => decide(&store.impersonation_facts(platform, actor, &target).await?),
    };
    Ok((target, decision))
}

/// The target a check asks about, and the decision already made when the subject is a session
/// that has ended; `read_session` reads a session (from the store, or a cache).
async fn resolve_subject(
    subject: &Subject,
    platform: Platform,
    actor: &str,
    read_session: impl AsyncFnOnce(&SessionId) -> Result<Session>,
) -> Result<(String, Option<Decision>)> {
    match subject {
        Subject::Target(target) => Ok((target.clone(), None)),
        Subject::Session(session_id) => {
            let session = read_session(session_id).await?;
            let ended = session_standing(&session, platform, actor)?;
            Ok((session.target, ended))
        }
    }
}

/// What an impersonation decision was read from: the integration, the two names (whoever they
/// name, or that they name no one) and the users they named.
fn read_from(facts: &Facts) -> Deps {
    let users = [&facts.actor, &facts.target]
        .into_iter()
        .flatten()
        .map(|party| Topic::User(party.user_id));
    [
        Topic::Integration(facts.integration.platform),
        Topic::name(&facts.actor_name),
        Topic::name(&facts.target_name),
    ]
    .into_iter()
    .chain(users)
    .collect()
}

/// A session stands for its target while it is active, and only for its own platform and
/// actor: an error when it is not theirs, the decision when it has ended, `None` while active.
fn session_standing(
    session: &Session,
    platform: Platform,
    actor: &str,
) -> Result<Option<Decision>> {
    if session.platform != platform {
        return Err(Error::invalid(
            "platform",
            format!(
                "session {:?} was begun on {}, not {}",
                session.session_id,
                session.platform.as_str(),
                platform.as_str()
            ),
        ));
    }
    if comparison_key(&session.actor) != comparison_key(actor) {
        return Err(Error::invalid(
            "actor",
            format!(
                "session {:?} is {:?}'s, not {actor:?}'s",
                session.session_id, session.actor
            ),
        ));
    }
    Ok((!session.active_at(domain::now())).then(|| Decision::session_ended(session)))
}

/// What an impersonation decision is cached under: the names exactly as asked, so that the
/// explanation quotes them as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct ImpersonationKey {
    pub(super) platform: Platform,
    pub(super) actor: String,
    pub(super) target: String,
}

/// An [`ImpersonationKey`] borrowed from the request, for looking one up without copying the
/// names. Its fields are the key's, in the key's order, so both hash alike.
#[derive(Clone, Copy, Hash)]
pub(super) struct ImpersonationQuery<'a> {
    pub(super) platform: Platform,
    pub(super) actor: &'a str,
    pub(super) target: &'a str,
}

impl Equivalent<ImpersonationKey> for ImpersonationQuery<'_> {
    fn equivalent(&self, key: &ImpersonationKey) -> bool {
        self.platform == key.platform && self.actor == key.actor && self.target == key.target
    }
}

impl CacheKey<ImpersonationKey> for ImpersonationQuery<'_> {
    fn to_key(&self) -> ImpersonationKey {
        ImpersonationKey {
            platform: self.platform,
            actor: self.actor.to_owned(),
            target: self.target.to_owned(),
        }
    }
}

/// The checks of the service (impersonation decisions, effective permissions), answered from
/// caches whose answers a commit touching what they were read from makes unusable
/// ([`super::invalidation`]), and audited.
pub struct Decisions {
    store: Arc<dyn Store>,
    freshness: Arc<Freshness>,
    audit: DecisionAudit,
    sessions: EpochCache<String, Session>,
    impersonations: EpochCache<ImpersonationKey, Decision>,
    grants: EpochCache<(Id, Option<Id>), Arc<[Grant]>>,
    permissions: EpochCache<String, ()>,
}

impl Decisions {
    /// Starts the background writer of the decision audit, writing every `interval`; each
    /// cache holds at most `cache_entries`.
    pub fn start(
        store: Arc<dyn Store>,
        interval: Duration,
        cache_entries: usize,
        metrics: &Metrics,
    ) -> Self {
        let audit = DecisionAudit::start(store.clone(), interval);
        let lookups = |name| metrics.cache_lookups(name);
        Self {
            freshness: store.freshness(),
            store,
            audit,
            sessions: EpochCache::new(cache_entries, lookups("sessions")),
            impersonations: EpochCache::new(cache_entries, lookups("impersonations")),
            grants: EpochCache::new(cache_entries, lookups("grants")),
            permissions: EpochCache::new(cache_entries, lookups("permissions")),
        }
    }

    /// May `actor` act as the subject on `platform`, as `caller` asks; the decision is audited
    /// as the caller's.
    pub async fn check_impersonation(
        &self,
        caller: Id,
        platform: Platform,
        actor: &str,
        subject: &Subject,
        consistency: Consistency,
    ) -> Result<Decision> {
        let epoch = self.freshness.cache_epoch(consistency).await;
        let (target, ended) = resolve_subject(subject, platform, actor, async |id| {
            self.sessions
                .get_or_read(id.as_str(), epoch, || async {
                    let session = self.store.get_session(id).await?;
                    Ok::<_, Error>((
                        session,
                        Deps::from_iter([Topic::Session(id.as_str().into())]),
                    ))
                })
                .await
        })
        .await?;
        let key = ImpersonationQuery {
            platform,
            actor,
            target: &target,
        };
        let decision = match ended {
            Some(ended) => ended,
            None => {
                self.impersonations
                    .get_or_read(&key, epoch, || async {
                        let facts = self
                            .store
                            .impersonation_facts(platform, actor, &target)
                            .await?;
                        Ok::<_, Error>((decide(&facts), read_from(&facts)))
                    })
                    .await?
            }
        };
        self.audit.record(caller, key, &decision);
        Ok(decision)
    }

    /// Every path by which the user holds a permission, globally and, when given, within the
    /// tenant.
    pub async fn effective_permissions(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
        consistency: Consistency,
    ) -> Result<Arc<[Grant]>> {
        let epoch = self.freshness.cache_epoch(consistency).await;
        self.grants_at(user_id, tenant_id, epoch).await
    }

    async fn grants_at(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
        epoch: Option<Epoch<'_>>,
    ) -> Result<Arc<[Grant]>> {
        self.grants
            .get_or_read(&(user_id, tenant_id), epoch, || async {
                let grants = self.store.effective_permissions(user_id, tenant_id).await?;
                Ok::<_, Error>((grants.into(), Deps::from_iter([Topic::User(user_id)])))
            })
            .await
    }

    /// Whether the user holds `permission` (globally, or in the tenant too); an unknown
    /// permission is INVALID_ARGUMENT.
    pub async fn holds(
        &self,
        user_id: Id,
        permission: &PermissionName,
        tenant_id: Option<Id>,
        consistency: Consistency,
    ) -> Result<bool> {
        let epoch = self.freshness.cache_epoch(consistency).await;
        let grants = self.grants_at(user_id, tenant_id, epoch).await?;
        if grants.iter().any(|g| g.permission == permission.as_str()) {
            return Ok(true);
        }
        // Only a permission that exists can be held, so only a "no" needs to know it exists.
        self.permissions
            .get_or_read(permission.as_str(), epoch, || async {
                // Only deleting a permission makes this wrong, and that touches everything.
                self.store.ensure_permission(permission).await?;
                Ok::<_, Error>(((), Deps::new()))
            })
            .await?;
        Ok(false)
    }

    /// Writes the decision audit's last tallies: for a graceful shutdown, once calls have
    /// drained.
    pub async fn close(&self) {
        self.audit.close().await;
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, RandomState};

    use super::*;

    /// A borrowed key must hash as its owned key does, or lookups by it would miss: the cache
    /// would never hit.
    #[test]
    fn borrowed_keys_hash_and_compare_as_their_owned_keys() {
        let hasher = RandomState::new();
        let query = ImpersonationQuery {
            platform: Platform::Trino,
            actor: "Ann",
            target: "bob@example.com",
        };
        let key = query.to_key();
        assert_eq!(hasher.hash_one(query), hasher.hash_one(&key));
        assert!(query.equivalent(&key));
        let other = ImpersonationQuery {
            target: "Bob@example.com",
            ..query
        };
        assert!(!other.equivalent(&key), "names are compared as given");
    }
}
