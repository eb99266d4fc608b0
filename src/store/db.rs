//! The one place that dispatches to PostgreSQL or SQLite. Store code builds a [`Statement`]
//! (SQL text both backends understand, plus typed values) and runs it on a [`Conn`]; the backend
//! modules encode the values in their own column types and map their own errors, so store code
//! ends every query in `?`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    ConnectOptions, Connection, FromRow, PgConnection, Postgres, Sqlite, SqliteConnection,
    Transaction,
    pool::PoolConnection,
    postgres::{PgPool, PgRow},
    sqlite::{SqlitePool, SqliteRow},
};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{postgres, queries::postgres as sql, sqlite};
use crate::checks::{Freshness, Touched};
use crate::domain::{Id, Timestamp};
use crate::error::{Error, Result};

/// SQL text, the same for both backends or, where they differ, one text each.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sql {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

impl From<&'static str> for Sql {
    fn from(text: &'static str) -> Self {
        Self {
            postgres: text,
            sqlite: text,
        }
    }
}

/// A value bound to a statement; each backend encodes it in its own column type.
#[derive(Clone, Copy, Debug)]
pub(super) enum Value<'a> {
    Id(Option<Id>),
    /// A list of ids, for `IN` a page of rows: an array on PostgreSQL, JSON text on SQLite.
    Ids(&'a [Id]),
    /// A list of texts: an array on PostgreSQL, JSON text on SQLite.
    Texts(&'a [String]),
    Text(Option<&'a str>),
    Int(i64),
    Bool(Option<bool>),
    Time(Option<Timestamp>),
    Bytes(&'a [u8]),
}

impl From<Id> for Value<'_> {
    fn from(id: Id) -> Self {
        Self::Id(Some(id))
    }
}

impl From<Option<Id>> for Value<'_> {
    fn from(id: Option<Id>) -> Self {
        Self::Id(id)
    }
}

impl<'a> From<&'a [String]> for Value<'a> {
    fn from(texts: &'a [String]) -> Self {
        Self::Texts(texts)
    }
}

impl<'a> From<&'a [Id]> for Value<'a> {
    fn from(ids: &'a [Id]) -> Self {
        Self::Ids(ids)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(Some(text))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Self::Text(Some(text))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for Value<'_> {
    fn from(number: i64) -> Self {
        Self::Int(number)
    }
}

impl From<bool> for Value<'_> {
    fn from(flag: bool) -> Self {
        Self::Bool(Some(flag))
    }
}

impl From<Option<bool>> for Value<'_> {
    fn from(flag: Option<bool>) -> Self {
        Self::Bool(flag)
    }
}

impl From<Timestamp> for Value<'_> {
    fn from(time: Timestamp) -> Self {
        Self::Time(Some(time))
    }
}

impl From<Option<Timestamp>> for Value<'_> {
    fn from(time: Option<Timestamp>) -> Self {
        Self::Time(time)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Self::Bytes(bytes)
    }
}

/// A statement ready to run: its text and the values of `$1`, `$2`, ...
#[must_use]
pub(super) struct Statement<'a> {
    sql: Sql,
    values: Vec<Value<'a>>,
    /// Kept prepared for the next run (the default), or planned anew for its values each time.
    persistent: bool,
}

/// Starts a statement; `.bind` its values in placeholder order.
pub(super) fn query<'a>(sql: impl Into<Sql>) -> Statement<'a> {
    Statement {
        sql: sql.into(),
        values: Vec::new(),
        persistent: true,
    }
}

