//! The benchmark's data set, and writing it straight into a freshly migrated database.
//!
//! Seeding goes under the API on purpose: a million CreateUser calls would take far longer than
//! the measurement. The rows are the ones the service itself would write for users created
//! through the API: UUIDv7 ids in creation order, the default permissions, and the comparison
//! keys of migration 0003, computed as the service computes them.

use std::{
    collections::{BTreeSet, HashMap},
    fmt::Write as _,
    time::Instant,
};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use personae::domain::name::{comparison_key, search_key, search_trigrams, search_words};
use rand::{RngCore, SeedableRng, rngs::StdRng};
use sqlx::{
    AssertSqlSafe, Connection, Executor, PgConnection, QueryBuilder, Sqlite, SqliteConnection,
    query_builder::Separated,
};
use uuid::Uuid;

/// The built-in IAM every seeded user comes from (created by migration 0001).
const BUILT_IN_IAM_ID: &str = "00000000-0000-7000-8000-000000000001";

/// The permissions every new user gets (the `default_permissions` rows of migration 0002).
const DEFAULT_PERMISSIONS: [&str; 2] = ["CREATE_PROJECT", "CREATE_DATA_SOURCE_IN_PROJECT"];

/// The direct grant 1% of users hold on top of the defaults.
pub(crate) const EXTRA_PERMISSION: &str = "AUDIT";

/// One user in this many is a member of the group, and one in this many holds
/// [`EXTRA_PERMISSION`]; the two sets are disjoint.
const ONE_IN: usize = 100;

/// User numbers are zero-padded to this width so that a user's email is a substring of no other
/// user's: the one-match search relies on it.
const NUMBER_WIDTH: usize = 7;

/// First and family names, each as displayed and as spelt in the email. A few are not ASCII so
/// that comparison keys do some real work.
const FIRST_NAMES: [(&str, &str); 16] = [
    ("Ada", "ada"),
    ("Grace", "grace"),
    ("Alan", "alan"),
    ("Zoë", "zoe"),
    ("Edsger", "edsger"),
    ("Barbara", "barbara"),
    ("Łukasz", "lukasz"),
    ("Margaret", "margaret"),
    ("Donald", "donald"),
    ("Frances", "frances"),
    ("José", "jose"),
    ("Radia", "radia"),
    ("Ken", "ken"),
    ("Søren", "soren"),
    ("Leslie", "leslie"),
    ("Hedy", "hedy"),
];
const FAMILY_NAMES: [(&str, &str); 16] = [
    ("Lovelace", "lovelace"),
    ("Hopper", "hopper"),
    ("Turing", "turing"),
    ("Müller", "muller"),
    ("Dijkstra", "dijkstra"),
    ("Liskov", "liskov"),
    ("Kowalski", "kowalski"),
    ("Hamilton", "hamilton"),
    ("Knuth", "knuth"),
    ("Allen", "allen"),
    ("Núñez", "nunez"),
    ("Perlman", "perlman"),
    ("Thompson", "thompson"),
    ("Kierkegaard", "kierkegaard"),
    ("Lamport", "lamport"),
    ("Lamarr", "lamarr"),
];

/// The users to seed, and the facts about them the timed calls need.
pub(crate) struct DataSet {
    pub users: usize,
    ids: Vec<Uuid>,
    first_ms: i64,
    pub group_id: Uuid,
    group_ms: i64,
}

/// One seeded user, as the service would have stored it.
struct UserRow {
    id: Uuid,
    username: String,
    email: String,
    full_name: String,
    create_ms: i64,
}

impl UserRow {
    fn username_key(&self) -> String {
        comparison_key(&self.username)
    }

    fn email_key(&self) -> String {
        comparison_key(&self.email)
    }

    fn search_key(&self) -> String {
        search_key(&[&self.full_name, &self.username, &self.email])
    }
}

/// The seeded group that 1% of users belong to.
const GROUP_NAME: &str = "Bench analysts";
const GROUP_EMAIL: &str = "analysts@example.com";
const GROUP_DESCRIPTION: &str = "The seeded users of whom one in a hundred is a member";

impl DataSet {
    /// `users` users created one millisecond apart, ending about now, so their UUIDv7 ids are
    /// in creation order. The random bits come from a fixed seed: runs differ only in time.
    pub(crate) fn new(users: usize) -> Self {
        assert!(
            users < 10usize.pow(NUMBER_WIDTH as u32),
            "at most {} users",
            10usize.pow(NUMBER_WIDTH as u32) - 1
        );
        let mut rng = StdRng::seed_from_u64(7);
        let group_ms = Utc::now().timestamp_millis() - users as i64 - 1;
        let first_ms = group_ms + 1;
        let mut v7 = |ms: i64| {
            let mut random = [0u8; 10];
            rng.fill_bytes(&mut random);
            uuid::Builder::from_unix_timestamp_millis(ms as u64, &random).into_uuid()
        };
        let group_id = v7(group_ms);
        let ids = (0..users).map(|i| v7(first_ms + i as i64)).collect();
        Self {
            users,
            ids,
            first_ms,
            group_id,
            group_ms,
        }
    }

