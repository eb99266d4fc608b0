//! The API over real gRPC, on a server bound to an ephemeral port, on both stores.

mod common;

use std::str::FromStr;

use common::{Authorization, TestServer, TestStore};
use personae::{
    api::CONSISTENCY_TOKEN_HEADER,
    domain::api_key,
    proto::{self, get_user_request::User as UserSelector},
};
use prost_types::FieldMask;
use tonic::{Code, Response, Status};

async fn create_user(server: &TestServer, email: &str) -> proto::User {
    server
        .users(server.admin())
        .create_user(proto::CreateUserRequest {
            email: email.into(),
            full_name: format!("Name of {email}"),
            ..Default::default()
        })
        .await
        .expect("create user")
        .into_inner()
}

/// A user with a fresh API key; returns the user and the key.
async fn user_with_key(server: &TestServer, email: &str) -> (proto::User, String) {
    let user = create_user(server, email).await;
    let key = server
        .users(server.admin())
        .create_api_key(proto::CreateApiKeyRequest {
            user_id: user.id.clone(),
            display_name: "test".into(),
            ..Default::default()
        })
        .await
        .expect("create key")
        .into_inner();
    (user, key.secret)
}

fn token<T>(response: &Response<T>) -> i64 {
    response
        .metadata()
        .get(CONSISTENCY_TOKEN_HEADER)
        .expect("mutations return a consistency token")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, field: &str) {
    let status = result.expect_err("the call must be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(field),
        "the message {:?} must name {field:?}",
        status.message()
    );
}

