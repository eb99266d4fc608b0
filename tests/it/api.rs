//! The API over real gRPC, on a server bound to an ephemeral port, on both stores.

use crate::common::{
    Authorization, TestServer, TestStore,
    grpc::{
        all_pages, assert_each_refused_changing_nothing, assert_refused, bootstrap_admin,
        call_empty, create_user, every_rpc, grant, token, user_with_key,
    },
    process::http_get,
};
use personae::{
    domain::api_key,
    proto::{self, get_user_request::User as UserSelector},
};
use prost_types::FieldMask;
use tonic::Code;

async fn seed_flow(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut users = server.users(server.admin());
    let mut permissions = server.permissions(server.admin());

    let created = users
        .create_user(proto::CreateUserRequest {
            email: "ada@example.com".into(),
            full_name: "Ada Lovelace".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = token(&created);
    let ada = created.into_inner();
    assert_eq!(ada.username, "ada@example.com");
    assert_eq!(ada.kind, proto::UserKind::Person as i32);

    let granted = permissions
        .grant_permission(proto::GrantPermissionRequest {
            user_id: ada.id.clone(),
            permission: "AUDIT".into(),
        })
        .await
        .unwrap();
    assert!(token(&granted) > first);
    assert!(
        granted
            .into_inner()
            .permissions
            .contains(&"AUDIT".to_string())
    );

    let disabled = users
        .disable_user(proto::DisableUserRequest { id: ada.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert!(disabled.disabled);
    assert!(disabled.disable_time.is_some());

    let list = |include_disabled| proto::ListUsersRequest {
        query: "ADA".into(),
        include_disabled,
        ..Default::default()
    };
    let listed = users
        .list_users(list(true))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(listed.iter().map(|u| &u.id).collect::<Vec<_>>(), [&ada.id]);
    assert!(
        users
            .list_users(list(false))
            .await
            .unwrap()
            .into_inner()
            .users
            .is_empty()
    );

    let deleted = users
        .delete_user(proto::DeleteUserRequest {
            id: ada.id.clone(),
            confirm: "Delete".into(),
        })
        .await
        .unwrap();
    let last = token(&deleted);
    assert_refused(
        users
            .get_user(proto::GetUserRequest {
                user: Some(UserSelector::Id(ada.id.clone())),
            })
            .await,
        Code::NotFound,
        &ada.id,
    );

    let events = server
        .audit(server.admin())
        .list_audit_events(proto::ListAuditEventsRequest {
            target: ada.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["CreateUser", "GrantPermission", "DisableUser", "DeleteUser"]
    );
    let deletion = events.last().unwrap();
    assert_eq!(deletion.sequence, last);
    let details = deletion.details.as_ref().unwrap();
    assert!(matches!(
        details.fields["username"].kind,
        Some(prost_types::value::Kind::StringValue(ref s)) if s == "ada@example.com"
    ));
    server.stop().await;
}

async fn bad_input_names_the_field_and_changes_nothing(t: TestStore) {
    let server = TestServer::start(t).await;
    let ada = create_user(&server, "ada@example.com").await;
    let users = server.users(server.admin());
    let permissions = server.permissions(server.admin());
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let unknown = unknown_id.as_str();
    let long = "x".repeat(257);
    let etag = ada.etag.as_str();

    let create = |email: &str, full_name: &str, f: fn(&mut proto::CreateUserRequest)| {
        let mut request = proto::CreateUserRequest {
            email: email.into(),
            full_name: full_name.into(),
            ..Default::default()
        };
        f(&mut request);
        request
    };
    let get = |user| proto::GetUserRequest { user: Some(user) };
    let list = |f: fn(&mut proto::ListUsersRequest)| {
        let mut request = proto::ListUsersRequest::default();
        f(&mut request);
        request
    };
    let update = |id: &str, paths: &[&str], etag: &str, f: fn(&mut proto::User)| {
        let mut user = proto::User {
            id: id.into(),
            full_name: "Augusta".into(),
            email: "augusta@example.com".into(),
            ..Default::default()
        };
        f(&mut user);
        proto::UpdateUserRequest {
            user: Some(user),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            etag: etag.into(),
        }
    };
    let disable = |id: &str| proto::DisableUserRequest { id: id.into() };
    let enable = |id: &str| proto::EnableUserRequest { id: id.into() };
    let delete = |id: &str, confirm: &str| proto::DeleteUserRequest {
        id: id.into(),
        confirm: confirm.into(),
    };
    use proto::{AwsUserType as Aws, Platform as P};
    let external =
        |user_id: &str, platform: P, username: &str, aws: Aws| proto::SetExternalUsernameRequest {
            user_id: user_id.into(),
            platform: platform as i32,
            username: username.into(),
            aws_user_type: aws as i32,
        };
    let clear_external = |platform: i32| proto::ClearExternalUsernameRequest {
        user_id: ada.id.clone(),
        platform,
    };
    let attribute =
        |user_id: &str, attribute: &str, values: &[&str]| proto::AddUserAttributeRequest {
            user_id: user_id.into(),
            attribute: attribute.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
    let remove_value = proto::RemoveUserAttributeValueRequest {
        user_id: ada.id.clone(),
        attribute: "region".into(),
        value: "EMEA".into(),
    };
    let key =
        |user_id: &str, display_name: &str, seconds: Option<i64>| proto::CreateApiKeyRequest {
            user_id: user_id.into(),
            display_name: display_name.into(),
            expire_time: seconds.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
        };
    let list_keys = |user_id: &str| proto::ListApiKeysRequest {
        user_id: user_id.into(),
        ..Default::default()
    };
    let revoke_key = |id: &str| proto::RevokeApiKeyRequest { id: id.into() };
    let grant = |user_id: &str, permission: &str| proto::GrantPermissionRequest {
        user_id: user_id.into(),
        permission: permission.into(),
    };
    let revoke = |user_id: &str, permission: &str| proto::RevokePermissionRequest {
        user_id: user_id.into(),
        permission: permission.into(),
    };

    use Code::{Aborted, AlreadyExists, InvalidArgument, NotFound};
    #[rustfmt::skip]
    let cases = vec![
        // CreateUser
        (call!(users.create_user(create("", "Ada", |_| {}))), InvalidArgument, "email"),
        (call!(users.create_user(create("not-an-email", "Ada", |_| {}))), InvalidArgument, "email"),
        (call!(users.create_user(create("a@b", "Ada", |_| {}))), InvalidArgument, "email"),
        (call!(users.create_user(create("new@example.com", "", |_| {}))), InvalidArgument, "full_name"),
        (call!(users.create_user(create("new@example.com", &long, |_| {}))), InvalidArgument, "full_name"),
        (call!(users.create_user(create("ADA@example.com", "Ada", |_| {}))), AlreadyExists, "email"),
        (call!(users.create_user(create("new@example.com", "New", |r| r.kind = 99))), InvalidArgument, "kind"),
        (call!(users.create_user(create("new@example.com", "New", |r| r.iam_id = "iam-1".into()))), InvalidArgument, "iam_id"),
        (call!(users.create_user(proto::CreateUserRequest { iam_id: unknown.into(), ..create("new@example.com", "New", |_| {}) })), NotFound, "iam_id"),
        // GetUser
        (call!(users.get_user(proto::GetUserRequest { user: None })), InvalidArgument, "id"),
        (call!(users.get_user(get(UserSelector::Id("42".into())))), InvalidArgument, "id"),
        (call!(users.get_user(get(UserSelector::Id(unknown.into())))), NotFound, unknown),
        (call!(users.get_user(get(UserSelector::Username("nobody@example.com".into())))), NotFound, "nobody@example.com"),
        // ListUsers
        (call!(users.list_users(list(|r| r.page_size = -1))), InvalidArgument, "page_size"),
        (call!(users.list_users(list(|r| r.page_token = "garbage".into()))), InvalidArgument, "page_token"),
        (call!(users.list_users(list(|r| r.query = "q".repeat(300)))), InvalidArgument, "query"),
        (call!(users.list_users(list(|r| r.group_id = "g".into()))), InvalidArgument, "group_id"),
        (call!(users.list_users(list(|r| r.permission = "lower".into()))), InvalidArgument, "permission"),
        // UpdateUser
        (call!(users.update_user(proto::UpdateUserRequest { user: None, ..Default::default() })), InvalidArgument, "user"),
        (call!(users.update_user(update("zz", &["full_name"], etag, |_| {}))), InvalidArgument, "user.id"),
        (call!(users.update_user(update(unknown, &["full_name"], etag, |_| {}))), NotFound, unknown),
        (call!(users.update_user(update(&ada.id, &["full_name"], "\"7\"", |_| {}))), Aborted, "etag"),
        (call!(users.update_user(update(&ada.id, &["full_name"], "", |_| {}))), InvalidArgument, "etag"),
        (call!(users.update_user(update(&ada.id, &[], etag, |_| {}))), InvalidArgument, "update_mask"),
        (call!(users.update_user(update(&ada.id, &["disabled"], etag, |_| {}))), InvalidArgument, "update_mask"),
        (call!(users.update_user(update(&ada.id, &["email"], etag, |u| u.email = "bad".into()))), InvalidArgument, "user.email"),
        (call!(users.update_user(update(&ada.id, &["full_name"], etag, |u| u.full_name = "y".repeat(257)))), InvalidArgument, "user.full_name"),
        // DisableUser, EnableUser
        (call!(users.disable_user(disable(""))), InvalidArgument, "id"),
        (call!(users.enable_user(enable(""))), InvalidArgument, "id"),
        (call!(users.disable_user(disable("nope"))), InvalidArgument, "id"),
        (call!(users.enable_user(enable("nope"))), InvalidArgument, "id"),
        (call!(users.disable_user(disable(unknown))), NotFound, unknown),
        (call!(users.enable_user(enable(unknown))), NotFound, unknown),
        // DeleteUser
        (call!(users.delete_user(delete(&ada.id, "delete"))), InvalidArgument, "confirm"),
        (call!(users.delete_user(delete(&ada.id, ""))), InvalidArgument, "confirm"),
        (call!(users.delete_user(delete("x", "Delete"))), InvalidArgument, "id"),
        (call!(users.delete_user(delete(unknown, "Delete"))), NotFound, unknown),
        // SetExternalUsername, ClearExternalUsername
        (call!(users.set_external_username(external(&ada.id, P::Unspecified, "ADA", Aws::Unspecified))), InvalidArgument, "platform"),
        (call!(users.set_external_username(external(&ada.id, P::Snowflake, " ", Aws::Unspecified))), InvalidArgument, "username"),
        (call!(users.set_external_username(external(&ada.id, P::Snowflake, &long, Aws::Unspecified))), InvalidArgument, "username"),
        (call!(users.set_external_username(external(&ada.id, P::Snowflake, "ADA", Aws::IamRole))), InvalidArgument, "aws_user_type"),
        (call!(users.set_external_username(external(&ada.id, P::S3, "ada", Aws::IdentityCenterUser))), InvalidArgument, "username"),
        (call!(users.set_external_username(external(unknown, P::Snowflake, "ADA", Aws::Unspecified))), NotFound, unknown),
        (call!(users.set_external_username(external("x", P::Snowflake, "ADA", Aws::Unspecified))), InvalidArgument, "user_id"),
        (call!(users.clear_external_username(clear_external(P::Trino as i32))), NotFound, "platform"),
        (call!(users.clear_external_username(clear_external(1234))), InvalidArgument, "platform"),
        // AddUserAttribute, RemoveUserAttributeValue
        (call!(users.add_user_attribute(attribute(&ada.id, "", &["a"]))), InvalidArgument, "attribute"),
        (call!(users.add_user_attribute(attribute(&ada.id, "region", &[]))), InvalidArgument, "values"),
        (call!(users.add_user_attribute(attribute(&ada.id, "region", &["", "x"]))), InvalidArgument, "values"),
        (call!(users.add_user_attribute(attribute(&ada.id, "region", &[&long]))), InvalidArgument, "values"),
        (call!(users.add_user_attribute(attribute(unknown, "region", &["a"]))), NotFound, unknown),
        (call!(users.remove_user_attribute_value(remove_value)), NotFound, "value"),
        // CreateApiKey, ListApiKeys, RevokeApiKey
        (call!(users.create_api_key(key(&ada.id, "old", Some(1_000)))), InvalidArgument, "expire_time"),
        (call!(users.create_api_key(key(&ada.id, &long, None))), InvalidArgument, "display_name"),
        (call!(users.create_api_key(key(unknown, "k", None))), NotFound, unknown),
        (call!(users.create_api_key(key("k", "k", None))), InvalidArgument, "user_id"),
        (call!(users.list_api_keys(list_keys("k"))), InvalidArgument, "user_id"),
        (call!(users.list_api_keys(proto::ListApiKeysRequest { page_size: -1, ..list_keys(&ada.id) })), InvalidArgument, "page_size"),
        (call!(users.list_api_keys(proto::ListApiKeysRequest { page_token: "garbage".into(), ..list_keys(&ada.id) })), InvalidArgument, "page_token"),
        (call!(users.revoke_api_key(revoke_key("k"))), InvalidArgument, "id"),
        (call!(users.revoke_api_key(revoke_key(unknown))), NotFound, unknown),
        // GrantPermission, RevokePermission
        (call!(permissions.grant_permission(grant(&ada.id, "audit"))), InvalidArgument, "permission"),
        (call!(permissions.grant_permission(grant(&ada.id, "NOT_A_THING"))), InvalidArgument, "permission"),
        (call!(permissions.grant_permission(grant(unknown, "AUDIT"))), NotFound, unknown),
        (call!(permissions.revoke_permission(revoke("x", "AUDIT"))), InvalidArgument, "user_id"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

async fn authentication_and_authorization(t: TestStore) {
    let server = TestServer::start(t).await;
    let (ada, ada_key) = user_with_key(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let list = || proto::ListUsersRequest::default();
    let get = |user| proto::GetUserRequest { user: Some(user) };

    let malformed = {
        let mut token = ada_key.clone().into_bytes();
        let i = token.len() - 10;
        token[i] = if token[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(token).unwrap()
    };
    for (auth, what) in [
        (Authorization::none(), "authorization header"),
        (Authorization::raw(&format!("Basic {ada_key}")), "Bearer"),
        (Authorization::bearer("garbage"), "form"),
        (Authorization::bearer(&malformed), "checksum"),
        (
            Authorization::bearer(&api_key::generate().token),
            "not valid",
        ),
    ] {
        assert_refused(
            server
                .users(auth)
                .get_user(proto::GetUserRequest::default())
                .await,
            Code::Unauthenticated,
            what,
        );
    }

    // A key without USER_ADMIN: its own user yes, others and admin calls no.
    let mut as_ada = server.users(Authorization::bearer(&ada_key));
    for selector in [
        UserSelector::Id(ada.id.clone()),
        UserSelector::Username("ADA@example.com".into()),
    ] {
        let me = as_ada.get_user(get(selector)).await.unwrap().into_inner();
        assert_eq!(me.id, ada.id);
    }
    let ada_audit = server.audit(Authorization::bearer(&ada_key));
    use Code::PermissionDenied;
    #[rustfmt::skip]
    let cases = vec![
        (call!(as_ada.get_user(get(UserSelector::Id(bob.id.clone())))), PermissionDenied, "USER_ADMIN"),
        (call!(as_ada.get_user(get(UserSelector::Username(bob.username.clone())))), PermissionDenied, "USER_ADMIN"),
        (call!(as_ada.get_user(get(UserSelector::Username("nobody@example.com".into())))), PermissionDenied, "USER_ADMIN"),
        (call!(as_ada.list_users(list())), PermissionDenied, "USER_ADMIN"),
        (call!(as_ada.disable_user(proto::DisableUserRequest { id: bob.id.clone() })), PermissionDenied, "USER_ADMIN"),
        (call!(ada_audit.list_audit_events(proto::ListAuditEventsRequest::default())), PermissionDenied, "AUDIT"),
        (call!(as_ada.create_api_key(proto::CreateApiKeyRequest { user_id: bob.id.clone(), ..Default::default() })), PermissionDenied, "USER_ADMIN"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;

    // Ada manages her own keys.
    let second = as_ada
        .create_api_key(proto::CreateApiKeyRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.api_key.as_ref().unwrap().user_id, ada.id);
    let keys = as_ada
        .list_api_keys(proto::ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(keys.len(), 2);
    as_ada
        .revoke_api_key(proto::RevokeApiKeyRequest {
            id: second.api_key.unwrap().id,
        })
        .await
        .unwrap();
    assert_refused(
        server
            .users(Authorization::bearer(&second.secret))
            .get_user(proto::GetUserRequest::default())
            .await,
        Code::Unauthenticated,
        "not valid",
    );

    // Disabling a user stops their keys at once; enabling restores them.
    let mut admin = server.users(server.admin());
    admin
        .disable_user(proto::DisableUserRequest { id: ada.id.clone() })
        .await
        .unwrap();
    assert_refused(
        as_ada.get_user(get(UserSelector::Id(ada.id.clone()))).await,
        Code::Unauthenticated,
        "not valid",
    );
    admin
        .enable_user(proto::EnableUserRequest { id: ada.id.clone() })
        .await
        .unwrap();
    as_ada
        .get_user(get(UserSelector::Id(ada.id.clone())))
        .await
        .unwrap();

    // Granting a permission takes effect on the next call.
    grant(&server, &ada.id, "USER_ADMIN").await;
    let listed = as_ada.list_users(list()).await.unwrap().into_inner().users;
    let mut emails: Vec<_> = listed.iter().map(|u| u.email.as_str()).collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "ada@example.com",
            personae::bootstrap::BOOTSTRAP_ADMIN_EMAIL,
            "bob@example.com"
        ]
    );
    server.stop().await;
}

async fn the_last_admin_cannot_lock_everyone_out(t: TestStore) {
    let server = TestServer::start(t).await;
    let users = server.users(server.admin());
    let permissions = server.permissions(server.admin());
    let id = bootstrap_admin(&server).await.id;
    use Code::{FailedPrecondition, InvalidArgument};
    #[rustfmt::skip]
    let cases = vec![
        // GetUser needs a selector.
        (call!(users.get_user(proto::GetUserRequest::default())), InvalidArgument, "id"),
        (call!(users.disable_user(proto::DisableUserRequest { id: id.clone() })), FailedPrecondition, "USER_ADMIN"),
        (call!(users.delete_user(proto::DeleteUserRequest { id: id.clone(), confirm: "Delete".into() })), FailedPrecondition, "USER_ADMIN"),
        (call!(permissions.revoke_permission(proto::RevokePermissionRequest { user_id: id.clone(), permission: "USER_ADMIN".into() })), FailedPrecondition, "USER_ADMIN"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

async fn audit_chain_reports_the_first_broken_link(t: TestStore) {
    let server = TestServer::start(t).await;
    for i in 0..4 {
        create_user(&server, &format!("user{i}@example.com")).await;
    }
    let mut audit = server.audit(server.admin());
    let verdict = server.verify_audit_chain().await;
    assert!(verdict.ok, "{verdict:?}");
    assert_eq!(verdict.events_checked, 5, "bootstrap and four creations");

    let third = audit
        .list_audit_events(proto::ListAuditEventsRequest {
            page_size: 1,
            page_token: String::new(),
            action: "CreateUser".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(third.events.len(), 1);
    assert!(!third.next_page_token.is_empty());
    let next = audit
        .list_audit_events(proto::ListAuditEventsRequest {
            page_size: 1,
            page_token: third.next_page_token,
            action: "CreateUser".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let tampered = &next.events[0];
    assert_eq!(tampered.sequence, 3);

    let allow_update = if server.store.is_postgres() {
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"
    } else {
        "DROP TRIGGER audit_events_no_update"
    };
    server.store.execute_raw(allow_update).await;
    server
        .store
        .execute_raw("UPDATE audit_events SET target_id = 'someone-else' WHERE sequence = 3")
        .await;
    let verdict = server.verify_audit_chain().await;
    assert!(!verdict.ok);
    assert_eq!(verdict.first_broken_sequence, 3);
    assert_eq!(verdict.first_broken_event_id, tampered.id);
    assert_eq!(verdict.events_checked, 2);
    assert!(verdict.reason.contains("hash"), "{}", verdict.reason);
    server.stop().await;
}

async fn listing_pages_and_tokens_bind_filters(t: TestStore) {
    let server = TestServer::start(t).await;
    for i in 0..5 {
        create_user(&server, &format!("pager{i}@example.com")).await;
    }
    let users = server.users(server.admin());
    let request = |page_token: String| proto::ListUsersRequest {
        query: "pager".into(),
        page_size: 2,
        page_token,
        ..Default::default()
    };
    let listed = all_pages(2, |page_token| {
        let mut users = users.clone();
        let request = request(page_token);
        async move {
            let page = users.list_users(request).await?.into_inner();
            Ok((page.users, page.next_page_token))
        }
    })
    .await;
    assert_eq!(
        listed.into_iter().map(|u| u.email).collect::<Vec<_>>(),
        (0..5)
            .map(|i| format!("pager{i}@example.com"))
            .collect::<Vec<_>>()
    );

    let first = users
        .clone()
        .list_users(request(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.users.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let mut same_filter = request(first.next_page_token.clone());
    let mut other_filter = request(first.next_page_token);
    other_filter.query = "someone".into();
    same_filter.page_size = 3;
    #[rustfmt::skip]
    let cases = vec![
        (call!(users.list_users(other_filter)), Code::InvalidArgument, "page_token"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    // The page size may change from page to page; the filters may not.
    let rest = users
        .clone()
        .list_users(same_filter)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.users.len(), 3);
    assert!(rest.next_page_token.is_empty());
    server.stop().await;
}

async fn every_rpc_is_implemented(t: TestStore) {
    let server = TestServer::start(t).await;
    for rpc in every_rpc() {
        let answer = call_empty(&server, &rpc, Some(&server.admin_token)).await;
        assert_ne!(
            answer.map_err(|s| s.code()).err(),
            Some(Code::Unimplemented),
            "{rpc}"
        );
    }
    // Authentication still comes first.
    assert_refused(
        server
            .groups(Authorization::none())
            .list_groups(proto::ListGroupsRequest::default())
            .await,
        Code::Unauthenticated,
        "authorization",
    );
    server.stop().await;
}

async fn health_and_metrics_need_no_key(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "personae.v1.Users".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    assert_refused(
        server
            .users(server.admin())
            .create_user(proto::CreateUserRequest::default())
            .await,
        Code::InvalidArgument,
        "email",
    );
    let metrics = metrics_containing(
        &server,
        r#"grpc_server_handled_total{grpc_service="personae.v1.Users",grpc_method="CreateUser",grpc_code="INVALID_ARGUMENT"} 1"#,
    )
    .await;
    assert!(
        metrics.contains("grpc_server_handling_seconds_bucket"),
        "{metrics}"
    );

    // Paths that name no RPC share one label, however many a caller invents.
    for i in 0..3 {
        assert_refused(
            call_empty(&server, &format!("/invented.Service/Method{i}"), None).await,
            Code::Unauthenticated,
            "authorization",
        );
    }
    let metrics = metrics_containing(
        &server,
        r#"grpc_service="unknown",grpc_method="unknown",grpc_code="UNAUTHENTICATED"} 3"#,
    )
    .await;
    assert!(!metrics.contains("invented"), "{metrics}");

    // A check reads the store once, then answers from its cache.
    let user = server
        .users(server.admin())
        .create_user(proto::CreateUserRequest {
            email: "metrics@example.com".into(),
            full_name: "Metrics".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        server
            .permissions(server.admin())
            .check_permission(proto::CheckPermissionRequest {
                user_id: user.id.clone(),
                permission: "AUDIT".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let metrics = metrics_containing(
        &server,
        r#"personae_cache_lookups_total{cache="grants",outcome="hit"} 2"#,
    )
    .await;
    assert!(
        metrics.contains(r#"personae_cache_lookups_total{cache="grants",outcome="miss"} 1"#),
        "{metrics}"
    );
    server.stop().await;
}

/// A response carries `x-request-id` when the caller sent one (echoed) or the call failed (a new
/// one, to quote); a successful call that sent none gets none.
async fn request_ids_come_back_when_sent_or_on_failure(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel());
    let plain = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();
    assert!(
        plain.metadata().get("x-request-id").is_none(),
        "{:?}",
        plain.metadata()
    );

    let mut request = tonic::Request::new(tonic_health::pb::HealthCheckRequest::default());
    request
        .metadata_mut()
        .insert("x-request-id", "probe-1".parse().unwrap());
    let echoed = health.check(request).await.unwrap();
    assert_eq!(
        echoed
            .metadata()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap()),
        Some("probe-1")
    );

    let refused = server
        .users(server.admin())
        .create_user(proto::CreateUserRequest::default())
        .await
        .unwrap_err();
    let id = refused
        .metadata()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("a failed call carries its request id: {refused:?}"));
    assert!(
        uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(),
        "{id:?}"
    );
    server.stop().await;
}

/// Beyond the concurrency limit calls are refused at once; on shutdown, calls in flight finish.
async fn overload_is_shed_and_shutdown_drains(t: TestStore) {
    let options = personae::server::ServeOptions {
        max_concurrent_requests: 1,
        ..crate::common::serve_options()
    };
    let server = TestServer::start_with(t, options).await;
    let lock = server.store.hold_write_lock().await;
    let mut users = server.users(server.admin());
    // This call takes the only slot and waits there for the store's write lock. Like any client
    // told UNAVAILABLE, it retries while a probe below holds the slot.
    let in_flight = tokio::spawn(async move {
        let request = proto::CreateUserRequest {
            email: "patient@example.com".into(),
            full_name: "Patient".into(),
            ..Default::default()
        };
        loop {
            match users.create_user(request.clone()).await {
                Err(status) if status.code() == Code::Unavailable => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                other => return other,
            }
        }
    });
    // Probe until a call is shed, which happens once that call holds the slot.
    let mut shed = None;
    for _ in 0..500 {
        assert!(
            !in_flight.is_finished(),
            "the call should wait for the write lock: {:?}",
            in_flight.await
        );
        match server
            .users(server.admin())
            .list_users(proto::ListUsersRequest::default())
            .await
        {
            Err(status) if status.code() == Code::Unavailable => {
                shed = Some(status);
                break;
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let shed = shed.expect("a second call beyond the limit is refused");
    assert!(shed.message().contains("concurrency limit"), "{shed:?}");

    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the call in flight"
    );
    drop(lock);
    let created = in_flight
        .await
        .unwrap()
        .expect("the call in flight completes")
        .into_inner();
    assert_eq!(created.email, "patient@example.com");
    stopping.await.unwrap();
}

/// The metrics page once it contains `needle`. A call is recorded when the server has finished
/// with its response, which may be a moment after the client has read it.
async fn metrics_containing(server: &TestServer, needle: &str) -> String {
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http_get(server.metrics_addr, "/metrics").await;
        if metrics.contains(needle) {
            return metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the metrics never showed {needle}:\n{metrics}");
}

/// A key without USER_ADMIN cannot mint, for its own user, a key that outlives it: unset, the
/// new key takes its expiry; later, it is refused; so both stop working together.
async fn a_key_never_mints_one_that_outlives_it(t: TestStore) {
    let server = TestServer::start(t).await;
    let ada = create_user(&server, "ada@example.com").await;
    let soon = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() + 3,
        nanos: 0,
    };
    let short = server
        .users(server.admin())
        .create_api_key(proto::CreateApiKeyRequest {
            user_id: ada.id.clone(),
            expire_time: Some(soon),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut as_ada = server.users(Authorization::bearer(&short.secret));
    let later = prost_types::Timestamp {
        seconds: soon.seconds + 3600,
        nanos: 0,
    };
    let refused = as_ada
        .create_api_key(proto::CreateApiKeyRequest {
            expire_time: Some(later),
            ..Default::default()
        })
        .await;
    assert_refused(
        refused,
        Code::InvalidArgument,
        "expire_time: must not be later than",
    );
    let minted = as_ada
        .create_api_key(proto::CreateApiKeyRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minted.api_key.unwrap().expire_time, Some(soon));
    let mut as_minted = server.users(Authorization::bearer(&minted.secret));
    let own = proto::GetUserRequest {
        user: Some(UserSelector::Id(ada.id.clone())),
    };
    as_minted.get_user(own.clone()).await.unwrap();

    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_refused(
        as_minted.get_user(own).await,
        Code::Unauthenticated,
        "not valid",
    );
    // An admin may still give a longer life.
    server
        .users(server.admin())
        .create_api_key(proto::CreateApiKeyRequest {
            user_id: ada.id.clone(),
            expire_time: Some(later),
            ..Default::default()
        })
        .await
        .unwrap();
    server.stop().await;
}

on_both_stores!(
    seed_flow,
    a_key_never_mints_one_that_outlives_it,
    bad_input_names_the_field_and_changes_nothing,
    authentication_and_authorization,
    the_last_admin_cannot_lock_everyone_out,
    audit_chain_reports_the_first_broken_link,
    listing_pages_and_tokens_bind_filters,
    every_rpc_is_implemented,
    health_and_metrics_need_no_key,
    request_ids_come_back_when_sent_or_on_failure,
    overload_is_shed_and_shutdown_drains,
);
