//! The embedded default store: one SQLite file, nothing to install.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Decode, Encode, Sqlite, Type,
    encode::IsNull,
    error::{BoxDynError, ErrorKind},
    sqlite::{
        SqliteArgumentsBuffer, SqliteConnectOptions, SqliteJournalMode, SqlitePool,
        SqlitePoolOptions, SqliteSynchronous, SqliteTypeInfo, SqliteValueRef,
    },
};

type Db = Sqlite;

/// SQLite has no row locks; `begin` takes the database's write lock instead.
const LOCK_AUDIT_HEAD: &str = "SELECT sequence, hash FROM audit_head";

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Writers wait for each other rather than failing with SQLITE_BUSY.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| {
                Error::Internal(anyhow::Error::new(e).context("applying SQLite migrations"))
            })?;
        Ok(Self { pool })
    }

    /// The pool, for tests that must reach under the API (altering audit rows, say).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then
/// writes could fail with SQLITE_BUSY when another writer got there in between.
async fn begin(pool: &SqlitePool) -> Result<Transaction<'static, Db>> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
}

/// Maps SQLite errors by their extended result codes.
fn db_error(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(db) => match (db.code().as_deref(), db.kind()) {
            // 2067 SQLITE_CONSTRAINT_UNIQUE, 1555 SQLITE_CONSTRAINT_PRIMARYKEY
            (Some("2067" | "1555"), _) | (_, ErrorKind::UniqueViolation) => {
                Error::AlreadyExists(format!("a conflicting record exists ({})", db.message()))
            }
            // 787 SQLITE_CONSTRAINT_FOREIGNKEY
            (Some("787"), _) | (_, ErrorKind::ForeignKeyViolation) => Error::NotFound(format!(
                "a referenced record does not exist ({})",
                db.message()
            )),
            // 5 SQLITE_BUSY, 6 SQLITE_LOCKED: the write lock was not had in time.
            (Some("5" | "6" | "517" | "262"), _) => Error::Unavailable(error.to_string()),
            _ => Error::Internal(anyhow::Error::new(error)),
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::Unavailable(error.to_string())
        }
        _ => Error::Internal(anyhow::Error::new(error)),
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.timestamp_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        chrono::DateTime::from_timestamp_micros(micros)
            .map(Self)
            .ok_or_else(|| format!("timestamp {micros} out of range").into())
    }
}

impl Type<Sqlite> for crate::domain::Id {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for crate::domain::Id {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for crate::domain::Id {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(uuid::Uuid::try_parse(text)?))
    }
}

sql_store!(SqliteStore);
