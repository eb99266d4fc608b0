//! Statements only PostgreSQL runs, since only there do other processes share the store:
//! announcing commits to them, and the advisory locks they see.

/// The channel every commit announces its revision on (`pg_notify` in the committing
/// transaction, so it is delivered exactly when the commit is).
pub(crate) const REVISIONS_CHANNEL: &str = "personae_revisions";

/// The channel a commit announces what it touched on, as `<revision> <touched>` just before
/// its revision: a listener that hears a revision without it takes the commit to have touched
/// everything (so do processes of a version that does not listen to it, which keeps upgrades
/// safe both ways).
pub(crate) const TOUCHED_CHANNEL: &str = "personae_touched";

/// Announces payload $2 on channel $1 to every listening process when the transaction commits,
/// after any announced before it in the transaction.
pub(crate) const ANNOUNCE: &str = "SELECT pg_notify($1, $2)";

/// Takes advisory lock $1 until the transaction ends, if no other session holds it.
pub(crate) const TRY_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";
