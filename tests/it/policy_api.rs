//! Groups, permissions, roles and settings over real gRPC, on both stores.

use std::collections::BTreeSet;

use crate::common::{
    Authorization, TestServer, TestStore,
    grpc::{
        add_member, all_pages, assert_each_refused_changing_nothing, assert_refused,
        assign_to_group, bootstrap_admin, call_empty, create_group, create_iam, create_key,
        create_role, create_user, every_rpc, grant, key_for, token,
    },
};
use personae::{
    auth::{Access, access_for},
    domain::{BUILT_IN_IAM_ID, Id},
    proto::{self, assign_role_request::Principal as AssignTo},
};
use prost_types::FieldMask;
use tonic::{Code, Status};

/// For each permission the access table uses, a caller holding only that permission reaches
/// exactly the RPCs that need it (or need nothing beyond their own user), and is refused the
/// rest; a caller without a key is refused everything.
async fn every_rpc_enforces_its_access_rule(t: TestStore) {
    let server = TestServer::start(t).await;
    let rpcs = every_rpc();
    assert!(rpcs.len() > 50, "{rpcs:?}");
    let required: BTreeSet<&str> = rpcs
        .iter()
        .filter_map(|p| match access_for(p) {
            Some(Access::Permission(p) | Access::SelfOr(p)) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "APPLICATION_ADMIN",
            "AUDIT",
            "FETCH_POLICY_INFO",
            "USER_ADMIN"
        ])
    );

    for path in &rpcs {
        assert_refused(
            call_empty(&server, path, None).await,
            Code::Unauthenticated,
            "authorization",
        );
    }

    // A user with only the default permissions, then one per required permission.
    let nobody = create_user(&server, "nobody@example.com").await;
    let mut callers = vec![(None, key_for(&server, &nobody.id).await)];
    for permission in &required {
        let user = create_user(
            &server,
            &format!("{}@example.com", permission.to_lowercase()),
        )
        .await;
        grant(&server, &user.id, permission).await;
        callers.push((Some(*permission), key_for(&server, &user.id).await));
    }
    for (held, key) in &callers {
        for path in &rpcs {
            let result = call_empty(&server, path, Some(key)).await;
            match access_for(path).unwrap() {
                Access::Permission(needed) if Some(needed) != *held => {
                    assert_refused(result, Code::PermissionDenied, needed)
                }
                _ => {
                    if let Err(status) = result {
                        assert!(
                            !matches!(
                                status.code(),
                                Code::PermissionDenied | Code::Unauthenticated
                            ),
                            "{path} with {held:?}: {status:?}"
                        );
                    }
                }
            }
        }
    }
    server.stop().await;
}

