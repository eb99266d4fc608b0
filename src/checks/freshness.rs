//! What this process knows of the store's revisions, so that caches never answer from before a
//! change they must reflect.
//!
//! Every commit moves the revision (the audit sequence) forward. This process sees its own
//! commits as they happen, before their RPCs return, and other processes' through PostgreSQL's
//! LISTEN/NOTIFY (`postgres::listen`), each with what it touched (`super::invalidation`;
//! everything, when another process's notification did not say). A cached answer is usable
//! while no commit since the revision it was read at touched what it was read from, and only
//! while notifications are known to arrive: when the listening connection drops, caches are
//! bypassed until it is back and the revision has been read afresh.

use std::{
    sync::atomic::{AtomicBool, AtomicI64, Ordering},
    time::Duration,
};

use tokio::sync::Notify;

use super::invalidation::{Topic, TouchTable, Touched};
use crate::domain::Revision;

/// How long a check asking for a revision this process has not seen yet waits for it to be
/// heard, before reading the store instead.
const CATCH_UP_WAIT: Duration = Duration::from_millis(200);

/// The newest revision seen when a check began, and what every commit up to it touched: a
/// cached answer read at an earlier revision is usable when none of them touched what it was
/// read from.
#[derive(Clone, Copy)]
pub struct Epoch<'a> {
    pub(crate) at: i64,
    touches: &'a TouchTable,
}

impl Epoch<'_> {
    /// Whether an answer read at `read_at` from `deps` is still what the store would answer.
    pub(crate) fn still_holds(&self, read_at: i64, deps: &[Topic]) -> bool {
        read_at == self.at || self.touches.untouched_since(read_at, deps)
    }
}

/// How fresh an answer must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Cached answers may be used: stale by at most a notification's delay.
    #[default]
    Cached,
    /// The answer reflects at least this revision.
    AtLeast(Revision),
    /// The answer reflects every committed change: read the store.
    Full,
}

pub struct Freshness {
    seen: AtomicI64,
    /// What each seen commit touched.
    touches: TouchTable,
    /// Whether every commit of another process is heard; always true on SQLite (one process).
    hearing: AtomicBool,
    advanced: Notify,
}

impl Freshness {
    pub(crate) fn new(seen: i64, hearing: bool) -> Self {
        Self {
            seen: AtomicI64::new(seen),
            touches: TouchTable::new(),
            hearing: AtomicBool::new(hearing),
            advanced: Notify::new(),
        }
    }

    /// The newest revision known to have committed.
    pub fn seen(&self) -> i64 {
        self.seen.load(Ordering::Acquire)
    }

    /// `revision` has committed, touching `touched`: recorded before the revision is seen, so
    /// that an answer checked at a seen revision sees every touch up to it.
    pub(crate) fn advance(&self, revision: i64, touched: &Touched) {
        self.touches.record(revision, touched);
        if self.seen.fetch_max(revision, Ordering::AcqRel) < revision {
            self.advanced.notify_waiters();
        }
    }

    pub(crate) fn set_hearing(&self, hearing: bool) {
        self.hearing.store(hearing, Ordering::Release);
    }

    /// What a cached answer is checked against, or `None` when the store must be read.
    pub async fn cache_epoch(&self, consistency: Consistency) -> Option<Epoch<'_>> {
        match consistency {
            Consistency::Full => None,
            Consistency::Cached => self.usable(),
            Consistency::AtLeast(Revision(wanted)) => {
                if self.seen() < wanted && !self.wait_for(wanted).await {
                    return None;
                }
                self.usable()
            }
        }
    }

    fn usable(&self) -> Option<Epoch<'_>> {
        self.hearing.load(Ordering::Acquire).then(|| Epoch {
            at: self.seen(),
            touches: &self.touches,
        })
    }

    /// Waits up to [`CATCH_UP_WAIT`] for `revision` to be seen.
    async fn wait_for(&self, revision: i64) -> bool {
        let caught_up = async {
            loop {
                let advanced = self.advanced.notified();
                if self.seen() >= revision {
                    return;
                }
                advanced.await;
            }
        };
        tokio::time::timeout(CATCH_UP_WAIT, caught_up).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn caches_are_used_only_when_fresh_enough() {
        let freshness = Arc::new(Freshness::new(5, true));
        assert_eq!(
            freshness
                .cache_epoch(Consistency::Cached)
                .await
                .map(|epoch| epoch.at),
            Some(5)
        );
        assert_eq!(
            freshness
                .cache_epoch(Consistency::Full)
                .await
                .map(|epoch| epoch.at),
            None
        );
        assert_eq!(
            freshness
                .cache_epoch(Consistency::AtLeast(Revision(5)))
                .await
                .map(|epoch| epoch.at),
            Some(5)
        );
        let started = std::time::Instant::now();
        assert_eq!(
            freshness
                .cache_epoch(Consistency::AtLeast(Revision(7)))
                .await
                .map(|epoch| epoch.at),
            None,
            "a revision not heard of reads the store"
        );
        assert!(started.elapsed() >= CATCH_UP_WAIT);

        let hears = freshness.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            hears.advance(7, &Touched::nothing());
        });
        assert_eq!(
            freshness
                .cache_epoch(Consistency::AtLeast(Revision(7)))
                .await
                .map(|epoch| epoch.at),
            Some(7),
            "a revision heard of while waiting"
        );

        freshness.set_hearing(false);
        assert_eq!(
            freshness
                .cache_epoch(Consistency::Cached)
                .await
                .map(|epoch| epoch.at),
            None
        );
        assert_eq!(
            freshness
                .cache_epoch(Consistency::AtLeast(Revision(7)))
                .await
                .map(|epoch| epoch.at),
            None
        );
    }
}
