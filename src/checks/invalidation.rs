//! What a write makes unusable in the check path's caches, and what a cached answer depends on.
//!
//! Every commit declares what it touched ([`Touched`]); every cached answer keeps what it was
//! read from ([`Topic`]s) and the revision it was read at. An answer stays usable until a later
//! commit touches one of its topics, or touches everything. What each kind of write touches, in
//! one place:
//!
//! | write | touches |
//! |---|---|
//! | CreateUser, the bootstrap admin | the new user's names: an answer that found no one by them (ACTOR_UNKNOWN, TARGET_UNKNOWN, a refused certificate) |
//! | UpdateUser, MigrateUser, Set/ClearExternalUsername | the user, and every name it had or has |
//! | DisableUser, EnableUser, attributes, Grant/RevokePermission | the user |
//! | DeleteUser | the user and its names |
//! | CreateApiKey, RevokeApiKey | the key and its user |
//! | AddMembers, RemoveMember | each user added or removed |
//! | DeleteGroup | its members |
//! | AssignRole, UnassignRole | the user, or each member of the group |
//! | ConfigureIntegration | its platform's integration |
//! | BeginImpersonation, EndImpersonation | the session |
//! | a sync's batch | each user it changed, and every name they had or have |
//! | CreateGroup, UpdateGroup, CreateRole, IAMs, the decision audit | nothing a check reads |
//! | UpdateRole, DeleteRole, Create/DeletePermission, tenants, UpdateSettings, rotating the secret key | everything |
//!
//! The last row is broad on purpose: a role's permissions reach every user it is assigned to,
//! directly or through groups, and settings and permission definitions every answer; they
//! change rarely. A write states what it touched when it commits (`Write::finish` takes a
//! [`Touched`]), so a new write cannot forget to; `tests/it/cache_conformance.rs` checks that
//! what each kind declares is enough.
//!
//! The revisions that touched each topic are kept in a fixed table of slots indexed by the
//! topic's hash (`TouchTable`): two topics sharing a slot only make an answer read again
//! sooner, never keep a stale one, and the table never grows or forgets.

use std::{
    hash::{BuildHasher, Hash, RandomState},
    sync::atomic::{AtomicI64, Ordering},
};

use smallvec::SmallVec;

use crate::domain::{Id, external::Platform, name::comparison_key};

/// Something a cached answer was read from, and a write may change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// A user: its row (disabled, names), grants, role assignments, memberships, keys.
    User(Id),
    /// A name, by its comparison key: who it names (a username, an external username, a
    /// certificate URI), or that it names no one.
    Name(String),
    Integration(Platform),
    Session(String),
    ApiKey(Id),
}

impl Topic {
    pub fn name(name: &str) -> Self {
        Self::Name(comparison_key(name))
    }
}

/// What an answer was read from: a few topics.
pub type Deps = SmallVec<[Topic; 5]>;

/// What one commit touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    topics: Vec<Topic>,
    everything: bool,
}

impl Touched {
    /// A write no check reads from.
    pub fn nothing() -> Self {
        Self::default()
    }

    /// A broad change: every cached answer becomes unusable.
    pub fn everything() -> Self {
        Self {
            topics: Vec::new(),
            everything: true,
        }
    }

    pub fn of(topics: impl IntoIterator<Item = Topic>) -> Self {
        Self {
            topics: topics.into_iter().collect(),
            everything: false,
        }
    }

    pub fn and(mut self, topics: impl IntoIterator<Item = Topic>) -> Self {
        self.topics.extend(topics);
        self
    }

    pub fn merge(&mut self, other: Touched) {
        self.everything |= other.everything;
        self.topics.extend(other.topics);
    }

    pub fn is_everything(&self) -> bool {
        self.everything
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }
}

/// The longest payload sent: PostgreSQL refuses a notification of 8000 bytes or more.
const MAX_PAYLOAD_BYTES: usize = 7_900;

