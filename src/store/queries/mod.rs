//! The SQL of the store, written once for both backends: `$n` placeholders, `RETURNING` and
//! `ON CONFLICT`, which PostgreSQL and SQLite both understand. Where they differ, a constant is
//! a [`Sql`] with one text each, built by a macro from the shared parts.

pub(super) mod audit;
pub(super) mod groups;
pub(super) mod keys;
pub(super) mod policy;
pub(super) mod users;

pub(super) use super::db::Sql;

/// A statement that selects rows whose `$column` is one of the ids bound to `$1`: an array on
/// PostgreSQL (`= ANY`), a JSON array on SQLite (`json_each`), so a page's details are read by
/// the page's ids, never by a range of the table.
macro_rules! where_in_ids {
    ($select:literal, $column:literal, $rest:literal) => {
        $crate::store::db::Sql {
            postgres: concat!($select, " WHERE ", $column, " = ANY($1) ", $rest),
            sqlite: concat!(
                $select,
                " WHERE ",
                $column,
                " IN (SELECT value FROM json_each($1)) ",
                $rest
            ),
        }
    };
}
pub(super) use where_in_ids;
