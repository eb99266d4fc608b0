//! The check path: what connectors and services ask at query time, and what keeps its answers
//! fast and fresh.
//!
//! - [`decisions`]: the checks (CheckImpersonation, CheckPermission, GetEffectivePermissions,
//!   BatchCheck), their facts read from the store or from caches;
//! - [`cache`]: the caches, whose answers are usable only at the revision they were read at;
//! - [`freshness`]: what this process knows of the store's revisions, and so which cached
//!   answers a commit has made unusable;
//! - [`invalidation`]: what each kind of write touches, and what a cached answer depends on;
//! - [`audit`]: the decision audit, impersonation decisions tallied and written in the
//!   background.
//!
//! Authentication (`auth`) keeps its credentials in the same caches, under the same rule.

pub mod audit;
pub mod cache;
pub mod decisions;
pub mod freshness;
pub mod invalidation;

pub use cache::{CacheKey, EpochCache, Lookups};
pub use decisions::{Decisions, evaluate};
pub use freshness::{Consistency, Epoch, Freshness};
pub use invalidation::{Deps, Topic, Touched};
