//! Persistence: the [`Store`] traits, implemented once in SQL by [`SqlStore`] over PostgreSQL or
//! SQLite.
//!
//! A newcomer's map. Each part of the store is a trait declared in `traits.rs` and implemented,
//! method by method under the trait's own names, in the file of that part:
//!
//! | trait | file | its SQL |
//! |---|---|---|
//! | [`Store`] (ping, freshness) | `mod.rs` | |
//! | [`UserStore`] | `users.rs` (reading users: `user_rows.rs`) | `queries/users.rs` |
//! | [`ApiKeyStore`] | `api_keys.rs` | `queries/users.rs` |
//! | [`AuditStore`] | `audit.rs` | `queries/audit.rs` |
//! | [`GroupStore`] | `groups.rs` | `queries/groups.rs` |
//! | [`PolicyStore`] | `policy.rs` (roles: `roles.rs`) | `queries/policy.rs` |
//! | [`ImpersonationStore`] | `impersonation.rs` | `queries/impersonation.rs` |
//! | [`IamStore`] | `iams.rs` | `queries/iams.rs` |
//! | [`IamSyncStore`] | `iam_sync.rs` | `queries/iam_sync.rs` |
//!
//! Shared by several parts: `grants.rs` (who holds which permission, by which path; SQL in
//! `queries/policy.rs`), `attributes.rs`, `names.rs` (names unique among their kind),
//! `search.rs` (which index a user search reads). Every statement runs through `db.rs`, which
//! hands it to `postgres.rs` or `sqlite.rs` (connecting, column types, errors; their own
//! statements are `queries/postgres.rs` and `queries/sqlite.rs`). Every mutation runs in one
//! transaction that first takes the audit chain's head (`write.rs`), so mutations are
//! serialised, rule checks inside them see every earlier change, and each appends exactly one
//! audit event before it commits. At start-up `backfill.rs` fills the comparison keys of rows
//! older than them and `secret_keys.rs` checks the secret key against the store's. Each commit
//! (and, on PostgreSQL, each one another process announces) moves `checks::Freshness`, which
//! the caches of the check path are checked against.

mod api_keys;
mod attributes;
mod audit;
mod backfill;
mod db;
mod grants;
mod groups;
mod iam_sync;
mod iams;
mod impersonation;
mod names;
mod policy;
mod postgres;
mod queries;
mod roles;
mod search;
mod secret_keys;
mod sqlite;
mod traits;
mod user_rows;
mod users;
mod write;

use std::sync::Arc;

use async_trait::async_trait;

pub use db::Pool;
pub use secret_keys::Rotation;
pub use traits::{
    AccountCredential, ApiKeyStore, AuditFilter, AuditStore, CertificateName, Committed,
    Credential, GroupStore, IamStore, IamSyncStore, ImpersonationStore, NewApiKey, PolicyStore,
    Store, SyncApply, SyncBatch, SyncLease, UserFilter, UserKey, UserStore,
};

use crate::checks::{Freshness, Touched};
use crate::domain::{Id, Timestamp, impersonation::CompiledPatterns};
use crate::error::Result;
use crate::secrets::KeySource;

/// The store over either database.
pub struct SqlStore {
    db: db::Database,
    secrets: secret_keys::Secrets,
    syncs: iam_sync::RunningSyncs,
    patterns: CompiledPatterns,
}

impl SqlStore {
    /// Opens the store a database URL names (`sqlite:` or `postgres://`) with no secret key;
    /// see [`SqlStore::open_with`].
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &KeySource::None).await
    }

    /// Opens the store a database URL names (`sqlite:` or `postgres://`), applies its
    /// migrations, fills the comparison keys of rows that predate them, and checks that the
    /// secret key `secret_key` gives is the store's.
    pub async fn open_with(url: &str, secret_key: &KeySource) -> Result<Self> {
        let (pool, process_lock) =
            if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                let pool = postgres::connect(url).await?;
                sqlx::migrate!("src/store/migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(|e| migration_error(e, "PostgreSQL"))?;
                (Pool::Postgres(pool), None)
            } else if url.starts_with("sqlite:") {
                let (pool, process_lock) = sqlite::connect(url).await?;
                sqlx::migrate!("src/store/migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(|e| migration_error(e, "SQLite"))?;
                (Pool::Sqlite(pool), process_lock)
            } else {
                return Err(crate::error::Error::invalid(
                    "database_url",
                    "must start with sqlite: or postgres://",
                ));
            };
        // On SQLite this process is the only one (`sqlite::ProcessLock`), so it hears every
        // commit: its own.
        let hearing = matches!(pool, Pool::Sqlite(_));
        let db = db::Database::new(pool, process_lock, Arc::new(Freshness::new(0, hearing)));
        backfill::fill_missing(&db).await?;
        let secrets = secret_keys::Secrets::open(&db, secret_key.clone()).await?;
        let store = Self {
            db,
            secrets,
            syncs: Default::default(),
            patterns: Default::default(),
        };
        let (head, _) = store.audit_head().await?;
        store.db.freshness.advance(head, &Touched::everything());
        if let Pool::Postgres(pool) = &store.db.pool {
            postgres::listen(pool.clone(), Arc::downgrade(&store.db.freshness));
        }
        Ok(store)
    }

    /// The database, for tests that must reach under the API (altering audit rows, say).
    pub fn pool(&self) -> &Pool {
        &self.db.pool
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        self.db.ping(PING_TIMEOUT).await
    }

    fn freshness(&self) -> Arc<Freshness> {
        self.db.freshness.clone()
    }
}

/// How long health waits for the database to answer before calling it unreachable.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

fn migration_error(error: sqlx::migrate::MigrateError, backend: &str) -> crate::error::Error {
    crate::error::Error::Internal(
        anyhow::Error::new(error).context(format!("applying {backend} migrations")),
    )
}

/// Opens the store a database URL names; see [`SqlStore::open_with`].
pub async fn open(url: &str, secret_key: &KeySource) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open_with(url, secret_key).await?))
}

/// Where each id of a page stands in it, to join the page's detail rows to its items.
struct PageIndex(std::collections::HashMap<Id, usize>);

impl PageIndex {
    fn new(ids: &[Id]) -> Self {
        Self(ids.iter().enumerate().map(|(i, id)| (*id, i)).collect())
    }

    /// The item with `id`; detail rows are read by the page's ids, so each has one.
    fn get<'a, T>(&self, items: &'a mut [T], id: Id) -> Option<&'a mut T> {
        self.0.get(&id).and_then(|&i| items.get_mut(i))
    }
}

/// A timestamp column: `timestamptz` on PostgreSQL, integer microseconds on SQLite (so that
/// stored times sort and compare as numbers). Each backend module decodes it.
#[derive(Clone, Copy, Debug)]
struct DbTime(Timestamp);
