//! Statements only PostgreSQL runs, since only there do other processes share the store:
//! announcing commits to them, and the advisory locks they see.

/// The channel every commit announces its revision on (`pg_notify` in the committing
/// transaction, so it is delivered exactly when the commit is).
pub(crate) const REVISIONS_CHANNEL: &str = "personae_revisions";

/// Announces revision $2 on channel $1 ([`REVISIONS_CHANNEL`]) to every listening process when
/// the transaction commits.
pub(crate) const ANNOUNCE: &str = "SELECT pg_notify($1, $2)";

/// Takes advisory lock $1 until the transaction ends, if no other session holds it.
pub(crate) const TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";

/// Begins a read-only transaction whose statements all read the snapshot its first one took
/// (under READ COMMITTED each statement would take its own).
pub(crate) const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
