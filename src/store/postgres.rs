//! What is PostgreSQL's own: connecting, column types (uuid, timestamptz, uuid[] for id lists),
//! its errors by SQLSTATE, and hearing other processes' commits (LISTEN/NOTIFY). The write lock
//! is a row lock on the audit head (`queries::audit::LOCK_HEAD`).

use std::{str::FromStr, sync::Weak, time::Duration};

use sqlx::{
    Arguments, ConnectOptions, Decode, Encode, Postgres, Type,
    encode::IsNull,
    error::{BoxDynError, ErrorKind},
    postgres::{
        PgArgumentBuffer, PgArguments, PgConnectOptions, PgListener, PgPool, PgPoolOptions,
        PgTypeInfo, PgValueRef,
    },
};

use super::{
    DbTime,
    db::Value,
    queries::{
        audit as audit_sql,
        postgres::{ANNOUNCE, REVISIONS_CHANNEL, TOUCHED_CHANNEL},
    },
};
use crate::checks::{Freshness, Touched};
use crate::domain::{Id, Timestamp};
use crate::error::{Error, Result};

/// Connects, first with one plain connection so that an unreachable database is reported with
/// its cause (refused, password, no such database) rather than as a pool timeout.
pub(super) async fn connect(url: &str) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database_url", e.to_string()))?;
    let first = options
        .connect()
        .await
        .map_err(|e| Error::unavailable("cannot connect to PostgreSQL", e))?;
    let pool = PgPoolOptions::new()
        .max_connections(32)
        // Until health's ping finds the database gone (db::Database::ping), a call waits at
        // most this long for a connection.
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    drop(first);
    Ok(pool)
}

/// Encodes a statement's values in this backend's column types.
pub(super) fn arguments(values: &[Value<'_>]) -> Result<PgArguments> {
    encode(values)
        .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a statement's values: {e}")))
}

fn encode(values: &[Value<'_>]) -> Result<PgArguments, BoxDynError> {
    let mut arguments = PgArguments::default();
    for value in values {
        match *value {
            Value::Id(id) => arguments.add(id)?,
            Value::Ids(ids) => arguments.add(ids.iter().map(|id| id.0).collect::<Vec<_>>())?,
            Value::Texts(texts) => arguments.add(texts)?,
            Value::Text(text) => arguments.add(text)?,
            Value::Int(number) => arguments.add(number)?,
            Value::Bool(flag) => arguments.add(flag)?,
            Value::Time(time) => arguments.add(time)?,
            Value::Bytes(bytes) => arguments.add(bytes)?,
        }
    }
    Ok(arguments)
}

/// Maps PostgreSQL errors by SQLSTATE. Constraint violations only reach here when a rule check
/// before the write missed a case, so they keep a generic message.
pub(super) fn error(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(db) => match (db.code().as_deref(), db.kind()) {
            (Some("23505"), _) | (_, ErrorKind::UniqueViolation) => Error::AlreadyExists(format!(
                "a conflicting record exists ({})",
                db.constraint().unwrap_or("unique")
            )),
            (Some("23503"), _) | (_, ErrorKind::ForeignKeyViolation) => Error::NotFound(format!(
                "a referenced record does not exist ({})",
                db.constraint().unwrap_or("foreign key")
            )),
            // 40001 serialization_failure, 40P01 deadlock_detected: retryable.
            (Some("40001" | "40P01"), _) => {
                Error::Aborted("the change conflicted with a concurrent one; retry".into())
            }
            // Class 08 connection exceptions, 53 insufficient resources, 57P0x the server is
            // shutting down or starting up.
            (Some(code), _)
                if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0") =>
            {
                Error::unavailable("the PostgreSQL database cannot be used", error)
            }
            _ => Error::Internal(anyhow::Error::new(error)),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => {
            Error::unavailable("the PostgreSQL database cannot be used", error)
        }
        _ => Error::Internal(anyhow::Error::new(error)),
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <Timestamp as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<Timestamp as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Postgres> for Id {
    fn type_info() -> PgTypeInfo {
        <uuid::Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Id {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Id {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<uuid::Uuid as Decode<Postgres>>::decode(value)?))
    }
}

/// How long the listener waits in silence before checking, with a notification to itself,
/// that its connection still delivers; and how long it then waits for that notification.
const HEARTBEAT_AFTER: Duration = Duration::from_secs(5);
const HEARTBEAT_WAIT: Duration = Duration::from_secs(2);

/// Keeps `freshness` up to date with other processes' commits, for as long as it exists.
/// While the listening connection is down (or silently dead: no heartbeat back), caches are
/// bypassed; once it is back, the revision is read afresh, since what was announced meanwhile
/// is lost.
pub(super) fn listen(pool: PgPool, freshness: Weak<Freshness>) {
    tokio::spawn(async move {
        loop {
            let ended = listen_until_lost(&pool, &freshness).await;
            let Some(fresh) = freshness.upgrade() else {
                return;
            };
            fresh.set_hearing(false);
            if let Err(error) = ended {
                tracing::warn!(
                    %error,
                    "not hearing other processes' commits; caches are bypassed until reconnected"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
}

async fn listen_until_lost(pool: &PgPool, freshness: &Weak<Freshness>) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection must end this function, so that the revision is read afresh.
    listener.eager_reconnect(false);
    listener
        .listen_all([TOUCHED_CHANNEL, REVISIONS_CHANNEL])
        .await?;
    // Listening now, so every later commit is heard; the head covers every earlier one.
    let (head, _): (i64, String) = sqlx::query_as(audit_sql::HEAD).fetch_one(pool).await?;
    match freshness.upgrade() {
        Some(fresh) => {
            // What committed while nothing was heard is not known: everything, to be safe.
            fresh.advance(head, &Touched::everything());
            fresh.set_hearing(true);
        }
        None => return Ok(()),
    }
    let mut heartbeat_sent = false;
    // What the commit whose revision comes next touched: its transaction notified it just
    // before the revision, and one connection's notifications arrive in order.
    let mut announced: Option<(i64, Touched)> = None;
    loop {
        let wait = if heartbeat_sent {
            HEARTBEAT_WAIT
        } else {
            HEARTBEAT_AFTER
        };
        match tokio::time::timeout(wait, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                heartbeat_sent = false;
                let Some(fresh) = freshness.upgrade() else {
                    return Ok(());
                };
                let payload = notification.payload();
                if notification.channel() == TOUCHED_CHANNEL {
                    announced = payload.split_once(' ').and_then(|(revision, touched)| {
                        Some((revision.parse().ok()?, Touched::from_payload(touched)?))
                    });
                } else if let Ok(revision) = payload.parse::<i64>() {
                    let touched = match announced.take() {
                        Some((said, touched)) if said == revision => touched,
                        // Not said, not understood, or too long to say: everything.
                        _ => Touched::everything(),
                    };
                    fresh.advance(revision, &touched);
                }
            }
            Ok(Ok(None)) => {
                return Err(sqlx::Error::Protocol(
                    "the listening connection was lost".into(),
                ));
            }
            Ok(Err(error)) => return Err(error),
            Err(_) if heartbeat_sent => {
                return Err(sqlx::Error::Protocol(
                    "the listening connection did not deliver its heartbeat".into(),
                ));
            }
            Err(_) => {
                if freshness.strong_count() == 0 {
                    return Ok(());
                }
                sqlx::query(ANNOUNCE)
                    .bind(REVISIONS_CHANNEL)
                    .bind("0")
                    .execute(pool)
                    .await?;
                heartbeat_sent = true;
            }
        }
    }
}
