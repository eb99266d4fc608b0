//! The audit log and its chain head.

use super::Sql;

/// Every mutation starts here: PostgreSQL locks the head row, so writers queue in commit
/// order; SQLite's `BEGIN IMMEDIATE` already holds the database's write lock.
/// Adds $3 to the count of metric $2 on day $1 (see `domain::usage`).
pub(crate) const COUNT_USAGE: &str = "
    INSERT INTO usage_counts (day, metric, count) VALUES ($1, $2, $3)
    ON CONFLICT (day, metric) DO UPDATE SET count = usage_counts.count + excluded.count";

/// The usage counts from day $1 on.
pub(crate) const USAGE_SINCE: &str =
    "SELECT day, metric, count FROM usage_counts WHERE day >= $1 ORDER BY day, metric";

pub(crate) const LOCK_HEAD: Sql = Sql {
    postgres: "SELECT sequence, hash FROM audit_head FOR UPDATE",
    sqlite: "SELECT sequence, hash FROM audit_head",
};

pub(crate) const HEAD: &str = "SELECT sequence, hash FROM audit_head";

pub(crate) const APPEND: &str = "
    INSERT INTO audit_events (sequence, id, time, actor_id, action, target_type, target_id,
                              success, impersonation_user, details, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub(crate) const MOVE_HEAD: &str = "UPDATE audit_head SET sequence = $1, hash = $2";

/// A page of ListAuditEvents: after sequence $1, filtered by $2..$6, at most $7.
pub(crate) const LIST: &str = "
    SELECT sequence, id, time, actor_id, action, target_type, target_id, success,
           impersonation_user, details, prev_hash, hash
    FROM audit_events
    WHERE sequence > $1
      AND ($2 IS NULL OR time >= $2) AND ($3 IS NULL OR time < $3)
      AND ($4 IS NULL OR actor_id = $4) AND ($5 IS NULL OR action = $5)
      AND ($6 IS NULL OR target_id = $6)
    ORDER BY sequence LIMIT $7";

pub(crate) const AFTER: &str = "
    SELECT sequence, id, time, actor_id, action, target_type, target_id, success,
           impersonation_user, details, prev_hash, hash
    FROM audit_events WHERE sequence > $1 ORDER BY sequence LIMIT $2";