impl<'a> Statement<'a> {
    pub(super) fn bind(mut self, value: impl Into<Value<'a>>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Plans the statement for its values every time it runs. PostgreSQL switches a prepared
    /// statement to a generic plan after five runs when that plan's estimated cost is close,
    /// but a generic plan knows neither how selective a filter's value is nor whether an
    /// optional filter is set, and for ListUsers' filtered pages it picked plans that walk the
    /// users table (a merge join over its primary key, or a nested loop over a sequential scan)
    /// where the filter's own index finds the page. Planning a page costs a fraction of a
    /// millisecond; SQLite plans every statement for its values anyway.
    pub(super) fn planned_per_run(mut self) -> Self {
        self.persistent = false;
        self
    }
}

/// A row type both backends can decode.
pub(super) trait Record:
    for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// A connection, pooled or inside a transaction.
pub(super) enum Conn<'c> {
    Postgres(&'c mut PgConnection),
    Sqlite(&'c mut SqliteConnection),
}

impl Conn<'_> {
    pub(super) async fn fetch_all<R: Record>(
        &mut self,
        statement: Statement<'_>,
    ) -> Result<Vec<R>> {
        let Statement {
            sql,
            values,
            persistent,
        } = statement;
        match self {
            Self::Postgres(conn) => {
                sqlx::query_as_with(sql.postgres, postgres::arguments(&values)?)
                    .persistent(persistent)
                    .fetch_all(&mut **conn)
                    .await
                    .map_err(postgres::error)
            }
            Self::Sqlite(conn) => sqlx::query_as_with(sql.sqlite, sqlite::arguments(&values)?)
                .fetch_all(&mut **conn)
                .await
                .map_err(sqlite::error),
        }
    }

    pub(super) async fn fetch_optional<R: Record>(
        &mut self,
        statement: Statement<'_>,
    ) -> Result<Option<R>> {
        let Statement {
            sql,
            values,
            persistent,
        } = statement;
        match self {
            Self::Postgres(conn) => {
                sqlx::query_as_with(sql.postgres, postgres::arguments(&values)?)
                    .persistent(persistent)
                    .fetch_optional(&mut **conn)
                    .await
                    .map_err(postgres::error)
            }
            Self::Sqlite(conn) => sqlx::query_as_with(sql.sqlite, sqlite::arguments(&values)?)
                .fetch_optional(&mut **conn)
                .await
                .map_err(sqlite::error),
        }
    }

    pub(super) async fn fetch_one<R: Record>(&mut self, statement: Statement<'_>) -> Result<R> {
        let Statement {
            sql,
            values,
            persistent,
        } = statement;
        match self {
            Self::Postgres(conn) => {
                sqlx::query_as_with(sql.postgres, postgres::arguments(&values)?)
                    .persistent(persistent)
                    .fetch_one(&mut **conn)
                    .await
                    .map_err(postgres::error)
            }
            Self::Sqlite(conn) => sqlx::query_as_with(sql.sqlite, sqlite::arguments(&values)?)
                .fetch_one(&mut **conn)
                .await
                .map_err(sqlite::error),
        }
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    pub(super) async fn execute(&mut self, statement: Statement<'_>) -> Result<u64> {
        let Statement {
            sql,
            values,
            persistent,
        } = statement;
        match self {
            Self::Postgres(conn) => sqlx::query_with(sql.postgres, postgres::arguments(&values)?)
                .persistent(persistent)
                .execute(&mut **conn)
                .await
                .map(|done| done.rows_affected())
                .map_err(postgres::error),
            Self::Sqlite(conn) => sqlx::query_with(sql.sqlite, sqlite::arguments(&values)?)
                .execute(&mut **conn)
                .await
                .map(|done| done.rows_affected())
                .map_err(sqlite::error),
        }
    }

    /// Tells other processes, when this transaction commits, that `revision` has, and what it
    /// touched: PostgreSQL notifies its listeners; on SQLite there is no other process to tell.
    pub(super) async fn announce(&mut self, revision: i64, touched: &Touched) -> Result<()> {
        if let Self::Postgres(_) = self {
            if let Some(touched) = touched.to_payload() {
                let payload = format!("{revision} {touched}");
                self.execute(
                    query(sql::ANNOUNCE)
                        .bind(sql::TOUCHED_CHANNEL)
                        .bind(payload.as_str()),
                )
                .await?;
            }
            let revision = revision.to_string();
            self.execute(
                query(sql::ANNOUNCE)
                    .bind(sql::REVISIONS_CHANNEL)
                    .bind(revision.as_str()),
            )
            .await?;
        }
        Ok(())
    }
}

/// A connection taken from the pool for reads.
pub(super) enum Pooled {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

impl Pooled {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Postgres(conn) => Conn::Postgres(conn),
            Self::Sqlite(conn) => Conn::Sqlite(conn),
        }
    }
}

/// A write transaction holding the store's write lock.
pub(super) struct Tx {
    inner: TxInner,
    /// This process's turn to write, held until the transaction ends.
    _turn: OwnedMutexGuard<()>,
}

enum TxInner {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

impl TxInner {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Postgres(tx) => Conn::Postgres(tx),
            Self::Sqlite(tx) => Conn::Sqlite(tx),
        }
    }

    async fn commit(self) -> Result<()> {
        match self {
            Self::Postgres(tx) => tx.commit().await.map_err(postgres::error),
            Self::Sqlite(tx) => tx.commit().await.map_err(sqlite::error),
        }
    }
}

impl Tx {
    pub(super) fn conn(&mut self) -> Conn<'_> {
        self.inner.conn()
    }

    pub(super) async fn commit(self) -> Result<()> {
        self.inner.commit().await
    }
}

