//! Names are unique ignoring case in every script, on both stores: the comparison key
//! (Unicode lowercase, NFC) is computed by the service, not by the database's `lower()`, which
//! folds ASCII only on SQLite. Part of the Store conformance suite.

use std::collections::BTreeMap;

use crate::common::{
    TestDatabase, TestStore, reopen,
    store::{new_group, new_user, page, record},
    values::*,
};
use personae::{
    domain::{
        BUILT_IN_IAM_ID, Id,
        external::{ExternalUsername, Platform},
        role::NewRole,
        user::{Email, FullName, NewUser, UserChanges},
    },
    error::Error,
    secrets::KeySource,
    store::{GroupStore, Store, UserFilter, UserKey, UserStore},
};

async fn create_user(store: &dyn Store, email: &str, full_name: &str) -> Result<Id, Error> {
    let id = Id::new();
    let user = NewUser {
        full_name: FullName::parse("full_name", full_name).expect("a valid name"),
        ..new_user(email)
    };
    store
        .create_user(id, user, record("CreateUser", id))
        .await?;
    Ok(id)
}

#[track_caller]
fn assert_already_exists<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::AlreadyExists(_)) => {}
        other => panic!("{what}: expected AlreadyExists, got {other:?}"),
    }
}

async fn user_names_ignore_case_in_every_script(t: TestStore) {
    let store = t.store.as_ref();
    let emile = create_user(store, "Émile@Example.com", "Émile Zola")
        .await
        .unwrap();
    for twin in [
        "émile@example.com",
        "ÉMILE@EXAMPLE.COM",
        // É written as E and a combining acute accent.
        "E\u{301}mile@example.com",
    ] {
        assert_already_exists(create_user(store, twin, "Twin").await, twin);
    }
    let found = store
        .get_user(&UserKey::Username("e\u{301}mile@EXAMPLE.com".into()))
        .await
        .unwrap();
    assert_eq!(found.id, emile);
    assert_eq!(
        found.username, "Émile@Example.com",
        "the name is kept as given"
    );

    // Search matches ignoring case beyond ASCII, in the full name and the email.
    create_user(store, "other@example.com", "Someone Else")
        .await
        .unwrap();
    for query in ["émile zola", "ÉMILE", "zola", "@example.com"] {
        let filter = UserFilter {
            query: Some(personae::domain::name::comparison_key(query)),
            ..Default::default()
        };
        let ids: Vec<Id> = store
            .list_users(&filter, &page(50))
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert!(ids.contains(&emile), "{query:?} must find Émile: {ids:?}");
        let expected = if query == "@example.com" { 2 } else { 1 };
        assert_eq!(ids.len(), expected, "{query:?}: {ids:?}");
    }
}

async fn group_role_and_tenant_names_ignore_case_in_every_script(t: TestStore) {
    let store = t.store.as_ref();
    store
        .create_group(Id::new(), new_group("Équipe"), record("CreateGroup", "x"))
        .await
        .unwrap();
    assert_already_exists(
        store
            .create_group(Id::new(), new_group("ÉQUIPE"), record("CreateGroup", "x"))
            .await,
        "group",
    );
    let role = |name: &str| NewRole {
        name: named(name),
        description: Default::default(),
        permissions: Vec::new(),
    };
    store
        .create_role(Id::new(), role("Ärzte"), record("CreateRole", "x"))
        .await
        .unwrap();
    assert_already_exists(
        store
            .create_role(Id::new(), role("ärzte"), record("CreateRole", "x"))
            .await,
        "role",
    );
    store
        .create_tenant(Id::new(), tenant("Ísland"), record("CreateTenant", "x"))
        .await
        .unwrap();
    assert_already_exists(
        store
            .create_tenant(Id::new(), tenant("ísland"), record("CreateTenant", "x"))
            .await,
        "tenant",
    );
}

async fn external_usernames_ignore_case_except_on_s3(t: TestStore) {
    let store = t.store.as_ref();
    let ada = create_user(store, "ada@example.com", "Ada").await.unwrap();
    let bob = create_user(store, "bob@example.com", "Bob").await.unwrap();
    let set = |user: Id, platform: Platform, name: &str| {
        let name = ExternalUsername::new(platform, name, None).unwrap();
        async move {
            store
                .set_external_username(user, name, record("SetExternalUsername", "x"))
                .await
        }
    };
    set(ada, Platform::Snowflake, "ÉMILE").await.unwrap();
    assert_already_exists(set(bob, Platform::Snowflake, "émile").await, "Snowflake");
    set(ada, Platform::S3, "Rôle").await.unwrap();
    set(bob, Platform::S3, "rôle")
        .await
        .expect("S3 names are case-sensitive");
}

