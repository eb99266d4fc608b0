//! The decision audit: every impersonation decision, tallied.
//!
//! A row per decision would make the audit log the bottleneck and the biggest table at
//! thousands of checks a second. So decisions are tallied in memory, one tally per distinct
//! (caller, platform, actor, target, reason), and written in the background every interval as
//! one event each, with the count and the first and last time, in one transaction. A denial of
//! a pair that was allowed before is written at once, with that pair's other tallies (only
//! that pair's: a revocation denies many pairs one after the other, and writing every pending
//! tally with each took a fifth of the server's CPU under load and held the write lock from
//! the writes themselves), and whatever is pending is written when the server stops.

use std::{
    collections::HashSet,
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

use super::{
    cache::CacheKey,
    decisions::{ImpersonationKey, ImpersonationQuery},
};
use crate::domain::{
    self, Id,
    audit::AuditRecord,
    impersonation::{Decision, Reason},
};
use crate::store::Store;

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

/// The decision audit of a running service: the tallies, and the writer that empties them.
pub(super) struct DecisionAudit {
    tallies: Arc<Tallies>,
    writer: Mutex<Option<JoinHandle<()>>>,
    store: Arc<dyn Store>,
}

impl DecisionAudit {
    /// Starts the background writer, writing every `interval`.
    pub(super) fn start(store: Arc<dyn Store>, interval: Duration) -> Self {
        let tallies = Arc::new(Tallies::default());
        let writer = tallies.spawn_writer(store.clone(), interval);
        Self {
            tallies,
            writer: Mutex::new(Some(writer)),
            store,
        }
    }

    /// Counts one decision `caller` asked for.
    pub(super) fn record(&self, caller: Id, pair: ImpersonationQuery<'_>, decision: &Decision) {
        self.tallies
            .record(caller, pair, decision, SystemTime::now());
    }

    /// Stops the writer after a last write, then writes what came meanwhile.
    pub(super) async fn close(&self) {
        self.tallies.closed.store(true, Ordering::Release);
        self.tallies.wake.notify_one();
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
        self.tallies.write(self.store.as_ref(), None).await;
    }
}

/// Decisions counted since the last write.
struct Tallies {
    /// Looked up by borrowed keys, so that counting a repeated decision copies no names.
    pending: Mutex<hashbrown::HashMap<TallyKey, Tally, RandomState>>,
    /// Pairs allowed before.
    allowed: quick_cache::sync::Cache<ImpersonationKey, ()>,
    /// Pairs allowed before and denied since, whose tallies are written at once.
    denied_since: Mutex<HashSet<ImpersonationKey>>,
    /// Wakes the writer before the interval ends.
    wake: Arc<Notify>,
    /// Set on shutdown: the writer stops after its next write.
    closed: AtomicBool,
}

impl Default for Tallies {
    fn default() -> Self {
        Self {
            pending: Mutex::new(hashbrown::HashMap::default()),
            allowed: quick_cache::sync::Cache::new(MAX_ALLOWED_PAIRS),
            denied_since: Mutex::default(),
            wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
        }
    }
}

impl Tallies {
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
        if urgent {
            self.denied_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(pair.to_key());
        }
        if urgent || full {
            self.wake.notify_one();
        }
    }

    /// The writer holds only a weak reference, so it ends with the service even unclosed.
    fn spawn_writer(self: &Arc<Self>, store: Arc<dyn Store>, interval: Duration) -> JoinHandle<()> {
        let (audit, wake) = (Arc::downgrade(self), self.wake.clone());
        tokio::spawn(async move {
            // A fixed schedule, so that writes of denials do not put off the others.
            let mut every =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let due = tokio::select! {
                    _ = every.tick() => true,
                    () = wake.notified() => false,
                };
                let Some(audit) = audit.upgrade() else { return };
                let closed = audit.closed.load(Ordering::Acquire);
                let full = audit
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len()
                    >= MAX_PENDING;
                let denied = std::mem::take(
                    &mut *audit
                        .denied_since
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                let only = (!(due || closed || full)).then_some(denied);
                audit.write(store.as_ref(), only).await;
                if closed {
                    return;
                }
            }
        })
    }

    /// Appends what is pending (`only` these pairs' tallies, when given); on failure (the store
    /// away) keeps it for the next write.
    async fn write(&self, store: &dyn Store, only: Option<HashSet<ImpersonationKey>>) {
        let taken: Vec<(TallyKey, Tally)> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            match only {
                None => pending.drain().collect(),
                Some(pairs) => pending
                    .extract_if(|key, _| pairs.contains(&key.pair))
                    .collect(),
            }
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
    use crate::domain::external::Platform;

    /// A borrowed key must hash as its owned key does, or a repeated decision would replace
    /// its tally instead of counting.
    #[test]
    fn borrowed_tally_keys_hash_and_compare_as_their_owned_keys() {
        let hasher = RandomState::new();
        let pair = ImpersonationQuery {
            platform: Platform::Trino,
            actor: "Ann",
            target: "bob@example.com",
        };
        let caller = Id::new();
        let owned = TallyKey {
            caller,
            pair: pair.to_key(),
            reason: Reason::AllowedByPattern,
        };
        let tally = TallyQuery {
            caller,
            pair,
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
