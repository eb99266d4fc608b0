//! SyncUser and SyncAll against a real HTTPS user-info endpoint (rustls, a client certificate
//! required, basic auth), on both stores: external groups and authorizations follow the IAM
//! while what was made here stays, every failure changes nothing, cached decisions see the
//! change at once, and SyncAll bounds its concurrency, batches its commits, reports each user,
//! refuses a second run and stops when cancelled.

use std::{collections::BTreeSet, time::Duration};

use crate::common::{
    TestServer, TestStore,
    certs::{CURRENT, certificate},
    grpc::{
        add_member, assert_refused, assign_to_group, audit_log, create_group, create_iam,
        create_role, create_user, schema_entry, snapshot, token,
    },
    logs,
    store::create_user_of,
    user_info_server::{PASSWORD, UserInfoServer},
};
use personae::{
    domain::{BUILT_IN_IAM_ID, Id},
    proto::{self, AwsUserType, Platform},
    store::{IamSyncStore, SqlStore},
};
use tonic::Code;

/// An IAM calling `endpoint`, whose schema takes Trino names from `trino_login` and S3 names
/// (IAM roles) from `aws_role`.
async fn iam(server: &TestServer, name: &str, endpoint: &UserInfoServer) -> String {
    iam_with(server, name, endpoint.settings()).await
}

/// [`iam`] with these endpoint settings.
async fn iam_with(server: &TestServer, name: &str, settings: proto::UserInfoEndpoint) -> String {
    let schema = vec![
        schema_entry(Platform::Trino, "trino_login"),
        proto::ProfileSchemaEntry {
            aws_user_type: AwsUserType::IamRole as i32,
            ..schema_entry(Platform::S3, "aws_role")
        },
    ];
    create_iam(server, name, Some(settings), schema).await.id
}

/// A user of IAM `iam_id`, made straight in the store (faster than a call per user).
async fn user_of(server: &TestServer, iam_id: &str, email: &str) -> Id {
    let iam = Id::parse("iam_id", iam_id).unwrap();
    create_user_of(server.store.store.as_ref(), iam, email).await
}

fn answer(groups: &[&str], authorizations: &[(&str, &[&str])], trino: &str) -> String {
    serde_json::json!({
        "groups": groups.iter().map(|g| serde_json::json!({"name": g})).collect::<Vec<_>>(),
        "authorizations": authorizations
            .iter()
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>(),
        "trino_login": trino,
    })
    .to_string()
}

