//! Impersonation on both stores: every platform × rule × reason of the decision table, sessions
//! as checks see them, integrations, and session listing. Part of the Store conformance suite.

use std::time::Duration;

use crate::common::{
    TestStore, logs, reopen,
    store::{
        all_pages, assign_role, create_group, create_iam, create_role, create_user, grant,
        new_user, record, verify_chain,
    },
    values::*,
};
use personae::{
    checks::{Consistency, Decisions, evaluate},
    domain::{
        Id,
        external::{ExternalUsername, Platform},
        impersonation::{
            IntegrationSettings, NewSession, Reason, SessionFilter, SessionId, Subject,
        },
        permission,
        role::Grantee,
        user::{Email, UserChanges},
    },
    error::Error,
    secrets::KeySource,
    store::{AuditFilter, Store, UserKey},
    telemetry::Metrics,
};

async fn configure(store: &dyn Store, platform: Platform, settings: IntegrationSettings) {
    store
        .configure_integration(
            platform,
            settings,
            None,
            record("ConfigureIntegration", "x"),
        )
        .await
        .unwrap();
}

fn settings(
    platform: Platform,
    allowed: &[&str],
    pattern: &str,
    groups: Vec<Id>,
) -> IntegrationSettings {
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    IntegrationSettings::new(platform, true, "", &allowed, pattern, groups).unwrap()
}

/// The people of the decision table, by role in it.
struct World {
    imp: Id,
    via_role: Id,
    via_group: Id,
    plain: Id,
    off: Id,
    target: Id,
    off_target: Id,
    admin: Id,
    big_imp: Id,
    scoped: Id,
}

async fn world(store: &dyn Store) -> World {
    let imp = create_user(store, "imp@x.com").await;
    grant(store, imp, permission::IMPERSONATE_USER).await;
    let via_role = create_user(store, "viarole@x.com").await;
    let via_group = create_user(store, "viagroup@x.com").await;
    let role = create_role(store, "Impersonators", &[permission::IMPERSONATE_USER]).await;
    let group = create_group(store, "Impersonating group").await;
    store
        .add_members(group, &[via_group], record("AddMembers", group))
        .await
        .unwrap();
    for grantee in [Grantee::User(via_role), Grantee::Group(group)] {
        assign_role(store, grantee, role, None).await;
    }
    let plain = create_user(store, "plain@x.com").await;
    let off = create_user(store, "off@x.com").await;
    grant(store, off, permission::IMPERSONATE_USER).await;
    let target = create_user(store, "target@x.com").await;
    let off_target = create_user(store, "offtarget@x.com").await;
    for user in [off, off_target] {
        store
            .set_user_disabled(user, true, record("DisableUser", user))
            .await
            .unwrap();
    }
    let admin = create_user(store, "admin@x.com").await;
    grant(store, admin, permission::USER_ADMIN).await;
    let big_imp = create_user(store, "bigimp@x.com").await;
    grant(store, big_imp, permission::IMPERSONATE_USER).await;
    grant(store, big_imp, permission::USER_ADMIN).await;
    let scoped = create_user(store, "scoped@x.com").await;
    let targets = create_group(store, "Targets").await;
    store
        .add_members(targets, &[scoped], record("AddMembers", targets))
        .await
        .unwrap();
    for (user, name) in [(imp, "SNOW_IMP"), (target, "SNOW_TARGET")] {
        let external = ExternalUsername::new(Platform::Snowflake, name, None).unwrap();
        store
            .set_external_username(user, external, record("SetExternalUsername", user))
            .await
            .unwrap();
    }

    configure(
        store,
        Platform::Snowflake,
        settings(Platform::Snowflake, &[], "", vec![]),
    )
    .await;
    configure(
        store,
        Platform::Synapse,
        settings(Platform::Synapse, &[], "", vec![targets]),
    )
    .await;
    let trino = settings(Platform::Trino, &[], "svc-trino-.*", vec![]);
    configure(store, Platform::Trino, trino).await;
    let allowed = ["Svc-Databricks", "off@x.com", "plain@x.com"];
    configure(
        store,
        Platform::Databricks,
        settings(Platform::Databricks, &allowed, "", vec![]),
    )
    .await;
    World {
        imp,
        via_role,
        via_group,
        plain,
        off,
        target,
        off_target,
        admin,
        big_imp,
        scoped,
    }
}

