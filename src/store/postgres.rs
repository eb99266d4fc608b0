//! The production store: PostgreSQL.

use std::time::Duration;

use sqlx::{
    Decode, Encode, Postgres, Type,
    encode::IsNull,
    error::{BoxDynError, ErrorKind},
    postgres::{PgArgumentBuffer, PgPool, PgPoolOptions, PgTypeInfo, PgValueRef},
};

use crate::domain::Timestamp;

type Db = Postgres;

/// Every mutation starts by locking the chain head, so writers queue here in commit order.
const LOCK_AUDIT_HEAD: &str = "SELECT sequence, hash FROM audit_head FOR UPDATE";

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| {
                Error::Internal(anyhow::Error::new(e).context("applying PostgreSQL migrations"))
            })?;
        Ok(Self { pool })
    }

    /// The pool, for tests that must reach under the API (altering audit rows, say).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn begin(pool: &PgPool) -> Result<Transaction<'static, Db>> {
    pool.begin().await.map_err(db_error)
}

/// Maps PostgreSQL errors by SQLSTATE. Constraint violations only reach here when a rule check
/// before the write missed a case, so they keep a generic message.
fn db_error(error: sqlx::Error) -> Error {
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
            // Class 08: connection exceptions; 57P0x: the server is shutting down.
            (Some(code), _) if code.starts_with("08") || code.starts_with("57P0") => {
                Error::Unavailable(error.to_string())
            }
            _ => Error::Internal(anyhow::Error::new(error)),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => Error::Unavailable(error.to_string()),
        _ => Error::Internal(anyhow::Error::new(error)),
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <Timestamp as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<Timestamp as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Postgres> for crate::domain::Id {
    fn type_info() -> PgTypeInfo {
        <uuid::Uuid as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for crate::domain::Id {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for crate::domain::Id {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<uuid::Uuid as Decode<Postgres>>::decode(value)?))
    }
}

sql_store!(PostgresStore);