async fn get_user(server: &TestServer, id: &str) -> proto::User {
    server
        .users(server.admin())
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Id(id.into())),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn group_named(server: &TestServer, name: &str) -> Option<proto::Group> {
    let groups = server
        .groups(server.admin())
        .list_groups(proto::ListGroupsRequest {
            query: name.into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .groups;
    groups
        .into_iter()
        .find(|g| g.name.eq_ignore_ascii_case(name))
}

async fn group_names(server: &TestServer, user: &proto::User) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for id in &user.group_ids {
        let group = server
            .groups(server.admin())
            .get_group(proto::GetGroupRequest { id: id.clone() })
            .await
            .unwrap()
            .into_inner();
        names.insert(group.name);
    }
    names
}

async fn audit_events(server: &TestServer, action: &str) -> Vec<proto::AuditEvent> {
    server
        .audit(server.admin())
        .list_audit_events(proto::ListAuditEventsRequest {
            action: action.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events
}

/// Neither the log lines of the whole test process so far nor the audit log hold a secret of
/// the endpoint's settings.
async fn assert_no_secret_shown(server: &TestServer, endpoint: &UserInfoServer, rpc: &str) {
    let logged = logs::captured().text();
    assert!(logged.contains(rpc), "the calls were logged");
    let audit = audit_log(server).await;
    let key_line = endpoint.client.key.lines().nth(1).unwrap();
    for secret in [PASSWORD, "PRIVATE KEY", key_line] {
        assert!(!logged.contains(secret), "{secret:?} reached a log line");
        assert!(!audit.contains(secret), "{secret:?} reached the audit log");
    }
}

async fn sync_user(
    server: &TestServer,
    id: &str,
) -> Result<tonic::Response<proto::User>, tonic::Status> {
    server
        .iam_config(server.admin())
        .sync_user(proto::SyncUserRequest { user_id: id.into() })
        .await
}

async fn sync_user_follows_the_iam_and_leaves_local_data_alone(t: TestStore) {
    logs::captured();
    let endpoint = UserInfoServer::start().await;
    let server = TestServer::start(t).await;
    let okta = iam(&server, "Okta", &endpoint).await;
    let ada = user_of(&server, &okta, "ada@example.com").await.to_string();

    // Made here: a group the IAM will name in other case, marked as managed by it; a group it
    // never names (with Ada as a local member); a group it is not given; and an attribute.
    let accountants = server
        .groups(server.admin())
        .create_group(proto::CreateGroupRequest {
            name: "accountants".into(),
            managed_by_iam_id: okta.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let local = create_group(&server, "Local").await;
    create_group(&server, "Payroll").await;
    add_member(&server, &local.id, &ada).await;
    server
        .users(server.admin())
        .add_user_attribute(proto::AddUserAttributeRequest {
            user_id: ada.clone(),
            attribute: "team".into(),
            values: vec!["blue".into()],
        })
        .await
        .unwrap();
    // Controllers, once the IAM creates it, hold AUDIT through a role; the check is cached
    // before the sync and must not be answered from the cache after it.
    let permissions = server.permissions(server.admin());
    let check = proto::CheckPermissionRequest {
        user_id: ada.clone(),
        permission: "AUDIT".into(),
        ..Default::default()
    };
    let allowed = |answer: proto::CheckPermissionResponse| answer.allowed;
    assert!(!allowed(
        permissions
            .clone()
            .check_permission(check.clone())
            .await
            .unwrap()
            .into_inner()
    ));

    endpoint.script.answer(
        "ada@example.com",
        200,
        &serde_json::json!({
            "groups": [{"name": "Accountants"}, {"name": "Controllers"}],
            "authorizations": {"EMEA": ["Sales", "Expenses"], "APAC": ["Sales"]},
            "trino_login": "ada_t",
            "aws_role": "arn-ada",
            "ignored": {"nested": true},
        })
        .to_string(),
        Duration::ZERO,
    );
    let synced = sync_user(&server, &ada).await.unwrap();
    assert!(
        token(&synced) > 0,
        "a sync that changed something returns a token"
    );
    let synced = synced.into_inner();
    assert_eq!(
        group_names(&server, &synced).await,
        BTreeSet::from(["accountants".into(), "Controllers".into(), "Local".into()]),
        "matched case-insensitively, created when missing, local membership kept"
    );
    assert_eq!(synced.authorizations["EMEA"].values, ["Expenses", "Sales"]);
    assert_eq!(synced.authorizations["APAC"].values, ["Sales"]);
    assert_eq!(synced.attributes["team"].values, ["blue"]);
    let names: Vec<(i32, &str, i32)> = synced
        .external_usernames
        .iter()
        .map(|n| (n.platform, n.username.as_str(), n.aws_user_type))
        .collect();
    assert!(
        names.contains(&(Platform::Trino as i32, "ada_t", 0)),
        "{names:?}"
    );
    assert!(
        names.contains(&(Platform::S3 as i32, "arn-ada", AwsUserType::IamRole as i32)),
        "{names:?}"
    );
    let controllers = group_named(&server, "Controllers").await.expect("created");
    assert_eq!(
        controllers.managed_by_iam_id, okta,
        "a sync's group is its IAM's"
    );
    let role = create_role(&server, "Auditor", &["AUDIT"]).await;
    assign_to_group(&server, &role.id, &controllers.id).await;
    assert!(allowed(
        permissions
            .clone()
            .check_permission(check.clone())
            .await
            .unwrap()
            .into_inner()
    ));
    let events = audit_events(&server, "SyncUser").await;
    assert_eq!(events.len(), 1);
    let details = format!("{:?}", events[0].details);
    assert!(
        details.contains("Controllers") && details.contains("groups_created"),
        "{details}"
    );

    let head = server.audit_head().await;
    let again = sync_user(&server, &ada).await.unwrap();
    assert_eq!(
        server.audit_head().await,
        head,
        "a sync that changes nothing appends no event"
    );
    assert_eq!(again.into_inner().etag, synced.etag);

    // The IAM drops Controllers and an authorization: Ada leaves the group, which stays, and
    // the cached check sees it at once.
    endpoint.script.answer(
        "ada@example.com",
        200,
        &answer(&["ACCOUNTANTS"], &[("EMEA", &["Sales"])], "ada_t"),
        Duration::ZERO,
    );
    let resynced = sync_user(&server, &ada).await.unwrap().into_inner();
    assert_eq!(
        group_names(&server, &resynced).await,
        BTreeSet::from(["accountants".into(), "Local".into()])
    );
    assert_eq!(resynced.authorizations.len(), 1);
    assert_eq!(resynced.authorizations["EMEA"].values, ["Sales"]);
    assert!(group_named(&server, "Controllers").await.is_some());
    assert!(
        !allowed(
            permissions
                .clone()
                .check_permission(check.clone())
                .await
                .unwrap()
                .into_inner()
        ),
        "the cached decision was invalidated by the sync"
    );
    assert_eq!(accountants.name, "accountants");

    // Every failure changes nothing and says what the endpoint did.
    let bob = user_of(&server, &okta, "bob@example.com").await.to_string();
    server
        .users(server.admin())
        .set_external_username(proto::SetExternalUsernameRequest {
            user_id: bob.clone(),
            platform: Platform::Trino as i32,
            username: "taken".into(),
            aws_user_type: 0,
        })
        .await
        .unwrap();
    let builtin = create_user(&server, "carol@example.com").await;
    assert_eq!(builtin.iam_id, BUILT_IN_IAM_ID.to_string());
    // IAMs whose endpoint refuses the call or cannot be trusted, each with a user the endpoint
    // would answer for.
    let stranger = certificate(&["Another CA"], CURRENT, None);
    let mut refusing = Vec::new();
    let client = Some((endpoint.client.cert.as_str(), endpoint.client.key.as_str()));
    for (name, settings, says) in [
        (
            "Wrong password",
            endpoint.settings_with("not it", &endpoint.ca.cert, client),
            "HTTP 401",
        ),
        (
            "No client certificate",
            endpoint.settings_with(PASSWORD, &endpoint.ca.cert, None),
            "CertificateRequired",
        ),
        (
            "Untrusted",
            endpoint.settings_with(PASSWORD, &stranger.cert, client),
            "UnknownIssuer",
        ),
    ] {
        let iam_id = iam_with(&server, name, settings).await;
        let email = format!("{}@example.com", name.replace(' ', "."));
        let user = user_of(&server, &iam_id, &email).await;
        endpoint.script.answer(
            &email,
            200,
            &answer(&["Accountants"], &[], ""),
            Duration::ZERO,
        );
        refusing.push((user.to_string(), says));
    }
    let before = snapshot(&server).await;
    for (user, says) in refusing {
        assert_refused(sync_user(&server, &user).await, Code::Unavailable, says);
        assert_eq!(snapshot(&server).await, before, "{says}: nothing changed");
    }
    let huge = format!(
        r#"{{"groups":[],"authorizations":{{}},"padding":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let long_group = answer(&[&"g".repeat(300)], &[], "ada_t");
    let taken = answer(&["Accountants"], &[], "TAKEN");
    // A Trino name that is the bootstrap admin's username would make checks naming the admin
    // resolve to ada.
    let admins_name = answer(&["Accountants"], &[], "ADMIN@personae.local");
    // A group made here, and a group of the IAM's that now carries a role: never joined.
    let not_managed = answer(&["Accountants", "Payroll"], &[], "ada_t");
    let carries_roles = answer(&["Accountants", "Controllers"], &[], "ada_t");
    #[rustfmt::skip]
    let failures: [(u16, &str, Duration, Code, &str); 12] = [
        (404, "no such user", Duration::ZERO, Code::Unavailable, "HTTP 404"),
        (500, "the directory is down", Duration::ZERO, Code::Unavailable, "the directory is down"),
        (401, "bad credentials", Duration::ZERO, Code::Unavailable, "HTTP 401"),
        (200, "{\"groups\": [", Duration::ZERO, Code::Unavailable, "not the user-info JSON"),
        (200, r#"{"groups":"Accountants","authorizations":{}}"#, Duration::ZERO, Code::Unavailable, "not the user-info JSON"),
        (200, &huge, Duration::ZERO, Code::Unavailable, "larger than 1048576 bytes"),
        (200, &long_group, Duration::ZERO, Code::Unavailable, "groups[0].name"),
        (200, &taken, Duration::ZERO, Code::FailedPrecondition, "belongs to user"),
        (200, &not_managed, Duration::ZERO, Code::FailedPrecondition, "which IAM"),
        (200, &carries_roles, Duration::ZERO, Code::FailedPrecondition, "carries role assignments made here"),
        (200, &admins_name, Duration::ZERO, Code::FailedPrecondition, "is the username \"admin@personae.local\" of user"),
        (200, "{}", Duration::from_secs(6), Code::Unavailable, "no answer within 5 s"),
    ];
    for (status, body, delay, code, says) in failures {
        endpoint
            .script
            .answer("ada@example.com", status, body, delay);
        let refused = sync_user(&server, &ada).await;
        assert_refused(refused, code, says);
        assert_eq!(
            snapshot(&server).await,
            before,
            "{status} {says}: nothing changed"
        );
    }

    assert_refused(
        sync_user(&server, &builtin.id).await,
        Code::FailedPrecondition,
        "has no user-info endpoint",
    );
    assert_refused(
        sync_user(&server, "x").await,
        Code::InvalidArgument,
        "user_id:",
    );
    assert_refused(
        sync_user(&server, &Id::new().to_string()).await,
        Code::NotFound,
        "does not exist",
    );
    assert_eq!(snapshot(&server).await, before);
    assert_no_secret_shown(&server, &endpoint, "personae.v1.IamConfig/SyncUser").await;
    server.stop().await;
}

/// Collects a SyncAll's reports.
async fn sync_all(
    server: &TestServer,
    request: proto::SyncAllRequest,
) -> Result<Vec<proto::SyncProgress>, tonic::Status> {
    let mut stream = server
        .iam_config(server.admin())
        .sync_all(request)
        .await?
        .into_inner();
    let mut reports = Vec::new();
    while let Some(report) = stream.message().await? {
        reports.push(report);
    }
    Ok(reports)
}

async fn sync_all_reports_every_user_in_batches(t: TestStore) {
    logs::captured();
    let endpoint = UserInfoServer::start().await;
    let server = TestServer::start(t).await;
    let okta = iam(&server, "Okta", &endpoint).await;
    let mut users = Vec::new();
    for i in 0..1000 {
        let email = format!("user{i}@example.com");
        let id = user_of(&server, &okta, &email).await;
        if i % 10 == 7 {
            endpoint
                .script
                .answer(&email, 500, "the directory is down", Duration::ZERO);
        } else {
            let group = format!("Team-{}", i % 5);
            let region = format!("R{}", i % 3);
            let body = answer(
                &[&group, "Everyone"],
                &[("Region", &[&region])],
                &format!("t{i}"),
            );
            endpoint
                .script
                .answer(&email, 200, &body, Duration::from_millis(1));
        }
        users.push(id.to_string());
    }
    let reports = sync_all(
        &server,
        proto::SyncAllRequest {
            iam_id: okta.clone(),
            concurrency: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(reports.len(), 1000);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.users_total, 1000);
        assert_eq!(
            report.users_done,
            i as i64 + 1,
            "one report per user, in order"
        );
        assert_eq!(
            report.error.is_empty(),
            report.changes.is_some(),
            "{report:?}"
        );
    }
    let last = reports.last().unwrap();
    assert_eq!((last.users_failed, last.users_changed), (100, 900));
    let reported: BTreeSet<&str> = reports.iter().map(|r| r.user_id.as_str()).collect();
    assert_eq!(reported, users.iter().map(String::as_str).collect());
    let failed: Vec<&proto::SyncProgress> =
        reports.iter().filter(|r| !r.error.is_empty()).collect();
    assert!(
        failed
            .iter()
            .all(|r| r.error.contains("HTTP 500") && r.error.contains("the directory is down")),
        "{:?}",
        failed[0]
    );
    let most = endpoint.script.most_in_flight();
    assert!(
        (2..=4).contains(&most),
        "concurrency was bounded at 4: {most} at once"
    );

    let user7 = get_user(&server, &users[7]).await;
    assert!(
        user7.group_ids.is_empty(),
        "a failed user is left as it was"
    );
    let user8 = get_user(&server, &users[8]).await;
    assert_eq!(
        group_names(&server, &user8).await,
        BTreeSet::from(["Everyone".into(), "Team-3".into()])
    );
    assert_eq!(user8.authorizations["Region"].values, ["R2"]);
    let batches = audit_events(&server, "SyncUsers").await;
    let batched: usize = batches
        .iter()
        .map(|e| format!("{:?}", e.details).matches("\"user_id\"").count())
        .sum();
    assert_eq!(batched, 900, "each changed user is in one batch's event");
    assert!(
        batches.len() < 900,
        "900 users were committed in {} batches",
        batches.len()
    );
    let runs = audit_events(&server, "SyncAll").await;
    assert_eq!(runs.len(), 1);
    let summary = format!("{:?}", runs[0].details);
    assert!(
        summary.contains("users_failed") && summary.contains("900"),
        "{summary}"
    );
    assert!(server.verify_audit_chain().await.ok);

    // A dry run reports what would change and changes nothing.
    endpoint.script.answer(
        "user8@example.com",
        200,
        &answer(&["Team-3", "Newcomers"], &[], "t8"),
        Duration::ZERO,
    );
    let before = snapshot(&server).await;
    let dry = sync_all(
        &server,
        proto::SyncAllRequest {
            iam_id: okta.clone(),
            dry_run: true,
            concurrency: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(snapshot(&server).await, before, "a dry run changes nothing");
    assert!(group_named(&server, "Newcomers").await.is_none());
    let last = dry.last().unwrap();
    assert_eq!((last.users_failed, last.users_changed), (100, 1));
    let user8_report = dry.iter().find(|r| r.user_id == users[8]).unwrap();
    let changes = user8_report.changes.as_ref().unwrap();
    assert_eq!(changes.groups_added, ["Newcomers"]);
    assert_eq!(changes.groups_created, ["Newcomers"]);
    assert_eq!(changes.groups_removed, ["Everyone"]);
    assert_eq!(changes.authorizations_removed["Region"].values, ["R2"]);

    let usage = server
        .users(server.admin())
        .get_usage_metrics(proto::GetUsageMetricsRequest { days: 1 })
        .await
        .unwrap()
        .into_inner();
    let today = usage.days.last().unwrap();
    assert_eq!((today.syncs_run, today.users_synced), (1, 900));

    let refused = sync_all(
        &server,
        proto::SyncAllRequest {
            iam_id: okta.clone(),
            concurrency: 65,
            ..Default::default()
        },
    )
    .await;
    assert_refused(
        refused,
        Code::InvalidArgument,
        "concurrency: must be from 1 to 64",
    );
    for (iam_id, code, says) in [
        ("x".to_owned(), Code::InvalidArgument, "iam_id:"),
        (Id::new().to_string(), Code::NotFound, "does not exist"),
        (
            BUILT_IN_IAM_ID.to_string(),
            Code::FailedPrecondition,
            "has no user-info endpoint",
        ),
    ] {
        let request = proto::SyncAllRequest {
            iam_id,
            ..Default::default()
        };
        assert_refused(sync_all(&server, request).await, code, says);
    }
    let empty_iam = server
        .iam_config(server.admin())
        .create_iam(proto::CreateIamRequest {
            name: "Empty".into(),
            user_info_endpoint: Some(proto::UserInfoEndpoint {
                uri: endpoint.uri.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let empty = sync_all(
        &server,
        proto::SyncAllRequest {
            iam_id: empty_iam,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(empty, [proto::SyncProgress::default()]);
    assert_no_secret_shown(&server, &endpoint, "personae.v1.IamConfig/SyncAll").await;
    server.stop().await;
}

async fn sync_all_is_refused_while_running_and_stops_when_cancelled(t: TestStore) {
    let endpoint = UserInfoServer::start().await;
    let server = TestServer::start(t).await;
    let okta = iam(&server, "Okta", &endpoint).await;
    for i in 0..1000 {
        let email = format!("user{i}@example.com");
        user_of(&server, &okta, &email).await;
        let body = answer(&[&format!("Team-{}", i % 7)], &[], &format!("t{i}"));
        endpoint
            .script
            .answer(&email, 200, &body, Duration::from_millis(10));
    }
    let mut stream = server
        .iam_config(server.admin())
        .sync_all(proto::SyncAllRequest {
            iam_id: okta.clone(),
            concurrency: 4,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..200 {
        stream.message().await.unwrap().expect("a report");
    }
    assert_refused(
        sync_all(
            &server,
            proto::SyncAllRequest {
                iam_id: okta.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::FailedPrecondition,
        "running already",
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = endpoint.script.requests();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        endpoint.script.requests(),
        asked,
        "cancelling stopped the requests to the endpoint"
    );
    assert!(asked < 1000, "{asked} users were asked about");

    // The run recorded that it was cancelled and released the IAM.
    let mut runs = Vec::new();
    for _ in 0..50 {
        runs = audit_events(&server, "SyncAll").await;
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(runs.len(), 1);
    assert!(
        format!("{:?}", runs[0].details).contains("BoolValue(true)"),
        "{runs:?}"
    );
    let synced = server
        .store
        .text_and_number_rows(
            "SELECT 'synced', count(*) FROM group_members WHERE external GROUP BY 1",
        )
        .await;
    let synced = synced.first().map_or(0, |(_, n)| *n);
    assert!(
        (200..1000).contains(&synced),
        "the batches committed before the cancel stay: {synced}"
    );
    let reports = sync_all(
        &server,
        proto::SyncAllRequest {
            iam_id: okta,
            concurrency: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let last = reports.last().unwrap();
    assert_eq!((last.users_done, last.users_failed), (1000, 0));
    assert_eq!(last.users_changed, 1000 - synced);
    server.stop().await;
}

on_both_stores!(
    sync_user_follows_the_iam_and_leaves_local_data_alone,
    sync_all_reports_every_user_in_batches,
    sync_all_is_refused_while_running_and_stops_when_cancelled,
);

/// Two processes on one PostgreSQL database cannot run a SyncAll of the same IAM at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_lease_holds_across_processes_on_postgres() {
    let t = crate::common::postgres_store().await;
    let other = SqlStore::open_with(&t.url, &t.secret_key).await.unwrap();
    let iam = BUILT_IN_IAM_ID;
    let lease = t.store.lease_sync(iam).await.unwrap();
    let refused = other.lease_sync(iam).await.err().expect("refused");
    assert!(refused.to_string().contains("running already"), "{refused}");
    drop(lease);
    let mut taken = None;
    for _ in 0..50 {
        if let Ok(lease) = other.lease_sync(iam).await {
            taken = Some(lease);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(taken.is_some(), "the lease is released when dropped");
    assert!(
        t.store.lease_sync(iam).await.is_err(),
        "and the other process holds it now"
    );
}