impl Touched {
    /// What another process is told a commit touched: JSON pairs of a kind and a value, or
    /// `None` when it touched everything or would not fit a notification (the listener then
    /// takes it to have touched everything).
    pub(crate) fn to_payload(&self) -> Option<String> {
        if self.everything {
            return None;
        }
        let pairs: Vec<(&str, String)> = self
            .topics
            .iter()
            .map(|topic| match topic {
                Topic::User(id) => ("u", id.to_string()),
                Topic::Name(key) => ("n", key.clone()),
                Topic::Integration(platform) => ("i", platform.as_str().to_owned()),
                Topic::Session(id) => ("s", id.clone()),
                Topic::ApiKey(id) => ("k", id.to_string()),
            })
            .collect();
        let payload = serde_json::to_string(&pairs).ok()?;
        (payload.len() <= MAX_PAYLOAD_BYTES).then_some(payload)
    }

    /// The touched topics a [`Self::to_payload`] payload names; `None` for anything else.
    pub(crate) fn from_payload(payload: &str) -> Option<Self> {
        let pairs: Vec<(String, String)> = serde_json::from_str(payload).ok()?;
        let topics = pairs
            .into_iter()
            .map(|(kind, value)| match kind.as_str() {
                "u" => Id::parse("u", &value).ok().map(Topic::User),
                "n" => Some(Topic::Name(value)),
                "i" => Platform::from_db(&value).ok().map(Topic::Integration),
                "s" => Some(Topic::Session(value)),
                "k" => Id::parse("k", &value).ok().map(Topic::ApiKey),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::of(topics))
    }
}

/// How many slots the touch table has: 64 Ki of 8 bytes, half a MiB.
const SLOTS: usize = 1 << 16;

/// The newest revision that touched each slot's topics, and the newest that touched everything.
pub(crate) struct TouchTable {
    slots: Box<[AtomicI64]>,
    everything: AtomicI64,
    hasher: RandomState,
}

impl TouchTable {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicI64::new(0)).collect(),
            everything: AtomicI64::new(0),
            hasher: RandomState::new(),
        }
    }

    fn slot(&self, topic: &Topic) -> &AtomicI64 {
        let index = self.hasher.hash_one(topic) as usize & (SLOTS - 1);
        &self.slots[index]
    }

    /// Records that `revision` touched `touched`; done before the revision is seen, so that
    /// an answer checked against a seen revision sees its touches.
    pub(crate) fn record(&self, revision: i64, touched: &Touched) {
        if touched.everything {
            self.everything.fetch_max(revision, Ordering::AcqRel);
        }
        for topic in &touched.topics {
            self.slot(topic).fetch_max(revision, Ordering::AcqRel);
        }
    }

    /// Whether no commit after `read_at` touched any of `deps`.
    pub(crate) fn untouched_since(&self, read_at: i64, deps: &[Topic]) -> bool {
        self.everything.load(Ordering::Acquire) <= read_at
            && deps
                .iter()
                .all(|topic| self.slot(topic).load(Ordering::Acquire) <= read_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_commit_touched_travels_to_other_processes() {
        let touched = Touched::of([
            Topic::User(Id::new()),
            Topic::name("Ada@Example.com"),
            Topic::Integration(Platform::Trino),
            Topic::Session("s-1".into()),
            Topic::ApiKey(Id::new()),
        ]);
        let payload = touched.to_payload().unwrap();
        assert_eq!(Touched::from_payload(&payload), Some(touched));
        assert_eq!(Touched::everything().to_payload(), None);
        let many = Touched::of((0..1000).map(|i| Topic::name(&format!("user{i}@example.com"))));
        assert_eq!(many.to_payload(), None, "too long for a notification");
        for bad in ["", "42", "[[\"x\",\"1\"]]", "[[\"u\",\"not an id\"]]"] {
            assert_eq!(Touched::from_payload(bad), None, "{bad}");
        }
    }
}
