//! The allowance of self-service writes: what a caller without USER_ADMIN does to its own API
//! keys (CreateApiKey, RevokeApiKey). Anyone with a key may make them, and each is a commit, an
//! audit event and a new revision that makes every cache unusable, so one caller may make only
//! so many a minute. The allowance is a GCRA per user (governor's keyed limiter): `n` a minute,
//! up to `n` at once, one more every `60 / n` seconds. It is counted in this process only, so
//! behind `r` replicas a caller may make up to `r` times as many.

use std::{num::NonZeroU32, time::Duration};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::Principal;
use crate::domain::{Id, permission::USER_ADMIN};
use crate::error::{Error, Result};

/// How often callers whose allowance is full again are forgotten.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

pub struct SelfServiceLimit {
    /// `None` when the allowance is unlimited.
    limiter: Option<DefaultKeyedRateLimiter<Id>>,
    per_minute: u32,
}

impl SelfServiceLimit {
    /// `per_minute` writes a minute per caller, all at once at most; 0 means unlimited.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute)
                .map(|writes| RateLimiter::keyed(Quota::per_minute(writes))),
            per_minute,
        }
    }

    /// Takes one write from `actor`'s allowance when it acts on the keys of its own user
    /// (`owner`) without USER_ADMIN; RateLimited, saying when to retry, once none is left. A
    /// USER_ADMIN is not limited: it is trusted with every user's keys.
    pub fn admit(&self, actor: &Principal, owner: Id) -> Result<()> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if owner != actor.user_id || actor.has(USER_ADMIN) {
            return Ok(());
        }
        limiter.check_key(&actor.user_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            Error::RateLimited {
                reason: format!(
                    "too many changes to your own API keys: at most {} a minute \
                     (self_service_writes_per_minute)",
                    self.per_minute
                ),
                retry_after: whole_seconds_after(wait),
            }
        })
    }

    /// Forgets the callers whose allowance is full again, which are indistinguishable from
    /// callers never seen, so memory holds only those of the last minute.
    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Calls `forget_idle` every `FORGET_IDLE_EVERY`, for ever.
    pub async fn forget_idle_periodically(self: std::sync::Arc<Self>) {
        let mut every = tokio::time::interval(FORGET_IDLE_EVERY);
        loop {
            every.tick().await;
            self.forget_idle();
        }
    }

    /// How many callers the limiter holds state for.
    #[cfg(test)]
    fn callers_held(&self) -> usize {
        self.limiter.as_ref().map_or(0, |limiter| limiter.len())
    }
}

/// `wait` rounded up to whole seconds, at least one: a caller retrying then is admitted, and the
/// message and the RetryInfo say the same.
fn whole_seconds_after(wait: Duration) -> Duration {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(seconds.max(1))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hashbrown::HashSet;

    use super::*;

    fn caller(permissions: &[&str]) -> Principal {
        Principal {
            user_id: Id::new(),
            permissions: Arc::new(
                permissions
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<HashSet<_>>(),
            ),
            key_expire_time: None,
            certificate: None,
        }
    }

    #[test]
    fn a_caller_gets_its_allowance_then_a_retry_hint() {
        let limit = SelfServiceLimit::per_minute(2);
        let (ada, bob) = (caller(&[]), caller(&[]));
        limit.admit(&ada, ada.user_id).unwrap();
        limit.admit(&ada, ada.user_id).unwrap();
        match limit.admit(&ada, ada.user_id) {
            Err(Error::RateLimited { retry_after, .. }) => {
                // One write comes back every 30 s.
                assert!(
                    (Duration::from_secs(29)..=Duration::from_secs(30)).contains(&retry_after),
                    "{retry_after:?}"
                );
            }
            other => panic!("the third write in a minute is refused: {other:?}"),
        }
        limit.admit(&bob, bob.user_id).unwrap();
        assert_eq!(limit.callers_held(), 2);
    }

    #[test]
    fn admins_and_an_unlimited_allowance_are_never_refused() {
        let limit = SelfServiceLimit::per_minute(1);
        let admin = caller(&[USER_ADMIN]);
        let other = Id::new();
        for _ in 0..5 {
            limit.admit(&admin, admin.user_id).unwrap();
            limit.admit(&admin, other).unwrap();
        }
        assert_eq!(limit.callers_held(), 0, "admins use no allowance");

        let unlimited = SelfServiceLimit::per_minute(0);
        let ada = caller(&[]);
        for _ in 0..100 {
            unlimited.admit(&ada, ada.user_id).unwrap();
        }
    }

    #[test]
    fn idle_callers_are_forgotten() {
        let limit = SelfServiceLimit::per_minute(600);
        let ada = caller(&[]);
        limit.admit(&ada, ada.user_id).unwrap();
        assert_eq!(limit.callers_held(), 1);
        // One write comes back every tenth of a second; the state of ada's is gone after two.
        std::thread::sleep(Duration::from_millis(300));
        limit.forget_idle();
        assert_eq!(limit.callers_held(), 0);
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds_after(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            whole_seconds_after(Duration::from_millis(1500)),
            Duration::from_secs(2)
        );
        assert_eq!(
            whole_seconds_after(Duration::from_secs(30)),
            Duration::from_secs(30)
        );
    }
}