/// Platform, actor, target: the reason, and the users the actor and the target resolve to.
type Case<'a> = (Platform, &'a str, &'a str, Reason, Option<Id>, Option<Id>);

/// Every platform × rule × reason: the reason, and the users actor and target resolved to.
async fn decision_table(t: TestStore) {
    use Platform::*;
    use Reason::*;
    let store = t.store.as_ref();
    let w = world(store).await;
    let (target, t_id) = ("target@x.com", Some(w.target));
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (Snowflake, "SNOW_IMP", "snow_target", AllowedByPermission, Some(w.imp), t_id),
        (Snowflake, "IMP@X.COM", target, AllowedByPermission, Some(w.imp), t_id),
        (Snowflake, "viarole@x.com", target, AllowedByPermission, Some(w.via_role), t_id),
        (Snowflake, "viagroup@x.com", target, AllowedByPermission, Some(w.via_group), t_id),
        (Snowflake, "plain@x.com", target, ActorLacksPermission, Some(w.plain), t_id),
        (Snowflake, "nobody@x.com", target, ActorUnknown, None, t_id),
        (Snowflake, "off@x.com", target, ActorDisabled, Some(w.off), t_id),
        (Snowflake, "imp@x.com", "nobody", TargetUnknown, Some(w.imp), None),
        (Snowflake, "imp@x.com", "offtarget@x.com", TargetDisabled, Some(w.imp), Some(w.off_target)),
        (Snowflake, "imp@x.com", "admin@x.com", TargetOutOfScope, Some(w.imp), Some(w.admin)),
        (Snowflake, "bigimp@x.com", "admin@x.com", AllowedByPermission, Some(w.big_imp), Some(w.admin)),
        (Redshift, "imp@x.com", target, IntegrationDisabled, Some(w.imp), t_id),
        (Synapse, "imp@x.com", "scoped@x.com", AllowedByPermission, Some(w.imp), Some(w.scoped)),
        (Synapse, "imp@x.com", target, TargetOutOfScope, Some(w.imp), t_id),
        (Trino, "imp@x.com", target, AllowedByPermission, Some(w.imp), t_id),
        (Trino, "svc-trino-1", target, AllowedByPattern, None, t_id),
        (Trino, "x-svc-trino-1", target, ActorUnknown, None, t_id),
        (Trino, "plain@x.com", target, ActorLacksPermission, Some(w.plain), t_id),
        (Trino, "svc-trino-1", "admin@x.com", TargetOutOfScope, None, Some(w.admin)),
        (Databricks, "svc-databricks", target, AllowedByAllowList, None, t_id),
        (Databricks, "plain@x.com", target, AllowedByAllowList, Some(w.plain), t_id),
        (Databricks, "imp@x.com", target, ActorNotAllowed, Some(w.imp), t_id),
        (Databricks, "off@x.com", target, ActorDisabled, Some(w.off), t_id),
        (Databricks, "svc-databricks", "offtarget@x.com", TargetDisabled, None, Some(w.off_target)),
        (Postgresql, "imp@x.com", target, UnsupportedPlatform, Some(w.imp), t_id),
        (Teradata, "imp@x.com", target, UnsupportedPlatform, Some(w.imp), t_id),
        (S3, "imp@x.com", target, UnsupportedPlatform, Some(w.imp), t_id),
    ];
    for (platform, actor, target, reason, actor_id, target_id) in cases {
        let what = format!("{} {actor} -> {target}", platform.as_str());
        let (_, decision) = evaluate(store, platform, actor, &Subject::Target(target.into()))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(decision.reason, reason, "{what}: {}", decision.explanation);
        assert_eq!(decision.allowed(), reason.allows(), "{what}");
        assert!(!decision.explanation.is_empty(), "{what}");
        assert_eq!(decision.actor_user_id, actor_id, "{what}: the actor's user");
        assert_eq!(
            decision.target_user_id, target_id,
            "{what}: the target's user"
        );
    }
}