/// Everything the store holds that a refused call must leave alone.
async fn snapshot(server: &TestServer) -> (Vec<proto::User>, String) {
    let users = server
        .users(server.admin())
        .list_users(proto::ListUsersRequest {
            include_disabled: true,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .users;
    let head = server.store.store.audit_head().await.unwrap();
    (users, format!("{head:?}"))
}

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
    let mut users = server.users(server.admin());
    let before = snapshot(&server).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let long = "x".repeat(257);
    let create = |email: &str, full_name: &str| proto::CreateUserRequest {
        email: email.into(),
        full_name: full_name.into(),
        ..Default::default()
    };

    use Code::{Aborted, AlreadyExists, InvalidArgument, NotFound};
    assert_refused(
        users.create_user(create("", "Ada")).await,
        InvalidArgument,
        "email",
    );
    assert_refused(
        users.create_user(create("not-an-email", "Ada")).await,
        InvalidArgument,
        "email",
    );
    assert_refused(
        users.create_user(create("a@b", "Ada")).await,
        InvalidArgument,
        "email",
    );
    assert_refused(
        users.create_user(create("new@example.com", "")).await,
        InvalidArgument,
        "full_name",
    );
    assert_refused(
        users.create_user(create("new@example.com", &long)).await,
        InvalidArgument,
        "full_name",
    );
    assert_refused(
        users.create_user(create("ADA@example.com", "Ada")).await,
        AlreadyExists,
        "email",
    );
    let mut bad_kind = create("new@example.com", "New");
    bad_kind.kind = 99;
    assert_refused(users.create_user(bad_kind).await, InvalidArgument, "kind");
    let mut bad_iam = create("new@example.com", "New");
    bad_iam.iam_id = "iam-1".into();
    assert_refused(users.create_user(bad_iam).await, InvalidArgument, "iam_id");
    let mut unknown_iam = create("new@example.com", "New");
    unknown_iam.iam_id = unknown.clone();
    assert_refused(users.create_user(unknown_iam).await, NotFound, "iam_id");

    let get = |user| proto::GetUserRequest { user: Some(user) };
    assert_refused(
        users.get_user(proto::GetUserRequest { user: None }).await,
        InvalidArgument,
        "id",
    );
    assert_refused(
        users.get_user(get(UserSelector::Id("42".into()))).await,
        InvalidArgument,
        "id",
    );
    assert_refused(
        users.get_user(get(UserSelector::Id(unknown.clone()))).await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users
            .get_user(get(UserSelector::Username("nobody@example.com".into())))
            .await,
        NotFound,
        "nobody@example.com",
    );

    let list = |f: fn(&mut proto::ListUsersRequest)| {
        let mut request = proto::ListUsersRequest::default();
        f(&mut request);
        request
    };
    assert_refused(
        users.list_users(list(|r| r.page_size = -1)).await,
        InvalidArgument,
        "page_size",
    );
    assert_refused(
        users
            .list_users(list(|r| r.page_token = "garbage".into()))
            .await,
        InvalidArgument,
        "page_token",
    );
    assert_refused(
        users.list_users(list(|r| r.query = "q".repeat(300))).await,
        InvalidArgument,
        "query",
    );
    assert_refused(
        users.list_users(list(|r| r.group_id = "g".into())).await,
        InvalidArgument,
        "group_id",
    );
    assert_refused(
        users
            .list_users(list(|r| r.permission = "lower".into()))
            .await,
        InvalidArgument,
        "permission",
    );

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
    let etag = ada.etag.as_str();
    assert_refused(
        users
            .update_user(proto::UpdateUserRequest {
                user: None,
                ..Default::default()
            })
            .await,
        InvalidArgument,
        "user",
    );
    assert_refused(
        users
            .update_user(update("zz", &["full_name"], etag, |_| {}))
            .await,
        InvalidArgument,
        "user.id",
    );
    assert_refused(
        users
            .update_user(update(&unknown, &["full_name"], etag, |_| {}))
            .await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users
            .update_user(update(&ada.id, &["full_name"], "\"7\"", |_| {}))
            .await,
        Aborted,
        "etag",
    );
    assert_refused(
        users
            .update_user(update(&ada.id, &["full_name"], "", |_| {}))
            .await,
        InvalidArgument,
        "etag",
    );
    assert_refused(
        users.update_user(update(&ada.id, &[], etag, |_| {})).await,
        InvalidArgument,
        "update_mask",
    );
    assert_refused(
        users
            .update_user(update(&ada.id, &["disabled"], etag, |_| {}))
            .await,
        InvalidArgument,
        "update_mask",
    );
    assert_refused(
        users
            .update_user(update(&ada.id, &["email"], etag, |u| {
                u.email = "bad".into()
            }))
            .await,
        InvalidArgument,
        "user.email",
    );
    assert_refused(
        users
            .update_user(update(&ada.id, &["full_name"], etag, |u| {
                u.full_name = "y".repeat(257)
            }))
            .await,
        InvalidArgument,
        "user.full_name",
    );

    for id in ["", "nope"] {
        assert_refused(
            users
                .disable_user(proto::DisableUserRequest { id: id.into() })
                .await,
            InvalidArgument,
            "id",
        );
        assert_refused(
            users
                .enable_user(proto::EnableUserRequest { id: id.into() })
                .await,
            InvalidArgument,
            "id",
        );
    }
    assert_refused(
        users
            .disable_user(proto::DisableUserRequest {
                id: unknown.clone(),
            })
            .await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users
            .enable_user(proto::EnableUserRequest {
                id: unknown.clone(),
            })
            .await,
        NotFound,
        &unknown,
    );

    let delete = |id: &str, confirm: &str| proto::DeleteUserRequest {
        id: id.into(),
        confirm: confirm.into(),
    };
    assert_refused(
        users.delete_user(delete(&ada.id, "delete")).await,
        InvalidArgument,
        "confirm",
    );
    assert_refused(
        users.delete_user(delete(&ada.id, "")).await,
        InvalidArgument,
        "confirm",
    );
    assert_refused(
        users.delete_user(delete("x", "Delete")).await,
        InvalidArgument,
        "id",
    );
    assert_refused(
        users.delete_user(delete(&unknown, "Delete")).await,
        NotFound,
        &unknown,
    );

    let external =
        |user_id: &str, platform: proto::Platform, username: &str, aws: proto::AwsUserType| {
            proto::SetExternalUsernameRequest {
                user_id: user_id.into(),
                platform: platform as i32,
                username: username.into(),
                aws_user_type: aws as i32,
            }
        };
    use proto::{AwsUserType as Aws, Platform as P};
    assert_refused(
        users
            .set_external_username(external(&ada.id, P::Unspecified, "ADA", Aws::Unspecified))
            .await,
        InvalidArgument,
        "platform",
    );
    assert_refused(
        users
            .set_external_username(external(&ada.id, P::Snowflake, " ", Aws::Unspecified))
            .await,
        InvalidArgument,
        "username",
    );
    assert_refused(
        users
            .set_external_username(external(&ada.id, P::Snowflake, &long, Aws::Unspecified))
            .await,
        InvalidArgument,
        "username",
    );
    assert_refused(
        users
            .set_external_username(external(&ada.id, P::Snowflake, "ADA", Aws::IamRole))
            .await,
        InvalidArgument,
        "aws_user_type",
    );
    assert_refused(
        users
            .set_external_username(external(&ada.id, P::S3, "ada", Aws::IdentityCenterUser))
            .await,
        InvalidArgument,
        "username",
    );
    assert_refused(
        users
            .set_external_username(external(&unknown, P::Snowflake, "ADA", Aws::Unspecified))
            .await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users
            .set_external_username(external("x", P::Snowflake, "ADA", Aws::Unspecified))
            .await,
        InvalidArgument,
        "user_id",
    );
    assert_refused(
        users
            .clear_external_username(proto::ClearExternalUsernameRequest {
                user_id: ada.id.clone(),
                platform: P::Trino as i32,
            })
            .await,
        NotFound,
        "platform",
    );
    assert_refused(
        users
            .clear_external_username(proto::ClearExternalUsernameRequest {
                user_id: ada.id.clone(),
                platform: 1234,
            })
            .await,
        InvalidArgument,
        "platform",
    );

    let attribute =
        |user_id: &str, attribute: &str, values: &[&str]| proto::AddUserAttributeRequest {
            user_id: user_id.into(),
            attribute: attribute.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
    assert_refused(
        users
            .add_user_attribute(attribute(&ada.id, "", &["a"]))
            .await,
        InvalidArgument,
        "attribute",
    );
    assert_refused(
        users
            .add_user_attribute(attribute(&ada.id, "region", &[]))
            .await,
        InvalidArgument,
        "values",
    );
    assert_refused(
        users
            .add_user_attribute(attribute(&ada.id, "region", &["", "x"]))
            .await,
        InvalidArgument,
        "values",
    );
    assert_refused(
        users
            .add_user_attribute(attribute(&ada.id, "region", &[&long]))
            .await,
        InvalidArgument,
        "values",
    );
    assert_refused(
        users
            .add_user_attribute(attribute(&unknown, "region", &["a"]))
            .await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users
            .remove_user_attribute_value(proto::RemoveUserAttributeValueRequest {
                user_id: ada.id.clone(),
                attribute: "region".into(),
                value: "EMEA".into(),
            })
            .await,
        NotFound,
        "value",
    );

    let key =
        |user_id: &str, display_name: &str, seconds: Option<i64>| proto::CreateApiKeyRequest {
            user_id: user_id.into(),
            display_name: display_name.into(),
            expire_time: seconds.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
        };
    assert_refused(
        users.create_api_key(key(&ada.id, "old", Some(1_000))).await,
        InvalidArgument,
        "expire_time",
    );
    assert_refused(
        users.create_api_key(key(&ada.id, &long, None)).await,
        InvalidArgument,
        "display_name",
    );
    assert_refused(
        users.create_api_key(key(&unknown, "k", None)).await,
        NotFound,
        &unknown,
    );
    assert_refused(
        users.create_api_key(key("k", "k", None)).await,
        InvalidArgument,
        "user_id",
    );
    assert_refused(
        users
            .list_api_keys(proto::ListApiKeysRequest {
                user_id: "k".into(),
                ..Default::default()
            })
            .await,
        InvalidArgument,
        "user_id",
    );
    assert_refused(
        users
            .revoke_api_key(proto::RevokeApiKeyRequest { id: "k".into() })
            .await,
        InvalidArgument,
        "id",
    );
    assert_refused(
        users
            .revoke_api_key(proto::RevokeApiKeyRequest {
                id: unknown.clone(),
            })
            .await,
        NotFound,
        &unknown,
    );

    let mut permissions = server.permissions(server.admin());
    let grant = |user_id: &str, permission: &str| proto::GrantPermissionRequest {
        user_id: user_id.into(),
        permission: permission.into(),
    };
    assert_refused(
        permissions.grant_permission(grant(&ada.id, "audit")).await,
        InvalidArgument,
        "permission",
    );
    assert_refused(
        permissions
            .grant_permission(grant(&ada.id, "NOT_A_THING"))
            .await,
        InvalidArgument,
        "permission",
    );
    assert_refused(
        permissions.grant_permission(grant(&unknown, "AUDIT")).await,
        NotFound,
        &unknown,
    );
    assert_refused(
        permissions
            .revoke_permission(proto::RevokePermissionRequest {
                user_id: "x".into(),
                permission: "AUDIT".into(),
            })
            .await,
        InvalidArgument,
        "user_id",
    );

    assert_eq!(
        snapshot(&server).await,
        before,
        "refused calls must change nothing"
    );
    server.stop().await;
}

async fn authentication_and_authorization(t: TestStore) {
    let server = TestServer::start(t).await;
    let (ada, ada_key) = user_with_key(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let list = || proto::ListUsersRequest::default();

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
    let me = as_ada
        .get_user(proto::GetUserRequest {
            user: Some(UserSelector::Id(ada.id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.id, ada.id);
    let me = as_ada
        .get_user(proto::GetUserRequest {
            user: Some(UserSelector::Username("ADA@example.com".into())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.id, ada.id);
    for selector in [
        UserSelector::Id(bob.id.clone()),
        UserSelector::Username(bob.username.clone()),
        UserSelector::Username("nobody@example.com".into()),
    ] {
        assert_refused(
            as_ada
                .get_user(proto::GetUserRequest {
                    user: Some(selector),
                })
                .await,
            Code::PermissionDenied,
            "USER_ADMIN",
        );
    }
    assert_refused(
        as_ada.list_users(list()).await,
        Code::PermissionDenied,
        "USER_ADMIN",
    );
    assert_refused(
        as_ada
            .disable_user(proto::DisableUserRequest { id: bob.id.clone() })
            .await,
        Code::PermissionDenied,
        "USER_ADMIN",
    );
    assert_refused(
        server
            .audit(Authorization::bearer(&ada_key))
            .list_audit_events(proto::ListAuditEventsRequest::default())
            .await,
        Code::PermissionDenied,
        "AUDIT",
    );
    assert_refused(
        as_ada
            .create_api_key(proto::CreateApiKeyRequest {
                user_id: bob.id.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "USER_ADMIN",
    );
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
        as_ada
            .get_user(proto::GetUserRequest {
                user: Some(UserSelector::Id(ada.id.clone())),
            })
            .await,
        Code::Unauthenticated,
        "not valid",
    );
    admin
        .enable_user(proto::EnableUserRequest { id: ada.id.clone() })
        .await
        .unwrap();
    as_ada
        .get_user(proto::GetUserRequest {
            user: Some(UserSelector::Id(ada.id.clone())),
        })
        .await
        .unwrap();

    // Granting a permission takes effect on the next call.
    server
        .permissions(server.admin())
        .grant_permission(proto::GrantPermissionRequest {
            user_id: ada.id.clone(),
            permission: "USER_ADMIN".into(),
        })
        .await
        .unwrap();
    assert!(
        as_ada
            .list_users(list())
            .await
            .unwrap()
            .into_inner()
            .users
            .len()
            >= 3
    );
    server.stop().await;
}

async fn the_last_admin_cannot_lock_everyone_out(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut users = server.users(server.admin());
    let admin = users.get_user(proto::GetUserRequest::default()).await;
    // GetUser needs a selector; find the admin by username.
    assert_refused(admin, Code::InvalidArgument, "id");
    let admin = users
        .get_user(proto::GetUserRequest {
            user: Some(UserSelector::Username(
                personae::server::BOOTSTRAP_ADMIN_EMAIL.into(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_refused(
        users
            .disable_user(proto::DisableUserRequest {
                id: admin.id.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "USER_ADMIN",
    );
    assert_refused(
        users
            .delete_user(proto::DeleteUserRequest {
                id: admin.id.clone(),
                confirm: "Delete".into(),
            })
            .await,
        Code::FailedPrecondition,
        "USER_ADMIN",
    );
    assert_refused(
        server
            .permissions(server.admin())
            .revoke_permission(proto::RevokePermissionRequest {
                user_id: admin.id.clone(),
                permission: "USER_ADMIN".into(),
            })
            .await,
        Code::FailedPrecondition,
        "USER_ADMIN",
    );
    server.stop().await;
}

async fn audit_chain_reports_the_first_broken_link(t: TestStore) {
    let server = TestServer::start(t).await;
    for i in 0..4 {
        create_user(&server, &format!("user{i}@example.com")).await;
    }
    let mut audit = server.audit(server.admin());
    let verdict = audit
        .verify_audit_chain(proto::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
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
    let verdict = audit
        .verify_audit_chain(proto::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
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
    let mut users = server.users(server.admin());
    let request = |page_token: String| proto::ListUsersRequest {
        query: "pager".into(),
        page_size: 2,
        page_token,
        ..Default::default()
    };
    let mut emails = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = users
            .list_users(request(page_token))
            .await
            .unwrap()
            .into_inner();
        assert!(page.users.len() <= 2);
        emails.extend(page.users.into_iter().map(|u| u.email));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        emails,
        (0..5)
            .map(|i| format!("pager{i}@example.com"))
            .collect::<Vec<_>>()
    );

    let first = users
        .list_users(request(String::new()))
        .await
        .unwrap()
        .into_inner();
    let mut other_filter = request(first.next_page_token);
    other_filter.query = "someone".into();
    assert_refused(
        users.list_users(other_filter).await,
        Code::InvalidArgument,
        "page_token",
    );
    server.stop().await;
}

async fn unimplemented_rpcs_say_so(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut impersonation = proto::impersonation_client::ImpersonationClient::with_interceptor(
        server.channel(),
        server.admin(),
    );
    assert_refused(
        impersonation
            .list_integrations(proto::ListIntegrationsRequest::default())
            .await,
        Code::Unimplemented,
        "",
    );
    assert_refused(
        server
            .users(server.admin())
            .migrate_user(proto::MigrateUserRequest::default())
            .await,
        Code::Unimplemented,
        "",
    );
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

    let _ = server
        .users(server.admin())
        .create_user(proto::CreateUserRequest::default())
        .await;
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
    let mut grpc = tonic::client::Grpc::new(server.channel());
    for i in 0..3 {
        grpc.ready().await.unwrap();
        let path =
            http::uri::PathAndQuery::from_str(&format!("/invented.Service/Method{i}")).unwrap();
        let _ = grpc
            .unary::<(), (), _>(
                tonic::Request::new(()),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await;
    }
    let metrics = metrics_containing(
        &server,
        r#"grpc_service="unknown",grpc_method="unknown",grpc_code="UNAUTHENTICATED"} 3"#,
    )
    .await;
    assert!(!metrics.contains("invented"), "{metrics}");
    server.stop().await;
}

/// Beyond the concurrency limit calls are refused at once; on shutdown, calls in flight finish.
async fn overload_is_shed_and_shutdown_drains(t: TestStore) {
    let server = TestServer::start_with(t, 1).await;
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

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

on_both_stores!(
    seed_flow,
    bad_input_names_the_field_and_changes_nothing,
    authentication_and_authorization,
    the_last_admin_cannot_lock_everyone_out,
    audit_chain_reports_the_first_broken_link,
    listing_pages_and_tokens_bind_filters,
    unimplemented_rpcs_say_so,
    health_and_metrics_need_no_key,
    overload_is_shed_and_shutdown_drains,
);
