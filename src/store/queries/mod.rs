//! The SQL of the store, written once for both backends: `$n` placeholders, `RETURNING` and
//! `ON CONFLICT`, which PostgreSQL and SQLite both understand. Where they differ, a constant is
//! a [`Sql`] with one text each, built by a macro from the shared parts.

pub(super) mod audit;
pub(super) mod backfill;
pub(super) mod groups;
pub(super) mod iam_sync;
pub(super) mod iams;
pub(super) mod impersonation;
pub(super) mod policy;
pub(super) mod postgres;
pub(super) mod secret_keys;
pub(super) mod sqlite;
pub(super) mod users;

pub(super) use super::db::Sql;

/// A statement that selects rows whose `$column` is one of the values bound to `$1`: an array on
/// PostgreSQL (`= ANY`), a JSON array on SQLite (`json_each`), so a page's details are read by
/// the page's ids, never by a range of the table.
macro_rules! where_in {
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
pub(super) use where_in;

/// `%part%part%` for a search index's LIKE, which takes no escape character: each `%`, `_` or
/// `\` of a part becomes `_` (any one character), so the pattern matches at least what the
/// exact one does.
pub(super) fn index_pattern(parts: &[impl AsRef<str>]) -> String {
    let mut pattern = String::from("%");
    for part in parts {
        pattern.extend(part.as_ref().chars().map(|c| {
            if matches!(c, '%' | '_' | '\\') {
                '_'
            } else {
                c
            }
        }));
        pattern.push('%');
    }
    pattern
}

/// `%text%` for LIKE with `\` as the escape character.
pub(super) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