    pub(crate) fn id(&self, index: usize) -> Uuid {
        self.ids[index]
    }

    /// The user in the middle of the id order.
    pub(crate) fn middle(&self) -> usize {
        self.users / 2
    }

    /// The email of user `index`, which no other user's name or email contains.
    pub(crate) fn email(&self, index: usize) -> String {
        self.user(index).email
    }

    pub(crate) fn in_group(index: usize) -> bool {
        index.is_multiple_of(ONE_IN)
    }

    pub(crate) fn has_extra_permission(index: usize) -> bool {
        index % ONE_IN == ONE_IN / 2
    }

    fn user(&self, index: usize) -> UserRow {
        let (first, first_ascii) = FIRST_NAMES[index % FIRST_NAMES.len()];
        let (family, family_ascii) = FAMILY_NAMES[(index / FIRST_NAMES.len()) % FAMILY_NAMES.len()];
        // Capitalised like people type them, so the email key differs from the email.
        let email = format!(
            "{}.{}.{:0width$}@Example.com",
            capitalise(first_ascii),
            capitalise(family_ascii),
            index + 1,
            width = NUMBER_WIDTH
        );
        UserRow {
            id: self.ids[index],
            username: email.clone(),
            email,
            full_name: format!("{first} {family}"),
            create_ms: self.first_ms + index as i64,
        }
    }

