//! Answers the checks of the service (CheckImpersonation, CheckPermission,
//! GetEffectivePermissions, BatchCheck): the facts come from the store, or from caches that any
//! commit makes unusable at once, the rules from the domain, and every impersonation decision is
//! audited.
//!
//! A row per decision would make the audit log the bottleneck and the biggest table at
//! thousands of checks a second. So decisions are tallied in memory, one tally per distinct
//! (platform, actor, target, allowed, reason), and written in the background every interval as
//! one event each, with the count and the first and last time, in one transaction. A denial of
//! a pair that was allowed before is written at once, and whatever is pending is written when
//! the server stops.

use std::{
    hash::RandomState,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use equivalent::Equivalent;
use serde_json::json;
use tokio::{sync::Notify, task::JoinHandle};

use crate::domain::{
    self, Id,
    audit::AuditRecord,
    external::Platform,
    impersonation::{Decision, Reason, Session, Subject, decide},
    name::comparison_key,
    permission::PermissionName,
    policy::Grant,
};
use crate::error::{Error, Result};
use crate::store::{CacheKey, Consistency, EpochCache, Freshness, Store};

/// May `actor` act as the subject on `platform`? Evaluated straight from the store, with no
/// cache: the reference the cached answers are tested against. Also returns the target.
pub async fn evaluate(
    store: &dyn Store,
    platform: Platform,
    actor: &str,
    subject: &Subject,
) -> Result<(String, Decision)> {
    let target = match subject {
        Subject::Target(target) => target.clone(),
        Subject::Session(session_id) => {
            let session = store.get_session(session_id).await?;
            if let Some(ended) = session_standing(&session, platform, actor)? {
                return Ok((session.target, ended));
            }
            session.target
        }
    };
    let facts = store.impersonation_facts(platform, actor, &target).await?;
    Ok((target, decide(&facts)))
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
struct ImpersonationKey {
    platform: Platform,
    actor: String,
    target: String,
}

/// An [`ImpersonationKey`] borrowed from the request, for looking one up without copying the
/// names. Its fields are the key's, in the key's order, so both hash alike.
#[derive(Clone, Copy, Hash)]
struct ImpersonationQuery<'a> {
    platform: Platform,
    actor: &'a str,
    target: &'a str,
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
/// caches that a commit anywhere makes unusable (`store::Freshness`), and audited.
pub struct Decisions {
    store: Arc<dyn Store>,
    freshness: Arc<Freshness>,
    audit: Arc<DecisionAudit>,
    writer: Mutex<Option<JoinHandle<()>>>,
    sessions: EpochCache<String, Session>,
    impersonations: EpochCache<ImpersonationKey, Decision>,
    grants: EpochCache<(Id, Option<Id>), Arc<[Grant]>>,
    permissions: EpochCache<String, ()>,
}

impl Decisions {
    /// Starts the background writer of the decision audit, writing every `interval`; each
    /// cache holds at most `cache_entries`.
    pub fn start(store: Arc<dyn Store>, interval: Duration, cache_entries: usize) -> Self {
        let audit = Arc::new(DecisionAudit::default());
        let writer = audit.spawn_writer(store.clone(), interval);
        Self {
            freshness: store.freshness(),
            store,
            audit,
            writer: Mutex::new(Some(writer)),
            sessions: EpochCache::new(cache_entries),
            impersonations: EpochCache::new(cache_entries),
            grants: EpochCache::new(cache_entries),
            permissions: EpochCache::new(cache_entries),
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
        let target = match subject {
            Subject::Target(target) => target.clone(),
            Subject::Session(session_id) => {
                let session = self
                    .sessions
                    .get_or_read(session_id.as_str(), epoch, || {
                        self.store.get_session(session_id)
                    })
                    .await?;
                if let Some(ended) = session_standing(&session, platform, actor)? {
                    let pair = ImpersonationQuery {
                        platform,
                        actor,
                        target: &session.target,
                    };
                    self.audit.record(caller, pair, &ended, SystemTime::now());
                    return Ok(ended);
                }
                session.target
            }
        };
        let key = ImpersonationQuery {
            platform,
            actor,
            target: &target,
        };
        let decision = self
            .impersonations
            .get_or_read(&key, epoch, || async {
                let facts = self
                    .store
                    .impersonation_facts(platform, actor, &target)
                    .await?;
                Ok::<_, Error>(decide(&facts))
            })
            .await?;
        self.audit.record(caller, key, &decision, SystemTime::now());
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
        epoch: Option<i64>,
    ) -> Result<Arc<[Grant]>> {
        self.grants
            .get_or_read(&(user_id, tenant_id), epoch, || async {
                Ok(self
                    .store
                    .effective_permissions(user_id, tenant_id)
                    .await?
                    .into())
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
            .get_or_read(permission.as_str(), epoch, || {
                self.store.ensure_permission(permission)
            })
            .await?;
        Ok(false)
    }

    /// Stops the writer after a last write, then writes what came meanwhile: for a graceful
    /// shutdown, once calls have drained.
    pub async fn close(&self) {
        self.audit.closed.store(true, Ordering::Release);
        self.audit.wake.notify_one();
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && let Err(error) = writer.await
        {
            tracing::error!(%error, "the decision audit writer failed");
        }
        self.audit.write(self.store.as_ref()).await;
    }
}

/// The identity of a tally: a structured value, never text joined from input. Names are as
/// given (normalising them on every check would cost more than the few extra tallies of
/// callers that vary the case). The caller is the authenticated user who asked: the audit
/// event is theirs, whatever actor the question names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TallyKey {
    caller: Id,
    pair: ImpersonationKey,
    reason: Reason,
}

/// A [`TallyKey`] borrowed from the check, hashing as the key does (same fields, same order).
#[derive(Clone, Copy, Hash)]
struct TallyQuery<'a> {
    caller: Id,
    pair: ImpersonationQuery<'a>,
    reason: Reason,
}

impl Equivalent<TallyKey> for TallyQuery<'_> {
    fn equivalent(&self, key: &TallyKey) -> bool {
        self.caller == key.caller && self.reason == key.reason && self.pair.equivalent(&key.pair)
    }
}

/// Decisions of one key since the last write.
#[derive(Clone, Debug)]
struct Tally {
    actor_user_id: Option<Id>,
    target_user_id: Option<Id>,
    count: u64,
    /// Clock readings, made timestamps only when written: cheaper on the hot path.
    first: SystemTime,
    last: SystemTime,
}

impl Tally {
    fn record(self, key: &TallyKey) -> AuditRecord {
        let mut record = AuditRecord::new(
            Some(key.caller),
            "CheckImpersonation",
            "user",
            self.target_user_id
                .map_or_else(|| key.pair.target.clone(), |id| id.to_string()),
        )
        .with_details(json!({
            "platform": key.pair.platform.as_str(),
            "actor": key.pair.actor,
            "actor_user_id": self.actor_user_id.map(|id| id.to_string()),
            "target": key.pair.target,
            "target_user_id": self.target_user_id.map(|id| id.to_string()),
            "allowed": key.reason.allows(),
            "reason": key.reason.as_str(),
            "count": self.count,
            "first_time": domain::timestamp(self.first).to_rfc3339(),
            "last_time": domain::timestamp(self.last).to_rfc3339(),
        }));
        record.impersonation_user = Some(key.pair.target.clone());
        record
    }

    fn merge(&mut self, other: Tally) {
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// The most distinct decisions held before a write is forced, whatever the interval.
const MAX_PENDING: usize = 10_000;

/// The most (platform, actor, target) pairs remembered as allowed, for writing a denial of one
/// of them at once.
const MAX_ALLOWED_PAIRS: usize = 100_000;

struct DecisionAudit {
    /// Looked up by borrowed keys, so that counting a repeated decision copies no names.
    pending: Mutex<hashbrown::HashMap<TallyKey, Tally, RandomState>>,
    /// Pairs allowed before.
    allowed: quick_cache::sync::Cache<ImpersonationKey, ()>,
    /// Wakes the writer before the interval ends.
    wake: Arc<Notify>,
    /// Set on shutdown: the writer stops after its next write.
    closed: AtomicBool,
}

impl Default for DecisionAudit {
    fn default() -> Self {
        Self {
            pending: Mutex::new(hashbrown::HashMap::default()),
            allowed: quick_cache::sync::Cache::new(MAX_ALLOWED_PAIRS),
            wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
        }
    }
}

impl DecisionAudit {
    fn record(
        &self,
        caller: Id,
        pair: ImpersonationQuery<'_>,
        decision: &Decision,
        now: SystemTime,
    ) {
        let urgent = if decision.allowed() {
            if !self.allowed.contains_key(&pair) {
                self.allowed.insert(pair.to_key(), ());
            }
            false
        } else {
            self.allowed.remove(&pair).is_some()
        };
        let tally = Tally {
            actor_user_id: decision.actor_user_id,
            target_user_id: decision.target_user_id,
            count: 1,
            first: now,
            last: now,
        };
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let key = TallyQuery {
                caller,
                pair,
                reason: decision.reason,
            };
            match pending.get_mut(&key) {
                Some(existing) => existing.merge(tally),
                None => {
                    pending.insert(
                        TallyKey {
                            caller,
                            pair: key.pair.to_key(),
                            reason: key.reason,
                        },
                        tally,
                    );
                }
            }
            pending.len() >= MAX_PENDING
        };
        if urgent || full {
            self.wake.notify_one();
        }
    }

    /// The writer holds only a weak reference, so it ends with the service even unclosed.
    fn spawn_writer(self: &Arc<Self>, store: Arc<dyn Store>, interval: Duration) -> JoinHandle<()> {
        let (audit, wake) = (Arc::downgrade(self), self.wake.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = wake.notified() => {}
                }
                let Some(audit) = audit.upgrade() else { return };
                audit.write(store.as_ref()).await;
                if audit.closed.load(Ordering::Acquire) {
                    return;
                }
            }
        })
    }

    /// Appends what is pending; on failure (the store away) keeps it for the next write.
    async fn write(&self, store: &dyn Store) {
        let taken: Vec<(TallyKey, Tally)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.drain().collect()
        };
        if taken.is_empty() {
            return;
        }
        let records = taken
            .iter()
            .map(|(key, tally)| tally.clone().record(key))
            .collect();
        if let Err(error) = store.append_audit_events(records).await {
            tracing::warn!(
                error = %error.with_causes(),
                decisions = taken.len(),
                "writing impersonation decisions to the audit log failed; retrying with the next write"
            );
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, tally) in taken {
                match pending.get_mut(&key) {
                    Some(newer) => newer.merge(tally),
                    None => {
                        pending.insert(key, tally);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    /// A borrowed key must hash as its owned key does, or lookups by it would miss: the caches
    /// would never hit, and a repeated decision would replace its tally instead of counting.
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

        let caller = Id::new();
        let owned = TallyKey {
            caller,
            pair: key,
            reason: Reason::AllowedByPattern,
        };
        let tally = TallyQuery {
            caller,
            pair: query,
            reason: Reason::AllowedByPattern,
        };
        assert_eq!(hasher.hash_one(tally), hasher.hash_one(&owned));
        assert!(tally.equivalent(&owned));
        let denied = TallyQuery {
            reason: Reason::TargetUnknown,
            ..tally
        };
        assert!(!denied.equivalent(&owned));
        let another_caller = TallyQuery {
            caller: Id::new(),
            ..tally
        };
        assert!(!another_caller.equivalent(&owned));
    }
}
