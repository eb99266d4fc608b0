//! Cached answers equal a plain evaluation straight from the store, after every one of a
//! random sequence of writes (users, groups, roles, tenants, grants, integrations, sessions),
//! on both stores. The sequence comes from a seed (printed; set PERSONAE_CACHE_SEED to replay).

use std::time::Duration;

use crate::common::{
    TestStore, postgres_store,
    store::{create_group, create_role, create_user, record},
    values::*,
};
use personae::{
    checks::{Consistency, Decisions, evaluate},
    domain::{
        Id,
        external::Platform,
        impersonation::{IntegrationSettings, NewSession, Reason, SessionId, Subject, decide},
        permission,
        role::{AssignmentKey, Grantee},
    },
    store::Store,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const WRITES: usize = 60;
const PLATFORMS: [Platform; 4] = [
    Platform::Snowflake,
    Platform::Synapse,
    Platform::Trino,
    Platform::Databricks,
];
const PERMISSIONS: [&str; 3] = [
    permission::IMPERSONATE_USER,
    permission::USER_ADMIN,
    permission::AUDIT,
];

struct World {
    users: Vec<Id>,
    names: Vec<String>,
    groups: Vec<Id>,
    roles: Vec<Id>,
    tenant: Id,
}

async fn world(store: &dyn Store) -> World {
    let mut users = Vec::new();
    let mut names = Vec::new();
    for i in 0..5 {
        let name = format!("u{i}@x.com");
        users.push(create_user(store, &name).await);
        names.push(name);
    }
    let groups = vec![
        create_group(store, "G0").await,
        create_group(store, "G1").await,
    ];
    let mut roles = Vec::new();
    for (name, granted) in [
        ("Impersonators", permission::IMPERSONATE_USER),
        ("Auditors", permission::AUDIT),
    ] {
        roles.push(create_role(store, name, &[granted]).await);
    }
    let tenant = Id::new();
    store
        .create_tenant(
            tenant,
            crate::common::values::tenant("T"),
            record("CreateTenant", tenant),
        )
        .await
        .unwrap();
    World {
        users,
        names,
        groups,
        roles,
        tenant,
    }
}

/// One random write; refusals (a rule the write would break) are part of the game.
async fn random_write(store: &dyn Store, w: &World, rng: &mut StdRng, step: usize) -> String {
    let user = w.users[rng.random_range(0..w.users.len())];
    let group = w.groups[rng.random_range(0..w.groups.len())];
    let role = w.roles[rng.random_range(0..w.roles.len())];
    let permission = perm(PERMISSIONS[rng.random_range(0..PERMISSIONS.len())]);
    let r = || record("Random", step);
    let grantee = if rng.random_bool(0.5) {
        Grantee::User(user)
    } else {
        Grantee::Group(group)
    };
    let assignment = AssignmentKey {
        grantee,
        role_id: role,
        tenant_id: rng.random_bool(0.5).then_some(w.tenant),
    };
    let what = rng.random_range(0..10);
    let result = match what {
        0 => store
            .grant_permission(user, &permission, r())
            .await
            .map(drop),
        1 => store
            .revoke_permission(user, &permission, r())
            .await
            .map(drop),
        2 => store
            .set_user_disabled(user, rng.random_bool(0.5), r())
            .await
            .map(drop),
        3 => store.add_members(group, &[user], r()).await.map(drop),
        4 => store.remove_member(group, user, r()).await.map(drop),
        5 => store
            .assign_role(Id::new(), assignment, r())
            .await
            .map(drop),
        6 => store.unassign_role(assignment, r()).await.map(drop),
        7 | 8 => {
            let platform = PLATFORMS[rng.random_range(0..PLATFORMS.len())];
            let allowed: Vec<String> = match platform {
                Platform::Databricks => vec![w.names[rng.random_range(0..w.names.len())].clone()],
                _ => vec![],
            };
            let pattern = if platform == Platform::Trino && rng.random_bool(0.5) {
                "u[0-2]@x\\.com"
            } else {
                ""
            };
            let targets = if rng.random_bool(0.3) {
                vec![group]
            } else {
                vec![]
            };
            let settings = IntegrationSettings::new(
                platform,
                rng.random_bool(0.8),
                "",
                &allowed,
                pattern,
                targets,
            )
            .unwrap();
            store
                .configure_integration(platform, settings, None, r())
                .await
                .map(drop)
        }
        _ => {
            let session = NewSession {
                session_id: SessionId::parse("session_id", &format!("s{step}")).unwrap(),
                platform: Platform::Snowflake,
                actor: w.names[0].clone(),
                target: w.names[rng.random_range(0..w.names.len())].clone(),
                reason: String::new(),
                ttl: None,
            };
            store
                .begin_impersonation(Id::new(), session, r())
                .await
                .map(drop)
        }
    };
    format!(
        "write kind {what}: {}",
        if result.is_ok() { "done" } else { "refused" }
    )
}

async fn cached_answers_equal_the_store_after_every_write(t: TestStore) {
    let seed: u64 = std::env::var("PERSONAE_CACHE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("PERSONAE_CACHE_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let store = t.store.clone();
    let w = world(store.as_ref()).await;
    let decisions = Decisions::start(store.clone(), Duration::from_secs(3600), 1000);
    let caller = Id::new();

    // A fixed set of questions, asked after every write, so that each write finds the answers
    // of the one before cached.
    let mut questions = Vec::new();
    for platform in PLATFORMS {
        for actor in w.names.iter().chain([&"svc@x.com".to_owned()]) {
            for target in w.names.iter().take(2) {
                questions.push((platform, actor.clone(), Subject::Target(target.clone())));
            }
        }
    }
    let mut history = Vec::new();
    for step in 0..WRITES {
        history.push(random_write(store.as_ref(), &w, &mut rng, step).await);
        let mut asked = questions.clone();
        let sessions = step.min(3);
        for earlier in step - sessions..step {
            let id = SessionId::parse("session_id", &format!("s{earlier}")).unwrap();
            asked.push((
                Platform::Snowflake,
                w.names[0].clone(),
                Subject::Session(id),
            ));
        }
        for (platform, actor, subject) in &asked {
            let plain = evaluate(store.as_ref(), *platform, actor, subject)
                .await
                .map(|(_, d)| d);
            for _ in 0..2 {
                let cached = decisions
                    .check_impersonation(caller, *platform, actor, subject, Consistency::Cached)
                    .await;
                assert_eq!(
                    format!("{cached:?}"),
                    format!("{plain:?}"),
                    "seed {seed}, after {history:?}: {} {actor} {subject:?}",
                    platform.as_str()
                );
            }
        }
        for user in &w.users {
            for tenant in [None, Some(w.tenant)] {
                let plain = store.effective_permissions(*user, tenant).await.unwrap();
                for name in PERMISSIONS {
                    let cached = decisions
                        .holds(*user, &perm(name), tenant, Consistency::Cached)
                        .await
                        .unwrap();
                    assert_eq!(
                        cached,
                        plain.iter().any(|g| g.permission == name),
                        "seed {seed}, after {history:?}: {user} {name} {tenant:?}"
                    );
                }
            }
        }
    }
    decisions.close().await;
}

on_both_stores!(cached_answers_equal_the_store_after_every_write);

/// A check's facts come from one snapshot: a commit that lands between its statements is seen
/// by none of them. PostgreSQL only, where a reader can be held between its statements by a
/// lock on a table it reads in the middle (SQLite's readers never wait). The commit turns the
/// integration off and disables the target: a check that read the integration before it and
/// the target after it would see a state that was never committed (the integration on, the
/// target disabled).
#[tokio::test]
async fn a_checks_facts_are_read_from_one_snapshot() {
    let t = postgres_store().await;
    let store = t.store.clone();
    let actor = create_user(store.as_ref(), "imp@example.com").await;
    let target = create_user(store.as_ref(), "bob@example.com").await;
    store
        .grant_permission(
            actor,
            &perm(permission::IMPERSONATE_USER),
            record("Grant", actor),
        )
        .await
        .unwrap();
    let settings =
        IntegrationSettings::new(Platform::Snowflake, true, "", &[], "", Vec::new()).unwrap();
    store
        .configure_integration(
            Platform::Snowflake,
            settings,
            None,
            record("Configure", "x"),
        )
        .await
        .unwrap();

    let lock = t.lock_table("role_permissions").await;
    let reader = tokio::spawn(async move {
        store
            .impersonation_facts(Platform::Snowflake, "imp@example.com", "bob@example.com")
            .await
    });
    // The reader has read the integration and the actor's name, and waits for the lock to read
    // the actor's permissions.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while t
        .text_and_number_rows(
            "SELECT state, count(*) FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND datname = current_database() GROUP BY state",
        )
        .await
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.execute_raw(&format!(
        "UPDATE integrations SET enabled = false WHERE platform = 'SNOWFLAKE'; \
         UPDATE users SET disabled = true WHERE id = '{target}'"
    ))
    .await;
    drop(lock);
    let facts = reader.await.unwrap().unwrap();
    let decision = decide(&facts);
    assert_eq!(
        decision.reason,
        Reason::AllowedByPermission,
        "the facts from before the commit, all of them: {facts:?}"
    );
}
