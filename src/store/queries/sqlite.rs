//! Statements only SQLite runs.

/// Begins a transaction holding the write lock from its start: a deferred transaction that
/// reads and then writes could fail with SQLITE_BUSY when another writer got there in between.
pub(crate) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Begins a read transaction: in WAL mode it reads one snapshot, taken at its first read and
/// kept until it ends, whatever commits meanwhile.
pub(crate) const BEGIN_SNAPSHOT: &str = "BEGIN DEFERRED";