/// The database a store keeps its data in.
#[derive(Clone, Debug)]
pub enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// The pool, and what the store knows about whether the database can be reached.
pub(super) struct Database {
    pub pool: Pool,
    /// Set by [`Database::ping`] from its own connection, outside the pool, so that a busy pool
    /// never reads as an outage and an outage is known without a call waiting for it.
    reachable: AtomicBool,
    probe: Mutex<Option<Probe>>,
    /// Writers of this process queue here before taking a connection. Every write is
    /// serialised by the write lock anyway; waiting for it while holding a pooled connection
    /// would let a burst of writers drain the pool and starve readers.
    write_turn: Arc<Mutex<()>>,
    /// The newest revision this process has seen committed; see `checks::freshness`.
    pub freshness: Arc<Freshness>,
    /// On a SQLite file, keeps every other store off it while this one is open.
    _process_lock: Option<sqlite::ProcessLock>,
}

/// The connection [`Database::ping`] checks the database with.
enum Probe {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl Database {
    pub(super) fn new(
        pool: Pool,
        process_lock: Option<sqlite::ProcessLock>,
        freshness: Arc<Freshness>,
    ) -> Self {
        Self {
            pool,
            reachable: AtomicBool::new(true),
            probe: Mutex::new(None),
            write_turn: Arc::new(Mutex::new(())),
            freshness,
            _process_lock: process_lock,
        }
    }

    /// Once a ping has found the database unreachable, calls fail at once instead of each
    /// waiting out the pool's acquire timeout, until a ping finds it again.
    fn admit(&self) -> Result<()> {
        if self.reachable.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::unavailable_without_cause(
                "the database could not be reached at the last check",
            ))
        }
    }

    pub(super) async fn acquire(&self) -> Result<Pooled> {
        self.admit()?;
        match &self.pool {
            Pool::Postgres(pool) => pool.acquire().await.map(Pooled::Postgres),
            Pool::Sqlite(pool) => pool.acquire().await.map(Pooled::Sqlite),
        }
        .map_err(unreachable)
    }

    /// Opens a transaction holding the write lock (see `queries::audit::LOCK_HEAD`).
    pub(super) async fn begin_write(&self) -> Result<Tx> {
        self.admit()?;
        let turn = self.write_turn.clone().lock_owned().await;
        let inner = match &self.pool {
            Pool::Postgres(pool) => pool.begin().await.map(TxInner::Postgres),
            Pool::Sqlite(pool) => sqlite::begin_immediate(pool).await.map(TxInner::Sqlite),
        }
        .map_err(unreachable)?;
        Ok(Tx { inner, _turn: turn })
    }

    /// Checks within `timeout` that the database answers, on a connection of its own
    /// (reconnecting when it was lost), and remembers the answer for [`Database::admit`].
    pub(super) async fn ping(&self, timeout: Duration) -> Result<()> {
        let mut probe = self.probe.lock().await;
        let pinged = tokio::time::timeout(timeout, async {
            if let Some(existing) = probe.as_mut() {
                let answered = match existing {
                    Probe::Postgres(conn) => conn.ping().await,
                    Probe::Sqlite(conn) => conn.ping().await,
                };
                if answered.is_ok() {
                    return Ok(());
                }
                // A lost connection (terminated, or from before a restart) is no outage by
                // itself: only failing to open a new one is.
                *probe = None;
            }
            *probe = Some(match &self.pool {
                Pool::Postgres(pool) => Probe::Postgres(pool.connect_options().connect().await?),
                Pool::Sqlite(pool) => Probe::Sqlite(pool.connect_options().connect().await?),
            });
            Ok(())
        })
        .await;
        let result = match pinged {
            Ok(answered) => answered.map_err(unreachable),
            Err(_) => Err(Error::unavailable_without_cause(format!(
                "the database did not answer within {timeout:?}"
            ))),
        };
        if result.is_err() {
            *probe = None;
        }
        self.reachable.store(result.is_ok(), Ordering::Release);
        result
    }
}

/// A lock that every process sharing the database sees, held until dropped: on PostgreSQL an
/// advisory lock taken in a transaction left open, which dropping rolls back and so releases
/// even if this process dies; SQLite has no other process to see it.
pub(super) struct SharedLock {
    _held: Option<Transaction<'static, Postgres>>,
}

impl Database {
    /// Takes the shared lock `key` unless another session holds it.
    pub(super) async fn try_shared_lock(&self, key: i64) -> Result<Option<SharedLock>> {
        self.admit()?;
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(Some(SharedLock { _held: None }));
        };
        let mut tx = pool.begin().await.map_err(unreachable)?;
        let (taken,): (bool,) = sqlx::query_as(sql::TRY_LOCK)
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(postgres::error)?;
        Ok(taken.then_some(SharedLock { _held: Some(tx) }))
    }
}

/// Failing to get a connection, for whatever reason (refused, timed out, password refused), means
/// the store cannot be reached: the call may be retried later, and the cause is kept for the log.
fn unreachable(error: sqlx::Error) -> Error {
    Error::unavailable("cannot reach the database", error)
}
