//! Statements only SQLite runs.

/// Begins a transaction holding the write lock from its start: a deferred transaction that
/// reads and then writes could fail with SQLITE_BUSY when another writer got there in between.
pub(crate) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
