//! The Impersonation service over real gRPC, on both stores: what a connector and an operator
//! see, and bad input refused with the field named, changing nothing.

use crate::common::{
    Authorization, TestServer, TestStore,
    grpc::{assert_each_refused_changing_nothing, create_user, grant, key_for, token},
};
use personae::{
    domain::page::PageRequest,
    proto::{
        self, ImpersonationReason as Reason, Platform, batch_check_item::Check,
        check_impersonation_request::Subject,
    },
    store::AuditFilter,
};
use tonic::Code;

fn check(platform: Platform, actor: &str, subject: Subject) -> proto::CheckImpersonationRequest {
    proto::CheckImpersonationRequest {
        platform: platform as i32,
        actor: actor.into(),
        subject: Some(subject),
        consistency: None,
    }
}

fn target(name: &str) -> Subject {
    Subject::Target(name.into())
}

async fn a_connector_checks_and_records_sessions(t: TestStore) {
    let server = TestServer::start(t).await;
    let actor = create_user(&server, "svc@example.com").await;
    grant(&server, &actor.id, "IMPERSONATE_USER").await;
    let analyst = create_user(&server, "analyst@example.com").await;
    // The connector's own key needs FETCH_POLICY_INFO, nothing more.
    let connector = create_user(&server, "connector@example.com").await;
    grant(&server, &connector.id, "FETCH_POLICY_INFO").await;
    let mut as_connector = server.impersonation(Authorization::bearer(
        &key_for(&server, &connector.id).await,
    ));
    let mut admin = server.impersonation(server.admin());

    let listed = admin
        .list_integrations(proto::ListIntegrationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .integrations;
    assert_eq!(listed.len(), 8);
    let supported: Vec<bool> = listed.iter().map(|i| i.impersonation_supported).collect();
    assert_eq!(
        supported,
        [true, true, true, true, true, false, false, false]
    );

    let denied = as_connector
        .check_impersonation(check(
            Platform::Snowflake,
            "SVC@example.com",
            target("analyst@example.com"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!denied.allowed);
    assert_eq!(denied.reason, Reason::IntegrationDisabled as i32);

    let snowflake = admin
        .get_integration(proto::GetIntegrationRequest {
            platform: Platform::Snowflake as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let configured = admin
        .configure_integration(proto::ConfigureIntegrationRequest {
            platform: Platform::Snowflake as i32,
            enabled: true,
            etag: snowflake.etag.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(token(&configured) > 0, "a consistency token");
    let configured = configured.into_inner();
    assert!(configured.enabled);
    assert_eq!(configured.impersonation_role, "PERSONAE_IMPERSONATION");
    assert_ne!(configured.etag, snowflake.etag);

    let allowed = as_connector
        .check_impersonation(check(
            Platform::Snowflake,
            "SVC@example.com",
            target("analyst@example.com"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(allowed.reason, Reason::AllowedByPermission as i32);
    assert_eq!(allowed.actor_user_id, actor.id);
    assert_eq!(allowed.target_user_id, analyst.id);

    let begun = as_connector
        .begin_impersonation(proto::BeginImpersonationRequest {
            platform: Platform::Snowflake as i32,
            actor: "svc@example.com".into(),
            target: "analyst@example.com".into(),
            session_id: "sf-01".into(),
            reason: "quarterly report".into(),
            ttl: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(begun.active);
    assert_eq!(begun.target_user_id, analyst.id);
    let expire = begun.expire_time.expect("an expiry").seconds;
    assert_eq!(
        expire - begun.begin_time.expect("a begin time").seconds,
        3600
    );

    let by_session = as_connector
        .check_impersonation(check(
            Platform::Snowflake,
            "svc@example.com",
            Subject::SessionId("sf-01".into()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(by_session.allowed);

    // BatchCheck answers impersonation items as CheckImpersonation does, in order.
    let item = |request: proto::ImpersonationCheck| proto::BatchCheckItem {
        check: Some(Check::Impersonation(request)),
    };
    use proto::impersonation_check::Subject as ItemSubject;
    let results = server
        .permissions(Authorization::bearer(
            &key_for(&server, &connector.id).await,
        ))
        .batch_check(proto::BatchCheckRequest {
            items: vec![
                item(proto::ImpersonationCheck {
                    platform: Platform::Snowflake as i32,
                    actor: "svc@example.com".into(),
                    subject: Some(ItemSubject::SessionId("sf-01".into())),
                }),
                item(proto::ImpersonationCheck {
                    platform: Platform::Teradata as i32,
                    actor: "svc@example.com".into(),
                    subject: Some(ItemSubject::Target("analyst@example.com".into())),
                }),
                item(proto::ImpersonationCheck {
                    platform: Platform::Snowflake as i32,
                    actor: String::new(),
                    subject: Some(ItemSubject::Target("analyst@example.com".into())),
                }),
            ],
            consistency: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(results[0].allowed && results[0].reason == Reason::AllowedByPermission as i32);
    assert!(!results[1].allowed && results[1].reason == Reason::UnsupportedPlatform as i32);
    let error = results[2]
        .error
        .as_ref()
        .expect("an error for the bad item");
    assert_eq!(error.code, Code::InvalidArgument as i32);
    assert!(error.message.starts_with("items[2].actor"), "{error:?}");

    let ended = as_connector
        .end_impersonation(proto::EndImpersonationRequest {
            session_id: "sf-01".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!ended.active && ended.end_time.is_some());
    let after = as_connector
        .check_impersonation(check(
            Platform::Snowflake,
            "svc@example.com",
            Subject::SessionId("sf-01".into()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.reason, Reason::SessionEnded as i32);
    let sessions = as_connector
        .list_impersonation_sessions(proto::ListImpersonationSessionsRequest {
            actor: "SVC@EXAMPLE.COM".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sessions.sessions.len(), 1);
    assert_eq!(sessions.sessions[0].reason, "quarterly report");
    assert!(sessions.next_page_token.is_empty());

    // The decisions are audited as the connector's, the caller, never as the actor the
    // questions named (here an admin): the platform actor is in the details.
    as_connector
        .check_impersonation(check(
            Platform::Snowflake,
            "ADMIN@personae.local",
            target("analyst@example.com"),
        ))
        .await
        .unwrap();
    // Stopping writes the pending tallies.
    let store = server.store.store.clone();
    server.stop().await;
    let filter = AuditFilter {
        action: Some("CheckImpersonation".into()),
        ..Default::default()
    };
    let page = PageRequest::parse(1000, "", 1000, "").unwrap();
    let decisions = store.list_audit_events(&filter, &page).await.unwrap();
    assert!(
        decisions
            .iter()
            .any(|e| e.details.contains("ADMIN@personae.local")),
        "{decisions:?}"
    );
    for event in decisions {
        assert_eq!(
            event.actor_id.map(|id| id.to_string()),
            Some(connector.id.clone()),
            "{event:?}"
        );
    }
}

async fn bad_input_is_refused_naming_the_field(t: TestStore) {
    let server = TestServer::start(t).await;
    let admin = server.impersonation(server.admin());
    let begin = |session_id: &str, ttl: i64, reason: String| proto::BeginImpersonationRequest {
        platform: Platform::Trino as i32,
        actor: "a".into(),
        target: "b".into(),
        session_id: session_id.into(),
        reason,
        ttl: Some(prost_types::Duration {
            seconds: ttl,
            nanos: 0,
        }),
    };
    let configure = |platform: Platform, pattern: &str, allowed: &[&str], groups: &[&str]| {
        proto::ConfigureIntegrationRequest {
            platform: platform as i32,
            enabled: true,
            allowed_impersonator_pattern: pattern.into(),
            allowed_impersonators: allowed.iter().map(|s| s.to_string()).collect(),
            target_group_ids: groups.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    };
    use Code::*;
    #[rustfmt::skip]
    let cases = vec![
        (call!(admin.check_impersonation(check(Platform::Unspecified, "a", target("b")))), InvalidArgument, "platform"),
        (call!(admin.check_impersonation(check(Platform::Trino, " ", target("b")))), InvalidArgument, "actor"),
        (call!(admin.check_impersonation(check(Platform::Trino, "a", target("")))), InvalidArgument, "target"),
        (call!(admin.check_impersonation(proto::CheckImpersonationRequest { subject: None, ..check(Platform::Trino, "a", target("b")) })), InvalidArgument, "target"),
        (call!(admin.check_impersonation(check(Platform::Trino, "a", Subject::SessionId("nope".into())))), NotFound, "session_id"),
        (call!(admin.begin_impersonation(begin("", 60, String::new()))), InvalidArgument, "session_id"),
        (call!(admin.begin_impersonation(begin(&"s".repeat(257), 60, String::new()))), InvalidArgument, "session_id"),
        (call!(admin.begin_impersonation(begin("s", 0, String::new()))), InvalidArgument, "ttl"),
        (call!(admin.begin_impersonation(begin("s", 8 * 86_400, String::new()))), InvalidArgument, "ttl"),
        (call!(admin.begin_impersonation(begin("s", 60, "r".repeat(1025)))), InvalidArgument, "reason"),
        (call!(admin.begin_impersonation(proto::BeginImpersonationRequest { platform: Platform::S3 as i32, ..begin("s", 60, String::new()) })), FailedPrecondition, "S3"),
        (call!(admin.end_impersonation(proto::EndImpersonationRequest { session_id: "nope".into() })), NotFound, "session_id"),
        (call!(admin.configure_integration(configure(Platform::Trino, "(", &[], &[]))), InvalidArgument, "allowed_impersonator_pattern"),
        (call!(admin.configure_integration(configure(Platform::Trino, "a)|(.*", &[], &[]))), InvalidArgument, "allowed_impersonator_pattern"),
        (call!(admin.configure_integration(configure(Platform::Snowflake, "x", &[], &[]))), InvalidArgument, "allowed_impersonator_pattern"),
        (call!(admin.configure_integration(configure(Platform::Trino, "", &["svc"], &[]))), InvalidArgument, "allowed_impersonators"),
        (call!(admin.configure_integration(configure(Platform::Databricks, "", &[" "], &[]))), InvalidArgument, "allowed_impersonators[0]"),
        (call!(admin.configure_integration(configure(Platform::Trino, "", &[], &["x"]))), InvalidArgument, "target_group_ids[0]"),
        (call!(admin.configure_integration(configure(Platform::Trino, "", &[], &["0190b3a0-0000-7000-8000-000000000000"]))), NotFound, "target_group_ids[0]"),
        (call!(admin.configure_integration(configure(Platform::Postgresql, "", &[], &[]))), FailedPrecondition, "POSTGRESQL"),
        (call!(admin.configure_integration(proto::ConfigureIntegrationRequest { etag: "\"999\"".into(), ..configure(Platform::Trino, "", &[], &[]) })), Aborted, "etag"),
        (call!(admin.list_impersonation_sessions(proto::ListImpersonationSessionsRequest { page_size: -1, ..Default::default() })), InvalidArgument, "page_size"),
        (call!(admin.list_impersonation_sessions(proto::ListImpersonationSessionsRequest { platform: 99, ..Default::default() })), InvalidArgument, "platform"),
        (call!(admin.get_integration(proto::GetIntegrationRequest { platform: 0 })), InvalidArgument, "platform"),
        (call!(admin.get_integration(proto::GetIntegrationRequest { platform: 42 })), InvalidArgument, "platform"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

on_both_stores!(
    a_connector_checks_and_records_sessions,
    bad_input_is_refused_naming_the_field,
);