    fn users(&self) -> impl Iterator<Item = UserRow> + '_ {
        (0..self.users).map(|i| self.user(i))
    }

    /// (user id, permission) for every grant: the defaults for all, the extra one for 1%.
    fn grants(&self) -> impl Iterator<Item = (Uuid, &'static str)> + '_ {
        self.ids.iter().enumerate().flat_map(|(i, &id)| {
            let extra = Self::has_extra_permission(i).then_some(EXTRA_PERMISSION);
            DEFAULT_PERMISSIONS
                .into_iter()
                .chain(extra)
                .map(move |permission| (id, permission))
        })
    }

    /// How many users' search keys hold each of the parts `parts` takes from a key (trigrams,
    /// migration 0005, or words, 0007), as the store counts them on each write.
    fn search_counts(&self, parts: fn(&str) -> BTreeSet<String>) -> Vec<(String, i64)> {
        let mut counts: HashMap<String, i64> = HashMap::new();
        for user in self.users() {
            for part in parts(&user.search_key()) {
                *counts.entry(part).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    fn members(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.ids
            .iter()
            .enumerate()
            .filter(|(i, _)| Self::in_group(*i))
            .map(|(_, &id)| id)
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: COPY in text format.

/// Escapes a value for COPY's text format, where backslash, tab and newline are special.
fn copy_text(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

fn pg_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .expect("a time within chrono's range")
        .format("%Y-%m-%d %H:%M:%S%.3f+00")
        .to_string()
}

/// Streams rows built by `row` (each ending in a newline) into `COPY <target> FROM STDIN`.
async fn copy_in<T>(
    conn: &mut PgConnection,
    target: &str,
    rows: impl Iterator<Item = T>,
    mut row: impl FnMut(&mut String, T),
) -> anyhow::Result<u64> {
    /// Large enough that per-message overhead vanishes, small enough to stay cheap in memory.
    const CHUNK_BYTES: usize = 1 << 20;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} FROM STDIN"))
        .await
        .with_context(|| format!("starting COPY {target}"))?;
    let mut buffer = String::with_capacity(CHUNK_BYTES + 4096);
    for item in rows {
        row(&mut buffer, item);
        if buffer.len() >= CHUNK_BYTES {
            copy.send(buffer.as_bytes()).await?;
            buffer.clear();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes()).await?;
    }
    let rows = copy.finish().await?;
    progress(&format!("COPY {rows} rows"), target, started);
    Ok(rows)
}

/// Says on stderr how long one step of the seeding took, to show where the time goes.
fn progress(what: &str, target: &str, started: Instant) {
    let table = target.split_whitespace().next().unwrap_or(target);
    eprintln!(
        "    {what} into {table}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Seeds a migrated PostgreSQL database; returns how long it took, statistics included.
pub(crate) async fn postgres(conn: &mut PgConnection, data: &DataSet) -> anyhow::Result<f64> {
    let started = Instant::now();
    // A lost seed is simply redone; no need to wait for the WAL flush of each statement.
    conn.execute("SET synchronous_commit = off").await?;

    let group_time = DateTime::<Utc>::from_timestamp_millis(data.group_ms).expect("a valid time");
    insert_group::<sqlx::Postgres>()
        .push_values([()], |mut values, ()| {
            values
                .push_bind(data.group_id)
                .push_bind(GROUP_NAME)
                .push_bind(GROUP_DESCRIPTION)
                .push_bind(GROUP_EMAIL)
                .push_bind(group_time)
                .push_bind(group_time)
                .push_bind(1i64)
                .push_bind(comparison_key(GROUP_NAME))
                .push_bind(group_search_key());
        })
        .build()
        .execute(&mut *conn)
        .await
        .context("inserting the group")?;

    let foreign_keys = drop_foreign_keys(conn, &["users", "user_permissions", "group_members"])
        .await
        .context("dropping foreign keys for the load")?;
    let columns = format!("users ({USER_COLUMNS})");
    copy_in(conn, &columns, data.users(), |out, user| {
        let time = pg_time(user.create_ms);
        let _ = write!(out, "{}\t", user.id);
        copy_text(out, &user.username);
        out.push('\t');
        copy_text(out, &user.email);
        out.push('\t');
        copy_text(out, &user.full_name);
        let _ = write!(out, "\tPERSON\t{BUILT_IN_IAM_ID}\tf\t{time}\t{time}\t1\t");
        copy_text(out, &user.username_key());
        out.push('\t');
        copy_text(out, &user.email_key());
        out.push('\t');
        copy_text(out, &user.search_key());
        out.push('\n');
    })
    .await?;
    copy_in(
        conn,
        "user_permissions (user_id, permission)",
        data.grants(),
        |out, (id, permission)| {
            let _ = writeln!(out, "{id}\t{permission}");
        },
    )
    .await?;
    let group_id = data.group_id;
    copy_in(
        conn,
        "group_members (group_id, user_id)",
        data.members(),
        |out, id| {
            let _ = writeln!(out, "{group_id}\t{id}");
        },
    )
    .await?;
    add_search_counts::<sqlx::Postgres>(conn, data).await?;
    let restore = Instant::now();
    for key in foreign_keys {
        conn.execute(AssertSqlSafe(format!(
            "ALTER TABLE {} ADD CONSTRAINT \"{}\" {}",
            key.table, key.name, key.definition
        )))
        .await
        .with_context(|| format!("restoring the foreign key {}", key.name))?;
    }
    eprintln!(
        "    restoring foreign keys: {:.1} s",
        restore.elapsed().as_secs_f64()
    );
    // What autovacuum would do soon after a bulk load anyway: fresh planner statistics and a
    // visibility map, so the timings do not depend on when it happens to run.
    let vacuum = Instant::now();
    conn.execute("VACUUM ANALYZE").await?;
    eprintln!(
        "    VACUUM ANALYZE: {:.1} s",
        vacuum.elapsed().as_secs_f64()
    );
    Ok(started.elapsed().as_secs_f64())
}

/// A foreign key as the catalog describes it, enough to create it again unchanged.
#[derive(sqlx::FromRow)]
struct ForeignKey {
    table: String,
    name: String,
    definition: String,
}

/// Drops the foreign keys of `tables`, returning them so they can be restored.
///
/// PostgreSQL checks a foreign key row by row during COPY, which made up most of the seeding
/// time; added back afterwards, each is checked in one join. The seeded rows satisfy them all,
/// and the restored schema is the migrated one (same names, same definitions).
async fn drop_foreign_keys(
    conn: &mut PgConnection,
    tables: &[&str],
) -> anyhow::Result<Vec<ForeignKey>> {
    let keys: Vec<ForeignKey> = sqlx::query_as(
        "SELECT conrelid::regclass::text AS table, conname::text AS name, \
                pg_get_constraintdef(oid) AS definition \
         FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[]) \
         ORDER BY 1, 2",
    )
    .bind(tables)
    .fetch_all(&mut *conn)
    .await?;
    for key in &keys {
        conn.execute(AssertSqlSafe(format!(
            "ALTER TABLE {} DROP CONSTRAINT \"{}\"",
            key.table, key.name
        )))
        .await?;
    }
    Ok(keys)
}

/// The user columns the seeder fills, in the order both seeders write them.
const USER_COLUMNS: &str = "id, username, email, full_name, kind, iam_id, disabled, create_time, \
     update_time, version, username_key, email_key, search_key";

/// `INSERT INTO groups (...) `, ready for `push_values`.
fn insert_group<DB: sqlx::Database>() -> QueryBuilder<DB> {
    QueryBuilder::new(
        "INSERT INTO groups (id, name, description, email, create_time, update_time, version, \
         name_key, search_key) ",
    )
}

/// Adds the users' trigram and word counts to the store's, which already hold the bootstrap
/// admin's.
async fn add_search_counts<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    data: &DataSet,
) -> anyhow::Result<()>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    for<'a> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    let tables = [
        (
            "user_search_trigrams",
            "trigram",
            search_trigrams as fn(&str) -> _,
        ),
        ("user_search_word_counts", "word", search_words),
    ];
    for (table, column, parts) in tables {
        let started = Instant::now();
        let counts = data.search_counts(parts);
        // Within both databases' limits on parameters per statement.
        for chunk in counts.chunks(10_000) {
            let mut insert =
                QueryBuilder::<DB>::new(format!("INSERT INTO {table} ({column}, users) "));
            insert.push_values(chunk, |mut values, (part, users)| {
                values.push_bind(part.clone()).push_bind(*users);
            });
            insert.push(format!(
                " ON CONFLICT ({column}) DO UPDATE SET users = {table}.users + excluded.users"
            ));
            insert
                .build()
                .execute(&mut *conn)
                .await
                .with_context(|| format!("adding to {table}"))?;
        }
        progress(
            &format!("counted {} {column}s", counts.len()),
            table,
            started,
        );
    }
    Ok(())
}

fn group_search_key() -> String {
    search_key(&[GROUP_NAME, GROUP_EMAIL])
}

// ---------------------------------------------------------------------------------------------
// SQLite: multi-row INSERTs in one transaction.

/// Seeds a migrated SQLite database; returns how long it took.
pub(crate) async fn sqlite(conn: &mut SqliteConnection, data: &DataSet) -> anyhow::Result<f64> {
    let started = Instant::now();
    // A lost seed is simply redone, so skip the syncs; and give the index inserts a large cache
    // (256 MiB), as they touch every index of every table.
    conn.execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144")
        .await?;
    let mut tx = conn.begin().await?;

    let group_us = data.group_ms * 1000;
    insert_group::<Sqlite>()
        .push_values([()], |mut values, ()| {
            values
                .push_bind(data.group_id.to_string())
                .push_bind(GROUP_NAME)
                .push_bind(GROUP_DESCRIPTION)
                .push_bind(GROUP_EMAIL)
                .push_bind(group_us)
                .push_bind(group_us)
                .push_bind(1i64)
                .push_bind(comparison_key(GROUP_NAME))
                .push_bind(group_search_key());
        })
        .build()
        .execute(&mut *tx)
        .await
        .context("inserting the group")?;

    let head = format!("INSERT INTO users ({USER_COLUMNS}) ");
    insert_all(&mut tx, &head, 13, data.users(), |values, user| {
        let us = user.create_ms * 1000;
        values
            .push_bind(user.id.to_string())
            .push_bind(user.username.clone())
            .push_bind(user.email.clone())
            .push_bind(user.full_name.clone())
            .push_bind("PERSON")
            .push_bind(BUILT_IN_IAM_ID)
            .push_bind(0i64)
            .push_bind(us)
            .push_bind(us)
            .push_bind(1i64)
            .push_bind(user.username_key())
            .push_bind(user.email_key())
            .push_bind(user.search_key());
    })
    .await
    .context("inserting users")?;
    insert_all(
        &mut tx,
        "INSERT INTO user_permissions (user_id, permission) ",
        2,
        data.grants(),
        |values, (id, permission)| {
            values.push_bind(id.to_string()).push_bind(permission);
        },
    )
    .await
    .context("inserting grants")?;
    let group_id = data.group_id.to_string();
    insert_all(
        &mut tx,
        "INSERT INTO group_members (group_id, user_id) ",
        2,
        data.members(),
        |values, id| {
            values.push_bind(group_id.clone()).push_bind(id.to_string());
        },
    )
    .await
    .context("inserting group members")?;
    add_search_counts::<Sqlite>(&mut tx, data).await?;
    tx.commit().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Inserts `rows` with as few multi-row INSERTs as SQLite's limit on parameters allows.
async fn insert_all<T>(
    conn: &mut SqliteConnection,
    head: &str,
    parameters_per_row: usize,
    rows: impl Iterator<Item = T>,
    mut bind: impl FnMut(&mut Separated<'_, Sqlite, &'static str>, T),
) -> anyhow::Result<()> {
    /// SQLite binds at most 32,766 parameters per statement.
    const MAX_PARAMETERS: usize = 32_766;
    let rows_per_statement = MAX_PARAMETERS / parameters_per_row;
    let started = Instant::now();
    let mut count = 0;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let mut insert = QueryBuilder::<Sqlite>::new(head);
        insert.push_values(rows.by_ref().take(rows_per_statement), |mut values, row| {
            count += 1;
            bind(&mut values, row)
        });
        insert.build().execute(&mut *conn).await?;
    }
    let table = head.trim_start_matches("INSERT INTO ");
    progress(&format!("INSERT {count} rows"), table, started);
    Ok(())
}