/// Rows written before the keys existed get them when the store opens; of two rows whose names
/// collide, the first keeps its name's key and the second is left without one (and reported).
async fn keys_are_filled_for_existing_rows(t: TestStore) {
    let t = t.close();
    let now = if t.is_postgres() { "now()" } else { "0" };
    let iam = BUILT_IN_IAM_ID;
    for (id, email) in [
        ("00000000-0000-7000-8000-00000000aa01", "Zoë@example.com"),
        ("00000000-0000-7000-8000-00000000aa02", "zoë@example.com"),
    ] {
        t.execute_raw(&format!(
            "INSERT INTO users (id, username, email, full_name, kind, iam_id, disabled, \
             create_time, update_time, version) \
             VALUES ('{id}', '{email}', '{email}', 'Zoë', 'PERSON', '{iam}', false, {now}, {now}, 1)"
        ))
        .await;
    }
    t.execute_raw(&format!(
        "INSERT INTO groups (id, name, description, create_time, update_time, version) \
         VALUES ('00000000-0000-7000-8000-00000000bb01', 'Öffentlich', '', {now}, {now}, 1)"
    ))
    .await;

    let reopened = reopen(&t.url, &KeySource::None).await.unwrap();
    let first = reopened
        .get_user(&UserKey::Username("ZOË@EXAMPLE.COM".into()))
        .await
        .unwrap();
    assert_eq!(first.id.to_string(), "00000000-0000-7000-8000-00000000aa01");
    assert_already_exists(
        create_user(&reopened, "ZOË@example.com", "Zoë").await,
        "the filled key is enforced",
    );
    let filter = UserFilter {
        query: Some("zoë".into()),
        ..Default::default()
    };
    let found = reopened.list_users(&filter, &page(50)).await.unwrap();
    assert_eq!(
        found.len(),
        1,
        "the colliding row has no search key: {found:?}"
    );
    assert_already_exists(
        reopened
            .create_group(
                Id::new(),
                new_group("ÖFFENTLICH"),
                record("CreateGroup", "x"),
            )
            .await,
        "the group's filled key is enforced",
    );
    assert_search_counts_are_exact(&t).await;
}

/// The search's trigram and word counts equal a recount of the users' search keys, and so do
/// the counts migrations 0005 and 0007 compute from them when they run on a database that has
/// users.
async fn assert_search_counts_are_exact(t: &TestDatabase) {
    let keys = t
        .text_and_number_rows(
            "SELECT search_key, CAST(0 AS BIGINT) FROM users WHERE search_key IS NOT NULL",
        )
        .await;
    let (postgres, sqlite) = (
        [
            include_str!("../../src/store/migrations/postgres/0005_user_search_trigrams.sql"),
            include_str!("../../src/store/migrations/postgres/0007_user_search_words.sql"),
        ],
        [
            include_str!("../../src/store/migrations/sqlite/0005_user_search_trigrams.sql"),
            include_str!("../../src/store/migrations/sqlite/0007_user_search_words.sql"),
        ],
    );
    let migrations = if t.is_postgres() { postgres } else { sqlite };
    let word_index = if t.is_postgres() {
        "DROP INDEX users_search_words_idx"
    } else {
        "DROP TABLE users_search_words"
    };
    let cases = [
        (
            "user_search_trigrams",
            "trigram",
            personae::domain::name::search_trigrams as fn(&str) -> _,
            migrations[0],
            "SELECT 1",
        ),
        (
            "user_search_word_counts",
            "word",
            personae::domain::name::search_words,
            migrations[1],
            word_index,
        ),
    ];
    for (table, column, parts, migration, drop_index) in cases {
        let mut recount: BTreeMap<String, i64> = BTreeMap::new();
        for (key, _) in &keys {
            for part in parts(key) {
                *recount.entry(part).or_default() += 1;
            }
        }
        let counts = || async {
            let rows = t
                .text_and_number_rows(&format!(
                    "SELECT {column}, users FROM {table} WHERE users > 0"
                ))
                .await;
            rows.into_iter().collect::<BTreeMap<_, _>>()
        };
        assert_eq!(counts().await, recount, "{table} kept by the writes");
        t.execute_raw(&format!("{drop_index}; DROP TABLE {table}; {migration}"))
            .await;
        assert_eq!(counts().await, recount, "{table} filled by the migration");
    }
}