fn session(
    id: &str,
    platform: Platform,
    actor: &str,
    target: &str,
    ttl: Option<chrono::Duration>,
) -> NewSession {
    NewSession {
        session_id: SessionId::parse("session_id", id).unwrap(),
        platform,
        actor: actor.into(),
        target: target.into(),
        reason: "ticket 42".into(),
        ttl,
    }
}

/// A session stands for its target while active, for its own platform and actor only; an
/// ended or expired one impersonates no one.
async fn sessions_are_checked_at_query_time(t: TestStore) {
    let store = t.store.as_ref();
    let w = world(store).await;
    let begin =
        |s: NewSession| store.begin_impersonation(Id::new(), s, record("BeginImpersonation", "s"));
    let recorded = begin(session(
        "s-1",
        Platform::Snowflake,
        "SNOW_IMP",
        "snow_target",
        None,
    ))
    .await
    .unwrap()
    .value;
    assert_eq!(recorded.actor_user_id, Some(w.imp));
    assert_eq!(recorded.target_user_id, Some(w.target));
    assert_eq!(recorded.reason, "ticket 42");
    assert!(matches!(
        begin(session("s-1", Platform::Trino, "a", "b", None)).await,
        Err(Error::AlreadyExists(m)) if m.starts_with("session_id")
    ));

    let by_session = |platform: Platform, actor: &'static str, id: &'static str| async move {
        let subject = Subject::Session(SessionId::parse("session_id", id).unwrap());
        evaluate(store, platform, actor, &subject)
            .await
            .map(|(_, d)| d)
    };
    let allowed = by_session(Platform::Snowflake, "snow_imp", "s-1")
        .await
        .unwrap();
    assert_eq!(allowed.reason, Reason::AllowedByPermission);
    assert_eq!(allowed.target_user_id, Some(w.target));
    assert!(matches!(
        by_session(Platform::Trino, "snow_imp", "s-1").await,
        Err(Error::InvalidArgument { field, .. }) if field == "platform"
    ));
    assert!(matches!(
        by_session(Platform::Snowflake, "imp@x.com", "s-1").await,
        Err(Error::InvalidArgument { field, .. }) if field == "actor"
    ));
    assert!(matches!(
        by_session(Platform::Snowflake, "snow_imp", "nope").await,
        Err(Error::NotFound(m)) if m.starts_with("session_id")
    ));

    // Rights are checked at query time: revoking the permission denies the open session.
    store
        .revoke_permission(
            w.imp,
            &perm(permission::IMPERSONATE_USER),
            record("RevokePermission", w.imp),
        )
        .await
        .unwrap();
    let revoked = by_session(Platform::Snowflake, "snow_imp", "s-1")
        .await
        .unwrap();
    assert_eq!(revoked.reason, Reason::ActorLacksPermission);
    grant(store, w.imp, permission::IMPERSONATE_USER).await;

    let id = SessionId::parse("session_id", "s-1").unwrap();
    let ended = store
        .end_impersonation(&id, record("EndImpersonation", "s-1"))
        .await
        .unwrap()
        .value;
    assert!(ended.end_time.is_some());
    let again = store
        .end_impersonation(&id, record("EndImpersonation", "s-1"))
        .await
        .unwrap()
        .value;
    assert_eq!(
        again.end_time, ended.end_time,
        "ending twice keeps the first end"
    );
    let after_end = by_session(Platform::Snowflake, "snow_imp", "s-1")
        .await
        .unwrap();
    assert_eq!(after_end.reason, Reason::SessionEnded);
    assert!(!after_end.allowed());

    begin(session(
        "s-2",
        Platform::Snowflake,
        "imp@x.com",
        "target@x.com",
        Some(chrono::Duration::seconds(1)),
    ))
    .await
    .unwrap();
    assert!(
        by_session(Platform::Snowflake, "imp@x.com", "s-2")
            .await
            .unwrap()
            .allowed()
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = by_session(Platform::Snowflake, "imp@x.com", "s-2")
        .await
        .unwrap();
    assert_eq!(expired.reason, Reason::SessionEnded);
    let unknown = SessionId::parse("session_id", "nope").unwrap();
    assert!(matches!(
        store
            .end_impersonation(&unknown, record("EndImpersonation", "nope"))
            .await,
        Err(Error::NotFound(_))
    ));
}

/// Sessions list newest first, filtered by platform, actor (ignoring case) and activity, page by
/// page.
async fn sessions_list_by_filter_and_page(t: TestStore) {
    let store = t.store.as_ref();
    let specs = [
        ("a", Platform::Snowflake, "Alice"),
        ("b", Platform::Trino, "alice"),
        ("c", Platform::Trino, "bob"),
        ("d", Platform::Snowflake, "bob"),
    ];
    for (id, platform, actor) in specs {
        store
            .begin_impersonation(
                Id::new(),
                session(id, platform, actor, "t", None),
                record("BeginImpersonation", id),
            )
            .await
            .unwrap();
    }
    let ended = SessionId::parse("session_id", "c").unwrap();
    store
        .end_impersonation(&ended, record("EndImpersonation", "c"))
        .await
        .unwrap();
    let cases: Vec<(&str, SessionFilter, Vec<&str>)> = vec![
        (
            "all, newest first",
            SessionFilter::default(),
            vec!["d", "c", "b", "a"],
        ),
        (
            "one platform",
            SessionFilter {
                platform: Some(Platform::Trino),
                ..Default::default()
            },
            vec!["c", "b"],
        ),
        (
            "one actor, ignoring case",
            SessionFilter {
                actor_key: Some("alice".into()),
                ..Default::default()
            },
            vec!["b", "a"],
        ),
        (
            "active only",
            SessionFilter {
                active_only: true,
                ..Default::default()
            },
            vec!["d", "b", "a"],
        ),
        (
            "every filter at once",
            SessionFilter {
                platform: Some(Platform::Trino),
                actor_key: Some("bob".into()),
                active_only: true,
            },
            vec![],
        ),
    ];
    for (what, filter, expected) in cases {
        let found = all_pages(
            1,
            |s: &personae::domain::impersonation::Session| s.id.to_string(),
            async |request| store.list_sessions(&filter, request).await,
        )
        .await;
        let ids: Vec<&str> = found.iter().map(|s| s.session_id.as_str()).collect();
        assert_eq!(ids, expected, "{what}");
    }
}

/// Integrations start with Trino on and the rest off; a configuration is checked against the
/// etag and its groups, and a target group cannot be deleted while an integration names it.
async fn integrations_are_configured_safely(t: TestStore) {
    let store = t.store.as_ref();
    let initial = store.list_integrations().await.unwrap();
    assert_eq!(
        initial.iter().map(|i| i.platform).collect::<Vec<_>>(),
        Platform::ALL
    );
    for integration in &initial {
        assert_eq!(
            integration.settings.enabled,
            integration.platform == Platform::Trino
        );
        assert_eq!(
            integration.settings.impersonation_role,
            "PERSONAE_IMPERSONATION"
        );
        assert_eq!(integration.update_time, None);
    }
    let group = create_group(store, "Targets").await;
    let before = store.get_integration(Platform::Databricks).await.unwrap();
    let mut wanted = settings(
        Platform::Databricks,
        &["svc-a", "SVC-A", "svc-b"],
        "",
        vec![group],
    );
    wanted.impersonation_role = "IMPERSONATOR".into();
    let configured = store
        .configure_integration(
            Platform::Databricks,
            wanted.clone(),
            Some(before.version),
            record("ConfigureIntegration", "x"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(
        configured.settings.allowed_impersonators,
        ["svc-a", "svc-b"],
        "duplicates ignoring case dropped"
    );
    assert_eq!(configured.settings.target_group_ids, [group]);
    assert_eq!(configured.settings.impersonation_role, "IMPERSONATOR");
    assert!(configured.update_time.is_some());
    assert_ne!(configured.version, before.version);
    assert_eq!(
        store.get_integration(Platform::Databricks).await.unwrap(),
        configured
    );

    assert!(matches!(
        store.configure_integration(Platform::Databricks, wanted.clone(), Some(before.version), record("ConfigureIntegration", "x")).await,
        Err(Error::Aborted(m)) if m.starts_with("etag")
    ));
    let missing = Id::new();
    let mut bad = wanted.clone();
    bad.target_group_ids = vec![group, missing];
    assert!(matches!(
        store.configure_integration(Platform::Databricks, bad, None, record("ConfigureIntegration", "x")).await,
        Err(Error::NotFound(m)) if m.starts_with("target_group_ids[1]")
    ));
    assert_eq!(
        store.get_integration(Platform::Databricks).await.unwrap(),
        configured,
        "nothing changed"
    );
    assert!(matches!(
        store.delete_group(group, record("DeleteGroup", group)).await,
        Err(Error::FailedPrecondition(m)) if m.contains("DATABRICKS")
    ));
    configure(
        store,
        Platform::Databricks,
        settings(Platform::Databricks, &[], "", vec![]),
    )
    .await;
    store
        .delete_group(group, record("DeleteGroup", group))
        .await
        .unwrap();
}

/// The decisions recorded so far: one event per distinct decision and write, as JSON details
/// with the event's actor added as `event_actor_id`.
async fn decision_events(store: &dyn Store) -> Vec<serde_json::Value> {
    let filter = AuditFilter {
        action: Some("CheckImpersonation".into()),
        ..Default::default()
    };
    let events = all_pages(
        100,
        |e: &personae::domain::audit::AuditEvent| e.sequence.to_string(),
        async |request| store.list_audit_events(&filter, request).await,
    )
    .await;
    for event in &events {
        assert!(event.impersonation_user.is_some(), "{event:?}");
    }
    events
        .iter()
        .map(|e| {
            let mut details: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            details["event_actor_id"] = serde_json::json!(e.actor_id.map(|id| id.to_string()));
            details
        })
        .collect()
}

/// Waits up to `within` for the decision events to number `count`.
async fn await_decision_events(
    store: &dyn Store,
    count: usize,
    within: Duration,
) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let events = decision_events(store).await;
        if events.len() >= count || tokio::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Decisions are written as tallies, not a row per check: with an hour's interval nothing is
/// written until a pair allowed before is denied, which is written at once with that pair's
/// pending tally, and only that pair's; closing writes the rest. The chain stays whole.
async fn decisions_are_audited_as_tallies(t: TestStore) {
    let store = t.store.clone();
    let w = world(store.as_ref()).await;
    // The connector asking: the events are its, whatever actor its questions name.
    let caller = create_user(store.as_ref(), "connector@x.com").await;
    let decisions = Decisions::start(
        store.clone(),
        Duration::from_secs(3600),
        1000,
        &Metrics::default(),
    );
    let check = |actor: &'static str| {
        let decisions = &decisions;
        async move {
            decisions
                .check_impersonation(
                    caller,
                    Platform::Snowflake,
                    actor,
                    &Subject::Target("target@x.com".into()),
                    Consistency::Cached,
                )
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert!(check("imp@x.com").await.allowed());
        assert!(!check("plain@x.com").await.allowed());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        decision_events(store.as_ref()).await.is_empty(),
        "nothing before the interval"
    );

    store
        .revoke_permission(
            w.imp,
            &perm(permission::IMPERSONATE_USER),
            record("RevokePermission", w.imp),
        )
        .await
        .unwrap();
    assert!(!check("imp@x.com").await.allowed());
    await_decision_events(store.as_ref(), 2, Duration::from_secs(5)).await;
    // Another pair's tallies are not written with it, however long they wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = decision_events(store.as_ref()).await;
    let summary: Vec<(String, String, u64)> = events
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_lowercase(),
                e["reason"].as_str().unwrap().to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 2, "{events:?}");
    for expected in [
        (
            "imp@x.com".to_owned(),
            "ALLOWED_BY_PERMISSION".to_owned(),
            3,
        ),
        (
            "imp@x.com".to_owned(),
            "ACTOR_LACKS_PERMISSION".to_owned(),
            1,
        ),
    ] {
        assert!(summary.contains(&expected), "{expected:?} in {summary:?}");
    }
    for event in &events {
        assert_eq!(event["event_actor_id"], caller.to_string(), "{event}");
    }
    let allowed = events.iter().find(|e| e["allowed"] == true).unwrap();
    assert_eq!(allowed["platform"], "SNOWFLAKE");
    assert_eq!(allowed["actor_user_id"], w.imp.to_string());
    assert_eq!(allowed["target_user_id"], w.target.to_string());
    assert!(allowed["first_time"].as_str().unwrap() <= allowed["last_time"].as_str().unwrap());

    check("plain@x.com").await;
    decisions.close().await;
    let events = decision_events(store.as_ref()).await;
    assert_eq!(
        events.len(),
        3,
        "closing writes what is pending: {events:?}"
    );
    assert_eq!(events[2]["actor"], "plain@x.com");
    assert_eq!(events[2]["count"], 4);
    assert!(verify_chain(store.as_ref()).await > 3);
}

fn external(platform: Platform, name: &str) -> ExternalUsername {
    ExternalUsername::new(platform, name, None).unwrap()
}

/// A platform name means one user: an external username may not be another user's username
/// under the platform's comparison, nor a username another user's external username, and a
/// name that still means two (data from before) resolves to nobody, so a check denies.
async fn a_platform_name_means_one_user(t: TestStore) {
    let store = t.store.as_ref();
    let admin = create_user(store, "admin@x.com").await;
    grant(store, admin, permission::USER_ADMIN).await;
    let imp = create_user(store, "imp@x.com").await;
    grant(store, imp, permission::IMPERSONATE_USER).await;
    let bob = create_user(store, "bob@x.com").await;
    let target = Subject::Target("admin@x.com".into());
    let (_, before) = evaluate(store, Platform::Trino, "imp@x.com", &target)
        .await
        .unwrap();
    assert_eq!(before.reason, Reason::TargetOutOfScope);

    for (platform, name) in [
        (Platform::Trino, "ADMIN@x.com"),
        (Platform::Snowflake, "admin@x.com"),
        (Platform::S3, "admin@x.com"),
    ] {
        let refused = store
            .set_external_username(
                bob,
                external(platform, name),
                record("SetExternalUsername", bob),
            )
            .await
            .expect_err("another user's username as an external username");
        assert!(
            matches!(&refused, Error::AlreadyExists(m) if m.contains(&admin.to_string())),
            "{}: {refused:?}",
            platform.as_str()
        );
    }
    // S3 compares exactly: another spelling is another name there.
    store
        .set_external_username(
            bob,
            external(Platform::S3, "ADMIN@x.com"),
            record("SetExternalUsername", bob),
        )
        .await
        .expect("S3 names compare exactly");
    let (_, after) = evaluate(store, Platform::Trino, "imp@x.com", &target)
        .await
        .unwrap();
    assert_eq!(
        after.reason,
        Reason::TargetOutOfScope,
        "{}",
        after.explanation
    );
    assert_eq!(after.target_user_id, Some(admin));

    store
        .set_external_username(
            bob,
            external(Platform::Trino, "carol@x.com"),
            record("SetExternalUsername", bob),
        )
        .await
        .unwrap();
    let refused = store
        .create_user(
            Id::new(),
            new_user("Carol@X.com"),
            record("CreateUser", "carol"),
        )
        .await
        .expect_err("another user's external username as a username");
    assert!(
        matches!(&refused, Error::AlreadyExists(m) if m.contains("TRINO")),
        "{refused:?}"
    );
    let version = store.get_user(&UserKey::Id(imp)).await.unwrap().version;
    let changes = UserChanges {
        full_name: None,
        email: Some(Email::parse("email", "carol@x.com").unwrap()),
        ..Default::default()
    };
    let refused = store
        .update_user(imp, version, changes, record("UpdateUser", imp))
        .await
        .expect_err("renamed to another user's external username");
    assert!(matches!(refused, Error::AlreadyExists(_)), "{refused:?}");
    let iam = create_iam(store, "Elsewhere").await;
    let refused = store
        .migrate_user(
            imp,
            iam,
            Some(Email::parse("new_username", "CAROL@x.com").unwrap()),
            record("MigrateUser", imp),
        )
        .await
        .expect_err("migrated to another user's external username");
    assert!(matches!(refused, Error::AlreadyExists(_)), "{refused:?}");
    assert_eq!(
        store.get_user(&UserKey::Id(imp)).await.unwrap().username,
        "imp@x.com"
    );

    // Written before the rule: bob's Trino name is the admin's username. Checks naming it
    // resolve to nobody, on either side, instead of to bob.
    t.execute_raw(&format!(
        "UPDATE external_usernames SET username = 'admin@x.com', name_key = 'admin@x.com' \
         WHERE user_id = '{bob}' AND platform = 'TRINO'"
    ))
    .await;
    let (_, shadowed) = evaluate(store, Platform::Trino, "imp@x.com", &target)
        .await
        .unwrap();
    assert_eq!(
        shadowed.reason,
        Reason::TargetUnknown,
        "{}",
        shadowed.explanation
    );
    assert!(!shadowed.allowed());
    let (_, shadowed) = evaluate(
        store,
        Platform::Trino,
        "Admin@x.com",
        &Subject::Target("bob@x.com".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        shadowed.reason,
        Reason::ActorUnknown,
        "{}",
        shadowed.explanation
    );
    // Where bob's name is his alone, it still resolves.
    let (_, snowflake) = evaluate(
        store,
        Platform::Snowflake,
        "imp@x.com",
        &Subject::Target("bob@x.com".into()),
    )
    .await
    .unwrap();
    assert_eq!(snowflake.target_user_id, Some(bob));

    // Every start-up reports each such pair, S3's exact names included.
    t.execute_raw(&format!(
        "UPDATE external_usernames SET username = 'imp@x.com', name_key = 'imp@x.com' \
         WHERE user_id = '{bob}' AND platform = 'S3'"
    ))
    .await;
    let logs = logs::captured();
    let t = t.close();
    reopen(&t.url, &KeySource::None)
        .await
        .expect("reopen the store");
    let logged = logs.text();
    for (platform, name, holder) in [("TRINO", "admin@x.com", admin), ("S3", "imp@x.com", imp)] {
        assert!(
            logged.lines().any(|line| line
                .contains("an external username is another user's username")
                && line.contains(platform)
                && line.contains(name)
                && line.contains(&bob.to_string())
                && line.contains(&holder.to_string())),
            "{platform} {name} reported"
        );
    }
}

on_both_stores!(
    a_platform_name_means_one_user,
    decisions_are_audited_as_tallies,
    decision_table,
    sessions_are_checked_at_query_time,
    sessions_list_by_filter_and_page,
    integrations_are_configured_safely,
);
