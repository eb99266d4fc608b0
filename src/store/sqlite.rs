//! What is SQLite's own: opening the file (for this process alone, and readable by its owner
//! only), column types (TEXT ids, integer microseconds, JSON text for id lists), the write lock
//! (`BEGIN IMMEDIATE`), and its errors by extended result code.

use std::{
    ffi::OsString,
    fs::{File, OpenOptions, TryLockError},
    io::ErrorKind as IoErrorKind,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use sqlx::{
    Arguments, Decode, Encode, Sqlite, Transaction, Type,
    encode::IsNull,
    error::{BoxDynError, ErrorKind},
    sqlite::{
        SqliteArguments, SqliteArgumentsBuffer, SqliteConnectOptions, SqliteJournalMode,
        SqlitePool, SqlitePoolOptions, SqliteSynchronous, SqliteTypeInfo, SqliteValueRef,
    },
};

use super::{DbTime, db::Value, queries::sqlite as sql};
use crate::domain::Id;
use crate::error::{Error, Result};

/// Opens the database `url` names, and for a file holds it for this process alone (see
/// [`ProcessLock`]) until the lock returned is dropped.
pub(super) async fn connect(url: &str) -> Result<(SqlitePool, Option<ProcessLock>)> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database_url", e.to_string()))?
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        // Writers wait for each other rather than failing with SQLITE_BUSY.
        .busy_timeout(Duration::from_secs(10));
    let lock = if in_memory(url) {
        None
    } else {
        let lock = ProcessLock::take(options.get_filename())?;
        create_private(options.get_filename())?;
        Some(lock)
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| Error::unavailable("cannot open the SQLite database", e))?;
    Ok((pool, lock))
}

/// `sqlite::memory:` or `mode=memory`, read from the URL as sqlx reads it: a database no other
/// process can open. (The options do not tell, and their `to_url_lossy` panics on one.)
fn in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|param| param == "mode=memory")
}

/// An exclusive OS lock on `<database>.lock`, held while a store has the database open, so that
/// a second personae process on the same file (or a second store in this one) is refused when
/// it opens it. On SQLite a process's caches are made unusable only by its own commits (there
/// is no LISTEN/NOTIFY), so a second process would go on serving, say, a revoked key until it
/// wrote something itself.
///
/// The lock is on a file of its own, not on the database: SQLite takes POSIX (fcntl) locks on
/// the database, and closing any descriptor of a file drops every such lock the process holds
/// on it, so closing one of ours could drop SQLite's; and where `flock` is emulated with fcntl
/// locks (NFS), ours would meet SQLite's. The OS releases the lock when the process ends,
/// however it ends. The file stays when the lock is released: removing it would let a process
/// starting meanwhile lock a new file while another still held the old one.
pub(super) struct ProcessLock {
    _file: File,
}

impl ProcessLock {
    fn take(database: &Path) -> Result<Self> {
        let path = lock_path(database);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|e| {
            Error::unavailable(
                format!(
                    "cannot open the SQLite database's lock file {}",
                    path.display()
                ),
                e,
            )
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::FailedPrecondition(format!(
                "the SQLite database {} is in use by another personae process (it holds the \
                 lock on {}): SQLite allows one personae process per database; stop that one, \
                 or use PostgreSQL to run several replicas",
                database.display(),
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::unavailable(
                format!(
                    "cannot lock the SQLite database's lock file {}",
                    path.display()
                ),
                e,
            )),
        }
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut path = OsString::from(database.as_os_str());
    path.push(".lock");
    PathBuf::from(path)
}

/// Creates the database file readable by its owner only, where SQLite would make it readable
/// by everyone (0644); SQLite gives its `-wal` and `-shm` files the database's mode. An existing
/// file keeps the mode its operator gave it, with a warning when others have access to it.
fn create_private(database: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(database) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == IoErrorKind::AlreadyExists => {
            #[cfg(unix)]
            warn_if_others_have_access(database);
            Ok(())
        }
        Err(e) => Err(Error::unavailable(
            format!("cannot create the SQLite database {}", database.display()),
            e,
        )),
    }
}

#[cfg(unix)]
fn warn_if_others_have_access(database: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(metadata) = std::fs::metadata(database) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %database.display(),
            mode = format!("{mode:o}"),
            "users other than its owner have access to the SQLite database; `chmod 600` it \
             (and its -wal and -shm files) unless that is meant"
        );
    }
}

/// Begins a transaction that holds the write lock ([`sql::BEGIN_WRITE`]).
pub(super) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with(sql::BEGIN_WRITE).await
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
                Error::unavailable("the SQLite database cannot be used", error)
            }
            _ => Error::Internal(anyhow::Error::new(error)),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => {
            Error::unavailable("the SQLite database cannot be used", error)
        }
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