/// The RPCs open to every caller for their own user refuse other users' data without the
/// permission; the list is checked against the table so a new such RPC needs a case here.
async fn self_service_rpcs_stop_at_other_users(t: TestStore) {
    let server = TestServer::start(t).await;
    let self_service: BTreeSet<String> = every_rpc()
        .into_iter()
        .filter(|p| matches!(access_for(p), Some(Access::SelfOr(_))))
        .collect();
    let expected: BTreeSet<String> = [
        "/personae.v1.Users/GetUser",
        "/personae.v1.Users/CreateApiKey",
        "/personae.v1.Users/ListApiKeys",
        "/personae.v1.Users/RevokeApiKey",
        "/personae.v1.Permissions/GetEffectivePermissions",
        "/personae.v1.Permissions/CheckPermission",
    ]
    .map(String::from)
    .into();
    assert_eq!(self_service, expected);

    let ada = create_user(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let ada_key = key_for(&server, &ada.id).await;
    let bob_key_id = create_key(&server, &bob.id).await.api_key.unwrap().id;
    let users = server.users(Authorization::bearer(&ada_key));
    let permissions = server.permissions(Authorization::bearer(&ada_key));
    let bob_id = || bob.id.clone();
    use Code::PermissionDenied;
    #[rustfmt::skip]
    let cases = vec![
        (call!(users.get_user(proto::GetUserRequest { user: Some(proto::get_user_request::User::Id(bob_id())) })), PermissionDenied, "USER_ADMIN"),
        (call!(users.create_api_key(proto::CreateApiKeyRequest { user_id: bob_id(), ..Default::default() })), PermissionDenied, "USER_ADMIN"),
        (call!(users.list_api_keys(proto::ListApiKeysRequest { user_id: bob_id(), ..Default::default() })), PermissionDenied, "USER_ADMIN"),
        (call!(users.revoke_api_key(proto::RevokeApiKeyRequest { id: bob_key_id })), PermissionDenied, "USER_ADMIN"),
        (call!(permissions.get_effective_permissions(proto::GetEffectivePermissionsRequest { user_id: bob_id(), ..Default::default() })), PermissionDenied, "FETCH_POLICY_INFO"),
        (call!(permissions.check_permission(proto::CheckPermissionRequest { user_id: bob_id(), permission: "AUDIT".into(), ..Default::default() })), PermissionDenied, "FETCH_POLICY_INFO"),
    ];
    assert_eq!(cases.len(), expected.len(), "a case for every such RPC");
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

/// A caller who may not act on another user's key or user is refused alike (code and message)
/// for one that does not exist, so that refusals do not tell which key ids or usernames exist;
/// USER_ADMIN is told that it does not exist.
async fn refusals_do_not_tell_what_exists(t: TestStore) {
    let server = TestServer::start(t).await;
    let ada = create_user(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let ada_key = key_for(&server, &ada.id).await;
    let bob_key_id = create_key(&server, &bob.id).await.api_key.unwrap().id;
    let unknown_key_id = uuid::Uuid::now_v7().to_string();
    let revoke = |id: &str| proto::RevokeApiKeyRequest { id: id.into() };
    let by_username = |name: &str| proto::GetUserRequest {
        user: Some(proto::get_user_request::User::Username(name.into())),
    };
    let mut users = server.users(Authorization::bearer(&ada_key));
    assert_same_refusal(
        users.revoke_api_key(revoke(&bob_key_id)).await,
        users.revoke_api_key(revoke(&unknown_key_id)).await,
    );
    assert_same_refusal(
        users.get_user(by_username("bob@example.com")).await,
        users.get_user(by_username("nobody@example.com")).await,
    );

    let mut admin = server.users(server.admin());
    assert_refused(
        admin.revoke_api_key(revoke(&unknown_key_id)).await,
        Code::NotFound,
        &unknown_key_id,
    );
    assert_refused(
        admin.get_user(by_username("nobody@example.com")).await,
        Code::NotFound,
        "nobody@example.com",
    );
    let keys = admin
        .list_api_keys(proto::ListApiKeysRequest {
            user_id: bob.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(keys.len(), 1, "bob's key is not revoked: {keys:?}");
    server.stop().await;
}

/// Both refused with PERMISSION_DENIED, in the same words.
#[track_caller]
fn assert_same_refusal<T: std::fmt::Debug>(
    another_users: Result<T, Status>,
    missing: Result<T, Status>,
) {
    let refusal = |result: Result<T, Status>| {
        let status = result.expect_err("refused");
        (status.code(), status.message().to_owned())
    };
    let (another_users, missing) = (refusal(another_users), refusal(missing));
    assert_eq!(another_users.0, Code::PermissionDenied, "{another_users:?}");
    assert_eq!(missing, another_users, "a missing one, and another user's");
}

async fn groups_over_grpc(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut groups = server.groups(server.admin());
    let ada = create_user(&server, "ada@example.com").await;
    let bob = create_user(&server, "bob@example.com").await;
    let created = groups
        .clone()
        .create_group(proto::CreateGroupRequest {
            name: "Accountants".into(),
            description: "Count things".into(),
            email: "accountants@example.com".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(token(&created), server.audit_head().await.0);
    let group = created.into_inner();
    assert_eq!(group.member_count, 0);

    let ghost = uuid::Uuid::now_v7().to_string();
    let add = |ids: &[&str]| proto::AddMembersRequest {
        group_id: group.id.clone(),
        user_ids: ids.iter().map(|s| s.to_string()).collect(),
    };
    #[rustfmt::skip]
    let cases = vec![
        (call!(groups.add_members(add(&[&ada.id, &ghost]))), Code::NotFound, ghost.as_str()),
        (call!(groups.add_members(add(&[&ada.id, "nope"]))), Code::InvalidArgument, "user_ids"),
        (call!(groups.add_members(add(&[]))), Code::InvalidArgument, "user_ids"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    let added = groups
        .add_members(add(&[&ada.id, &bob.id, &ada.id]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.member_count, 2);

    let members = groups
        .list_members(proto::ListMembersRequest {
            group_id: group.id.clone(),
            query: "BOB".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(members.iter().map(|u| &u.id).collect::<Vec<_>>(), [&bob.id]);

    let update = |paths: &[&str], etag: &str, name: &str| proto::UpdateGroupRequest {
        group: Some(proto::Group {
            id: group.id.clone(),
            name: name.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        etag: etag.into(),
    };
    let manage = |iam: &str, etag: &str| proto::UpdateGroupRequest {
        group: Some(proto::Group {
            id: group.id.clone(),
            managed_by_iam_id: iam.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["managed_by_iam_id".into()],
        }),
        etag: etag.into(),
    };
    #[rustfmt::skip]
    let cases = vec![
        (call!(groups.update_group(update(&["name"], &group.etag, "Bean counters"))), Code::Aborted, "etag"),
        (call!(groups.update_group(update(&["members"], &added.etag, "x"))), Code::InvalidArgument, "update_mask"),
        (call!(groups.update_group(update(&["name"], &added.etag, ""))), Code::InvalidArgument, "group.name"),
        (call!(groups.update_group(manage("x", &added.etag))), Code::InvalidArgument, "group.managed_by_iam_id"),
        (call!(groups.update_group(manage(&BUILT_IN_IAM_ID.to_string(), &added.etag))), Code::InvalidArgument, "group.managed_by_iam_id: the built-in IAM"),
        (call!(groups.update_group(manage(&Id::new().to_string(), &added.etag))), Code::NotFound, "group.managed_by_iam_id: IAM"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    let okta = create_iam(&server, "Okta", None, Vec::new()).await;
    let managed = groups
        .update_group(manage(&okta.id, &added.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(managed.managed_by_iam_id, okta.id);
    let here_only = groups
        .update_group(manage("", &managed.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(here_only.managed_by_iam_id, "", "cleared");
    let renamed = groups
        .update_group(update(&["name", "email"], &here_only.etag, "Bean counters"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.name, "Bean counters");
    assert_eq!(
        renamed.email, "",
        "email was in the mask and empty, so it is cleared"
    );

    let with_attribute = groups
        .add_group_attribute(proto::AddGroupAttributeRequest {
            group_id: group.id.clone(),
            attribute: "region".into(),
            values: vec!["EMEA".into(), "EMEA".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_attribute.attributes["region"].values, ["EMEA"]);

    let user = server
        .users(server.admin())
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Id(ada.id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.group_ids, std::slice::from_ref(&group.id));

    groups
        .delete_group(proto::DeleteGroupRequest {
            id: group.id.clone(),
        })
        .await
        .unwrap();
    assert_refused(
        groups
            .get_group(proto::GetGroupRequest {
                id: group.id.clone(),
            })
            .await,
        Code::NotFound,
        &group.id,
    );
    server.stop().await;
}

async fn concurrent_membership_over_grpc(t: TestStore) {
    let server = TestServer::start(t).await;
    let group = create_group(&server, "Crowd").await;
    let mut users = Vec::new();
    for i in 0..24 {
        users.push(create_user(&server, &format!("u{i}@example.com")).await.id);
    }
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = server.groups(server.admin());
        let (group_id, user) = (group.id.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            client
                .add_members(proto::AddMembersRequest {
                    group_id: group_id.clone(),
                    user_ids: vec![user.clone()],
                })
                .await?;
            // Every third user leaves again.
            if i % 3 == 0 {
                client
                    .remove_member(proto::RemoveMemberRequest {
                        group_id,
                        user_id: user,
                    })
                    .await?;
            }
            Ok::<_, Status>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let final_group = server
        .groups(server.admin())
        .get_group(proto::GetGroupRequest {
            id: group.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(final_group.member_count, 16);
    let members: BTreeSet<String> = all_pages(5, |page_token| {
        let mut groups = server.groups(server.admin());
        let group_id = group.id.clone();
        async move {
            let page = groups
                .list_members(proto::ListMembersRequest {
                    group_id,
                    page_size: 5,
                    page_token,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((page.users, page.next_page_token))
        }
    })
    .await
    .into_iter()
    .map(|u| u.id)
    .collect();
    let expected: BTreeSet<String> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, u)| u.clone())
        .collect();
    assert_eq!(members, expected);
    let verdict = server.verify_audit_chain().await;
    assert!(verdict.ok, "{verdict:?}");
    server.stop().await;
}

async fn effective_permissions_and_checks(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut permissions = server.permissions(server.admin());
    let ada = create_user(&server, "ada@example.com").await;
    let ada_key = key_for(&server, &ada.id).await;
    let group = create_group(&server, "Auditors").await;
    add_member(&server, &group.id, &ada.id).await;
    let role = permissions
        .create_role(proto::CreateRoleRequest {
            name: "Auditor".into(),
            description: String::new(),
            permissions: vec!["AUDIT".into(), "AUDIT".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(role.permissions, ["AUDIT"]);
    let tenant = permissions
        .create_tenant(proto::CreateTenantRequest {
            name: "EMEA".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    permissions
        .assign_role(proto::AssignRoleRequest {
            principal: Some(AssignTo::GroupId(group.id.clone())),
            role_id: role.id.clone(),
            tenant_id: tenant.id.clone(),
        })
        .await
        .unwrap();

    let bob = create_user(&server, "bob@example.com").await;
    let as_ada = server.permissions(Authorization::bearer(&ada_key));
    let check = |permission: &str, tenant_id: &str| proto::CheckPermissionRequest {
        user_id: String::new(),
        permission: permission.into(),
        tenant_id: tenant_id.into(),
        consistency: None,
    };
    let about = |user_id: &str, request| proto::CheckPermissionRequest {
        user_id: user_id.into(),
        ..request
    };
    // Ada asks about herself, allowed without FETCH_POLICY_INFO; the admin asks about Ada.
    #[rustfmt::skip]
    let checks = [
        ("Ada, AUDIT, no tenant", &as_ada, check("AUDIT", ""), false),
        ("Ada, AUDIT, in the tenant", &as_ada, check("AUDIT", &tenant.id), true),
        ("Ada, a default permission", &as_ada, check("CREATE_PROJECT", ""), true),
        ("the admin about Ada, AUDIT, no tenant", &permissions, about(&ada.id, check("AUDIT", "")), false),
    ];
    for (what, client, request, allowed) in checks {
        let answer = client
            .clone()
            .check_permission(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.allowed, allowed, "{what}");
    }
    let effective = as_ada
        .clone()
        .get_effective_permissions(proto::GetEffectivePermissionsRequest {
            tenant_id: tenant.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let audit = effective
        .permissions
        .iter()
        .find(|p| p.permission == "AUDIT")
        .unwrap();
    assert_eq!(
        audit.sources,
        [proto::PermissionSource {
            kind: proto::PermissionSourceKind::Group as i32,
            role_id: role.id.clone(),
            group_id: group.id.clone(),
            tenant_id: tenant.id.clone(),
        }]
    );
    let stale = proto::Consistency {
        requirement: Some(proto::consistency::Requirement::AtLeastAsFresh(
            "yesterday".into(),
        )),
    };
    use Code::{InvalidArgument, PermissionDenied};
    #[rustfmt::skip]
    let cases = vec![
        (call!(as_ada.check_permission(check("NOPE", ""))), InvalidArgument, "permission"),
        // About someone else, FETCH_POLICY_INFO is needed.
        (call!(as_ada.check_permission(about(&bob.id, check("AUDIT", "")))), PermissionDenied, "FETCH_POLICY_INFO"),
        (call!(permissions.check_permission(proto::CheckPermissionRequest { consistency: Some(stale), ..check("AUDIT", "") })), InvalidArgument, "consistency.at_least_as_fresh"),
        (call!(permissions.batch_check(proto::BatchCheckRequest::default())), InvalidArgument, "items"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;

    use proto::batch_check_item::Check;
    let item = |check: Check| proto::BatchCheckItem { check: Some(check) };
    let question = |user_id: &str, permission: &str, tenant_id: &str| {
        item(Check::Permission(proto::PermissionCheck {
            user_id: user_id.into(),
            permission: permission.into(),
            tenant_id: tenant_id.into(),
        }))
    };
    // Each item is answered on its own: allowed or not, or an error naming the item.
    let cases = [
        (question(&ada.id, "AUDIT", &tenant.id), Ok(true)),
        (question(&ada.id, "AUDIT", ""), Ok(false)),
        (
            question("bad", "AUDIT", ""),
            Err((Code::InvalidArgument, "items[2].user_id")),
        ),
        (
            item(Check::Impersonation(proto::ImpersonationCheck::default())),
            Err((Code::InvalidArgument, "items[3].platform")),
        ),
    ];
    let results = permissions
        .batch_check(proto::BatchCheckRequest {
            items: cases.iter().map(|(item, _)| item.clone()).collect(),
            consistency: None,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), cases.len());
    for (i, ((_, expected), result)) in cases.iter().zip(&results).enumerate() {
        match *expected {
            Ok(allowed) => {
                assert_eq!(result.error, None, "item {i}");
                assert_eq!(result.allowed, allowed, "item {i}");
            }
            Err((code, prefix)) => {
                let error = result.error.as_ref().expect("an error");
                assert_eq!(error.code, code as i32, "item {i}: {error:?}");
                assert!(error.message.starts_with(prefix), "item {i}: {error:?}");
                assert!(!result.allowed, "item {i}");
            }
        }
    }
    server.stop().await;
}

async fn settings_and_exclusivity_over_grpc(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut iam = proto::iam_config_client::IamConfigClient::with_interceptor(
        server.channel(),
        server.admin(),
    );
    let settings = iam
        .get_settings(proto::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!settings.admins_and_governors_mutually_exclusive);
    let exclusive = |etag: &str| proto::UpdateSettingsRequest {
        settings: Some(proto::Settings {
            admins_and_governors_mutually_exclusive: true,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["admins_and_governors_mutually_exclusive".into()],
        }),
        etag: etag.into(),
    };
    let unknown_default = proto::UpdateSettingsRequest {
        update_mask: Some(FieldMask {
            paths: vec!["default_permissions".into()],
        }),
        settings: Some(proto::Settings {
            default_permissions: vec!["NOT_REAL".into()],
            ..Default::default()
        }),
        etag: settings.etag.clone(),
    };
    use Code::{FailedPrecondition, InvalidArgument};
    #[rustfmt::skip]
    let cases = vec![
        // The bootstrap admin holds every built-in permission, governance included.
        (call!(iam.update_settings(exclusive(&settings.etag))), FailedPrecondition, personae::bootstrap::BOOTSTRAP_ADMIN_EMAIL),
        (call!(iam.update_settings(exclusive(""))), InvalidArgument, "etag"),
        (call!(iam.update_settings(unknown_default)), InvalidArgument, "settings.default_permissions"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    let admin = bootstrap_admin(&server).await;
    // A governor who may grant GOVERNANCE, which the admin gives up.
    let governor = create_user(&server, "governor@example.com").await;
    for permission in ["GOVERNANCE", "USER_ADMIN"] {
        grant(&server, &governor.id, permission).await;
    }
    let as_governor = Authorization::bearer(&key_for(&server, &governor.id).await);
    server
        .permissions(server.admin())
        .revoke_permission(proto::RevokePermissionRequest {
            user_id: admin.id.clone(),
            permission: "GOVERNANCE".into(),
        })
        .await
        .unwrap();
    let on = iam
        .update_settings(exclusive(&settings.etag))
        .await
        .unwrap()
        .into_inner();
    assert!(on.admins_and_governors_mutually_exclusive);
    // The governor may hand out GOVERNANCE, but not to an application admin.
    assert_refused(
        server
            .permissions(as_governor)
            .assign_role(proto::AssignRoleRequest {
                principal: Some(AssignTo::UserId(admin.id)),
                role_id: "00000000-0000-7000-8000-000000000102".into(),
                tenant_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
        "APPLICATION_ADMIN and GOVERNANCE",
    );
    server.stop().await;
}

async fn bad_policy_input_changes_nothing(t: TestStore) {
    let server = TestServer::start(t).await;
    let permissions = server.permissions(server.admin());
    let groups = server.groups(server.admin());
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let unknown = unknown_id.as_str();
    let long = "x".repeat(257);
    let governor = "00000000-0000-7000-8000-000000000102";
    let bad_token = || "not-a-token".to_string();

    let new_permission = |name: &str| proto::CreatePermissionRequest {
        name: name.into(),
        description: String::new(),
    };
    let delete_permission = |name: &str| proto::DeletePermissionRequest { name: name.into() };
    let new_role = |name: &str, permissions: &[&str]| proto::CreateRoleRequest {
        name: name.into(),
        description: String::new(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    };
    let assign =
        |principal: Option<AssignTo>, role_id: &str, tenant_id: &str| proto::AssignRoleRequest {
            principal,
            role_id: role_id.into(),
            tenant_id: tenant_id.into(),
        };
    let user = |id: &str| Some(AssignTo::UserId(id.into()));
    let update_built_in = proto::UpdateRoleRequest {
        role: Some(proto::Role {
            id: governor.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["built_in".into()],
        }),
        etag: "\"1\"".into(),
    };
    let unassign = proto::UnassignRoleRequest {
        principal: Some(proto::unassign_role_request::Principal::UserId(
            unknown.into(),
        )),
        role_id: governor.into(),
        tenant_id: "t".into(),
    };

    use Code::{AlreadyExists, FailedPrecondition, InvalidArgument, NotFound};
    #[rustfmt::skip]
    let cases = vec![
        // Permissions
        (call!(permissions.create_permission(new_permission("lower"))), InvalidArgument, "name"),
        (call!(permissions.create_permission(new_permission("AUDIT"))), AlreadyExists, "AUDIT"),
        (call!(permissions.delete_permission(delete_permission("AUDIT"))), FailedPrecondition, "built-in"),
        (call!(permissions.delete_permission(delete_permission("GHOST"))), NotFound, "GHOST"),
        // Roles
        (call!(permissions.create_role(new_role("", &[]))), InvalidArgument, "name"),
        (call!(permissions.create_role(new_role(&long, &[]))), InvalidArgument, "name"),
        (call!(permissions.create_role(new_role("R", &["bad name"]))), InvalidArgument, "permissions"),
        (call!(permissions.create_role(new_role("R", &["GHOST"]))), InvalidArgument, "permissions"),
        (call!(permissions.create_role(new_role("governor", &[]))), AlreadyExists, "name"),
        (call!(permissions.delete_role(proto::DeleteRoleRequest { id: unknown.into() })), NotFound, unknown),
        // Role assignments
        (call!(permissions.assign_role(assign(None, governor, ""))), InvalidArgument, "user_id"),
        (call!(permissions.assign_role(assign(user(unknown), governor, ""))), NotFound, "user_id"),
        (call!(permissions.assign_role(assign(Some(AssignTo::GroupId("g".into())), governor, ""))), InvalidArgument, "group_id"),
        (call!(permissions.assign_role(assign(user(unknown), "r", ""))), InvalidArgument, "role_id"),
        // Tenants
        (call!(permissions.create_tenant(proto::CreateTenantRequest { name: " ".into(), description: String::new() })), InvalidArgument, "name"),
        // Groups
        (call!(groups.create_group(proto::CreateGroupRequest { name: "G".into(), description: String::new(), email: "not-an-email".into(), ..Default::default() })), InvalidArgument, "email"),
        (call!(groups.create_group(proto::CreateGroupRequest { name: "G".into(), managed_by_iam_id: BUILT_IN_IAM_ID.to_string(), ..Default::default() })), InvalidArgument, "managed_by_iam_id: the built-in IAM"),
        (call!(groups.create_group(proto::CreateGroupRequest { name: "G".into(), managed_by_iam_id: Id::new().to_string(), ..Default::default() })), NotFound, "managed_by_iam_id: IAM"),
        (call!(groups.list_groups(proto::ListGroupsRequest { page_size: -5, ..Default::default() })), InvalidArgument, "page_size"),
        (call!(groups.remove_member(proto::RemoveMemberRequest { group_id: unknown.into(), user_id: unknown.into() })), NotFound, unknown),
        // Every other new RPC refuses a malformed id, naming the field.
        (call!(groups.get_group(proto::GetGroupRequest { id: "x".into() })), InvalidArgument, "id"),
        (call!(groups.delete_group(proto::DeleteGroupRequest { id: "x".into() })), InvalidArgument, "id"),
        (call!(groups.list_members(proto::ListMembersRequest { group_id: "x".into(), ..Default::default() })), InvalidArgument, "group_id"),
        (call!(groups.add_group_attribute(proto::AddGroupAttributeRequest { group_id: unknown.into(), attribute: "has space".into(), values: vec!["v".into()] })), InvalidArgument, "attribute"),
        (call!(groups.remove_group_attribute_value(proto::RemoveGroupAttributeValueRequest { group_id: unknown.into(), attribute: "region".into(), value: String::new() })), InvalidArgument, "value"),
        (call!(permissions.update_role(update_built_in)), InvalidArgument, "update_mask"),
        (call!(permissions.unassign_role(unassign)), InvalidArgument, "tenant_id"),
        (call!(permissions.list_role_assignments(proto::ListRoleAssignmentsRequest { role_id: "r".into(), ..Default::default() })), InvalidArgument, "role_id"),
        (call!(permissions.delete_tenant(proto::DeleteTenantRequest { id: unknown.into() })), NotFound, unknown),
        (call!(permissions.list_tenants(proto::ListTenantsRequest { page_token: bad_token(), ..Default::default() })), InvalidArgument, "page_token"),
        (call!(permissions.list_permissions(proto::ListPermissionsRequest { page_token: bad_token(), ..Default::default() })), InvalidArgument, "page_token"),
        (call!(permissions.get_effective_permissions(proto::GetEffectivePermissionsRequest { user_id: "u".into(), ..Default::default() })), InvalidArgument, "user_id"),
        (call!(permissions.get_effective_permissions(proto::GetEffectivePermissionsRequest { tenant_id: unknown.into(), ..Default::default() })), NotFound, "tenant_id"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

/// A USER_ADMIN cannot become anything: it grants, assigns through a role, puts in a role and
/// mints keys only for permissions it holds, and cannot manage a user holding an admin
/// permission it lacks. What it holds it still hands out.
async fn a_user_admin_gives_only_what_it_holds(t: TestStore) {
    let server = TestServer::start(t).await;
    let operator = create_user(&server, "operator@example.com").await;
    grant(&server, &operator.id, "USER_ADMIN").await;
    let as_operator = Authorization::bearer(&key_for(&server, &operator.id).await);
    let admin = bootstrap_admin(&server).await;
    let ada = create_user(&server, "ada@example.com").await;
    // Set up by the admin: an auditors' group and a role of the operator's own.
    let auditor = create_role(&server, "Auditor", &["AUDIT"]).await;
    let auditors = create_group(&server, "Auditors").await;
    assign_to_group(&server, &auditor.id, &auditors.id).await;

    let permissions = server.permissions(as_operator.clone());
    let users = server.users(as_operator.clone());
    let groups = server.groups(as_operator.clone());
    let own = permissions
        .clone()
        .create_role(proto::CreateRoleRequest {
            name: "Operators".into(),
            description: String::new(),
            permissions: vec!["USER_ADMIN".into()],
        })
        .await
        .expect("a role of what the operator holds")
        .into_inner();
    let mut with_audit = own.clone();
    with_audit.permissions.push("AUDIT".into());
    let grant_to = |user: &str, permission: &str| proto::GrantPermissionRequest {
        user_id: user.into(),
        permission: permission.into(),
    };
    let assign = |user: &str, role: &str| proto::AssignRoleRequest {
        principal: Some(AssignTo::UserId(user.into())),
        role_id: role.into(),
        tenant_id: String::new(),
    };
    let application_admin_role = "00000000-0000-7000-8000-000000000101";
    use Code::PermissionDenied;
    #[rustfmt::skip]
    let cases = vec![
        (call!(permissions.grant_permission(grant_to(&operator.id, "AUDIT"))), PermissionDenied, "hands out AUDIT"),
        (call!(permissions.grant_permission(grant_to(&ada.id, "APPLICATION_ADMIN"))), PermissionDenied, "hands out APPLICATION_ADMIN"),
        (call!(permissions.assign_role(assign(&operator.id, application_admin_role))), PermissionDenied, "hands out APPLICATION_ADMIN"),
        (call!(permissions.assign_role(assign(&operator.id, &auditor.id))), PermissionDenied, "hands out AUDIT"),
        (call!(permissions.create_role(proto::CreateRoleRequest { name: "Mine".into(), description: String::new(), permissions: vec!["AUDIT".into()] })), PermissionDenied, "hands out AUDIT"),
        (call!(permissions.update_role(proto::UpdateRoleRequest { role: Some(with_audit.clone()), update_mask: Some(FieldMask { paths: vec!["permissions".into()] }), etag: String::new() })), PermissionDenied, "hands out AUDIT"),
        (call!(groups.add_members(proto::AddMembersRequest { group_id: auditors.id.clone(), user_ids: vec![operator.id.clone()] })), PermissionDenied, "hands out AUDIT"),
        (call!(users.create_api_key(proto::CreateApiKeyRequest { user_id: admin.id.clone(), ..Default::default() })), PermissionDenied, "would carry"),
        (call!(users.update_user(proto::UpdateUserRequest { user: Some(proto::User { email: "mine@example.com".into(), ..admin.clone() }), update_mask: Some(FieldMask { paths: vec!["email".into()] }), etag: String::new() })), PermissionDenied, "which the caller does not"),
        (call!(users.set_external_username(proto::SetExternalUsernameRequest { user_id: admin.id.clone(), platform: proto::Platform::Trino as i32, username: "operator_t".into(), ..Default::default() })), PermissionDenied, "which the caller does not"),
        (call!(users.delete_user(proto::DeleteUserRequest { id: admin.id.clone(), confirm: "Delete".into() })), PermissionDenied, "which the caller does not"),
        (call!(permissions.unassign_role(proto::UnassignRoleRequest { principal: Some(proto::unassign_role_request::Principal::GroupId(auditors.id.clone())), role_id: auditor.id.clone(), tenant_id: String::new() })), PermissionDenied, "takes away AUDIT"),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    assert_refused(
        server
            .audit(as_operator.clone())
            .list_audit_events(proto::ListAuditEventsRequest::default())
            .await,
        Code::PermissionDenied,
        "AUDIT",
    );

    // What it holds, it may still hand out and manage; and it may disable anyone.
    permissions
        .clone()
        .grant_permission(grant_to(&ada.id, "USER_ADMIN"))
        .await
        .expect("USER_ADMIN is the operator's to give");
    permissions
        .clone()
        .assign_role(assign(&ada.id, &own.id))
        .await
        .unwrap();
    users
        .clone()
        .create_api_key(proto::CreateApiKeyRequest {
            user_id: ada.id.clone(),
            ..Default::default()
        })
        .await
        .expect("a key for a user holding nothing the operator lacks");
    users
        .clone()
        .disable_user(proto::DisableUserRequest {
            id: admin.id.clone(),
        })
        .await
        .expect("disabling protects: anyone with USER_ADMIN may");
    assert_refused(
        users
            .clone()
            .enable_user(proto::EnableUserRequest {
                id: admin.id.clone(),
            })
            .await,
        Code::PermissionDenied,
        "which the caller does not",
    );
    server.stop().await;
}

on_both_stores!(
    a_user_admin_gives_only_what_it_holds,
    every_rpc_enforces_its_access_rule,
    self_service_rpcs_stop_at_other_users,
    refusals_do_not_tell_what_exists,
    groups_over_grpc,
    concurrent_membership_over_grpc,
    effective_permissions_and_checks,
    settings_and_exclusivity_over_grpc,
    bad_policy_input_changes_nothing,
);
