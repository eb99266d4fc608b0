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
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::json;
use tokio::{sync::Notify, task::JoinHandle};

use crate::domain::{
    self, Id, Timestamp,
    audit::AuditRecord,
    external::Platform,
    impersonation::{Decision, Reason, Session, Subject, decide},
    name::comparison_key,
    permission::PermissionName,
    policy::Grant,
};
use crate::error::{Error, Result};
use crate::store::{Consistency, EpochCache, Freshness, Store};

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

/// The checks of the service (impersonation decisions, effective permissions), answered from
/// caches that a commit anywhere makes unusable (`store::Freshness`), and audited.
pub struct Decisions {
    store: Arc<dyn Store>,
    freshness: Arc<Freshness>,
    audit: Arc<DecisionAudit>,
    writer: Mutex<Option<JoinHandle<()>>>,
    sessions: EpochCache<String, Session>,
    impersonations: EpochCache<ImpersonationKey, Decision>,
    grants: EpochCache<(Id, Option<Id>), Vec<Grant>>,
    permissions: EpochCache<String, ()>,
}

impl Decisions {
    /// Starts the background writer of the decision audit, writing every `interval`; each
    /// cache holds at most `cache_entries`.
    pub fn start(store: Arc<dyn Store>, interval: Duration, cache_entries: u64) -> Self {
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

    pub async fn check_impersonation(
        &self,
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
                    .get_or_read(session_id.as_str().to_owned(), epoch, || {
                        self.store.get_session(session_id)
                    })
                    .await?;
                if let Some(ended) = session_standing(&session, platform, actor)? {
                    self.audit
                        .record(platform, actor, &session.target, &ended, domain::now());
                    return Ok(ended);
                }
                session.target
            }
        };
        let key = ImpersonationKey {
            platform,
            actor: actor.to_owned(),
            target: target.clone(),
        };
        let decision = self
            .impersonations
            .get_or_read(key, epoch, || async {
                let facts = self
                    .store
                    .impersonation_facts(platform, actor, &target)
                    .await?;
                Ok::<_, Error>(decide(&facts))
            })
            .await?;
        self.audit
            .record(platform, actor, &target, &decision, domain::now());
        Ok(decision)
    }

    /// Every path by which the user holds a permission, globally and, when given, within the
    /// tenant.
    pub async fn effective_permissions(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
        consistency: Consistency,
    ) -> Result<Vec<Grant>> {
        let epoch = self.freshness.cache_epoch(consistency).await;
        self.grants_at(user_id, tenant_id, epoch).await
    }

    async fn grants_at(
        &self,
        user_id: Id,
        tenant_id: Option<Id>,
        epoch: Option<i64>,
    ) -> Result<Vec<Grant>> {
        self.grants
            .get_or_read((user_id, tenant_id), epoch, || {
                self.store.effective_permissions(user_id, tenant_id)
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
        self.permissions
            .get_or_read(permission.as_str().to_owned(), epoch, || {
                self.store.ensure_permission(permission)
            })
            .await?;
        let grants = self.grants_at(user_id, tenant_id, epoch).await?;
        Ok(grants.iter().any(|g| g.permission == permission.as_str()))
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
/// callers that vary the case).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TallyKey {
    platform: Platform,
    actor: String,
    target: String,
    reason: Reason,
}

/// Decisions of one key since the last write.
#[derive(Clone, Debug)]
struct Tally {
    actor_user_id: Option<Id>,
    target_user_id: Option<Id>,
    count: u64,
    first: Timestamp,
    last: Timestamp,
}

impl Tally {
    fn record(self, key: &TallyKey) -> AuditRecord {
        let mut record = AuditRecord::new(
            self.actor_user_id,
            "CheckImpersonation",
            "user",
            self.target_user_id
                .map_or_else(|| key.target.clone(), |id| id.to_string()),
        )
        .with_details(json!({
            "platform": key.platform.as_str(),
            "actor": key.actor,
            "target": key.target,
            "allowed": key.reason.allows(),
            "reason": key.reason.as_str(),
            "count": self.count,
            "first_time": self.first.to_rfc3339(),
            "last_time": self.last.to_rfc3339(),
        }));
        record.impersonation_user = Some(key.target.clone());
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
const MAX_ALLOWED_PAIRS: u64 = 100_000;

struct DecisionAudit {
    pending: Mutex<HashMap<TallyKey, Tally>>,
    /// Pairs allowed before, as (platform, actor, target).
    allowed: moka::sync::Cache<(Platform, String, String), ()>,
    /// Wakes the writer before the interval ends.
    wake: Arc<Notify>,
    /// Set on shutdown: the writer stops after its next write.
    closed: AtomicBool,
}

impl Default for DecisionAudit {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            allowed: moka::sync::Cache::new(MAX_ALLOWED_PAIRS),
            wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
        }
    }
}

impl DecisionAudit {
    fn record(
        &self,
        platform: Platform,
        actor: &str,
        target: &str,
        decision: &Decision,
        now: Timestamp,
    ) {
        let key = TallyKey {
            platform,
            actor: actor.to_owned(),
            target: target.to_owned(),
            reason: decision.reason,
        };
        let pair = (platform, key.actor.clone(), key.target.clone());
        let urgent = if decision.allowed() {
            if !self.allowed.contains_key(&pair) {
                self.allowed.insert(pair, ());
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
            match pending.get_mut(&key) {
                Some(existing) => existing.merge(tally),
                None => {
                    pending.insert(key, tally);
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
                %error,
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