async fn search(store: &dyn Store, text: &str) -> Vec<Id> {
    let filter = UserFilter {
        query: Some(personae::domain::name::comparison_key(text)),
        include_disabled: true,
        ..Default::default()
    };
    let users = store.list_users(&filter, &page(50)).await.unwrap();
    users.into_iter().map(|u| u.id).collect()
}

/// The search index follows every change of a name or email and of the users themselves, and
/// `%`, `_` and `\` in a query are matched as themselves.
async fn search_follows_changes_and_matches_literally(t: TestStore) {
    let store = t.store.as_ref();
    let underscore = create_user(store, "a_b@example.com", "Under Score")
        .await
        .unwrap();
    let other = create_user(store, "axb@example.com", "Per%Cent")
        .await
        .unwrap();
    assert_eq!(search(store, "a_b@").await, [underscore]);
    assert_eq!(search(store, "r%c").await, [other]);
    assert!(search(store, "a\\b").await.is_empty());

    let version = store.get_user(&UserKey::Id(other)).await.unwrap().version;
    let changes = UserChanges {
        full_name: Some(FullName::parse("full_name", "Grace Hopper").unwrap()),
        email: Some(Email::parse("email", "grace@example.org").unwrap()),
        ..Default::default()
    };
    store
        .update_user(other, version, changes, record("UpdateUser", other))
        .await
        .unwrap();
    assert!(
        search(store, "per%cent").await.is_empty(),
        "the old name is gone"
    );
    assert!(
        search(store, "axb@").await.is_empty(),
        "the old email is gone"
    );
    assert_eq!(search(store, "hopper").await, [other]);
    assert_eq!(search(store, "grace@example.org").await, [other]);

    store
        .delete_user(underscore, record("DeleteUser", underscore))
        .await
        .unwrap();
    assert!(search(store, "under score").await.is_empty());
    assert_eq!(
        search(store, "grace@example.org\nzz").await,
        [],
        "a trigram no user holds"
    );
    assert_search_counts_are_exact(&t).await;
}

/// A query holding a whole word much rarer than any of its trigrams is answered from the word
/// index, with the same answer the trigrams give: every user whose key contains the query,
/// however the word sits in it, and no user who holds the query's trigrams apart.
async fn search_by_a_whole_word_finds_every_match(t: TestStore) {
    let store = t.store.as_ref();
    for n in 0..6 {
        create_user(store, &format!("a.bcx.xbcd.e@f{n}.com"), "Filler")
            .await
            .unwrap();
    }
    let exact = create_user(store, "a.bcd.e@g.com", "Exact").await.unwrap();
    let within = create_user(store, "za.bcd.ez@h.com", "Within")
        .await
        .unwrap();
    let mut expected = vec![exact, within];
    expected.sort();
    assert_eq!(search(store, "a.bcd.e").await, expected);
    assert_eq!(search(store, "A.BCD.E@G").await, [exact]);
    assert!(search(store, "a.bcd.e@f").await.is_empty());
    let mut everyone = search(store, "bcx.xbcd.").await;
    everyone.sort();
    assert_eq!(
        everyone.len(),
        6,
        "the fillers, by a word every one of them holds"
    );

    let version = store.get_user(&UserKey::Id(exact)).await.unwrap().version;
    let changes = UserChanges {
        full_name: Some(FullName::parse("full_name", "Ab.Cde.Fg").unwrap()),
        email: None,
        ..Default::default()
    };
    store
        .update_user(exact, version, changes, record("UpdateUser", exact))
        .await
        .unwrap();
    assert_eq!(search(store, "b.cde.f").await, [exact], "a new word");
    store
        .delete_user(within, record("DeleteUser", within))
        .await
        .unwrap();
    assert_eq!(
        search(store, "a.bcd.e").await,
        [exact],
        "a deleted user's words are gone"
    );
    assert_search_counts_are_exact(&t).await;
}

on_both_stores!(
    search_follows_changes_and_matches_literally,
    search_by_a_whole_word_finds_every_match,
    user_names_ignore_case_in_every_script,
    group_role_and_tenant_names_ignore_case_in_every_script,
    external_usernames_ignore_case_except_on_s3,
    keys_are_filled_for_existing_rows,
);
