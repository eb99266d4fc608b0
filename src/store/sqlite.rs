//! What is SQLite's own: opening the file, column types (TEXT ids, integer microseconds, JSON
//! text for id lists), the write lock (`BEGIN IMMEDIATE`), and its errors by extended result code.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Arguments, Decode, Encode, Sqlite, Transaction, Type,
    encode::IsNull,
    error::{BoxDynError, ErrorKind},
    sqlite::{
        SqliteArguments, SqliteArgumentsBuffer, SqliteConnectOptions, SqliteJournalMode,
        SqlitePool, SqlitePoolOptions, SqliteSynchronous, SqliteTypeInfo, SqliteValueRef,
    },
};

use super::{DbTime, db::Value};
use crate::domain::Id;
use crate::error::{Error, Result};

pub(super) async fn connect(url: &str) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database_url", e.to_string()))?
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Writers wait for each other rather than failing with SQLITE_BUSY.
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot open the SQLite database: {e}")))
}

/// `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then
/// writes could fail with SQLITE_BUSY when another writer got there in between.
pub(super) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Encodes a statement's values in this backend's column types.
pub(super) fn arguments(values: &[Value<'_>]) -> Result<SqliteArguments> {
    encode(values)
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a statement's values: {e}")))
}

fn encode(values: &[Value<'_>]) -> Result<SqliteArguments, BoxDynError> {
    let mut arguments = SqliteArguments::default();
    for value in values {
        match *value {
            Value::Id(id) => arguments.add(id)?,
            Value::Ids(ids) => arguments.add(serde_json::to_string(
                &ids.iter().map(Id::to_string).collect::<Vec<_>>(),
            )?)?,
            Value::Texts(texts) => arguments.add(serde_json::to_string(texts)?)?,
            Value::Text(text) => arguments.add(text.map(str::to_owned))?,
            Value::Int(number) => arguments.add(number)?,
            Value::Bool(flag) => arguments.add(flag)?,
            Value::Time(time) => arguments.add(time.map(|t| t.timestamp_micros()))?,
            Value::Bytes(bytes) => arguments.add(bytes.to_vec())?,
        }
    }
    Ok(arguments)
}

/// Maps SQLite errors by their extended result codes.
pub(super) fn error(error: sqlx::Error) -> Error {
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
            // 5 SQLITE_BUSY and 6 SQLITE_LOCKED (with their extended codes): the write lock was
            // not had in time. 10 SQLITE_IOERR, 13 SQLITE_FULL, 14 SQLITE_CANTOPEN: the file
            // cannot be used.
            (Some(code), _) if matches!(primary_code(code), Some(5 | 6 | 10 | 13 | 14)) => {
                Error::Unavailable(error.to_string())
            }
            _ => Error::Internal(anyhow::Error::new(error)),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => Error::Unavailable(error.to_string()),
        _ => Error::Internal(anyhow::Error::new(error)),
    }
}

/// The primary result code of an extended one: its low byte.
fn primary_code(code: &str) -> Option<i64> {
    code.parse::<i64>().ok().map(|code| code & 0xff)
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
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

impl Type<Sqlite> for Id {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Id {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Id {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(uuid::Uuid::try_parse(text)?))
    }
}
