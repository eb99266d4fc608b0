//! The Store conformance suite for groups, permissions, roles, tenants and settings: the same
//! cases on every backend.

use std::collections::BTreeSet;

use crate::common::{
    TestStore,
    store::{
        all_pages, assert_each_precondition_fails, assert_precondition, assign_role, attempt,
        create_group, create_role, create_user, head, new_group, page, record,
    },
    values::*,
};
use personae::{
    domain::{
        Id, Version, api_key,
        group::{Group, GroupChanges},
        page::PageRequest,
        permission::{APPLICATION_ADMIN, AUDIT, CREATE_PROJECT, GOVERNANCE, USER_ADMIN},
        policy::Source,
        role::{AssignmentFilter, AssignmentKey, Grantee, NewRole, RoleChanges, SettingsChanges},
        user::Email,
    },
    error::Error,
    store::{NewApiKey, Store, UserKey},
};

async fn holds(store: &dyn Store, user: Id, tenant: Option<Id>) -> BTreeSet<String> {
    store
        .effective_permissions(user, tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.permission)
        .collect()
}

async fn groups_have_unique_names_and_etags(t: TestStore) {
    let store = t.store.as_ref();
    let id = create_group(store, "Accountants").await;
    let err = store
        .create_group(
            Id::new(),
            new_group("ACCOUNTANTS"),
            record("CreateGroup", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists(ref m) if m.starts_with("name:")),
        "{err:?}"
    );
    create_group(store, "Auditors").await;

    let found = store.list_groups(Some("count"), &page(10)).await.unwrap();
    assert_eq!(found.iter().map(|g| g.id).collect::<Vec<_>>(), [id]);
    let mut all = store.list_groups(None, &page(1)).await.unwrap();
    assert_eq!(all.len(), 2, "one page plus the probe for the next");
    let token = page(1).finish(&mut all, |g| g.id.to_string());
    let next = store
        .list_groups(None, &PageRequest::parse(1, &token, 50, "").unwrap())
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_ne!(next[0].id, all[0].id);
    let paged = all_pages(
        1,
        |g: &Group| g.id.to_string(),
        async |request| store.list_groups(None, request).await,
    )
    .await;
    assert_eq!(
        paged.iter().map(|g| g.id).collect::<Vec<_>>(),
        [all[0].id, next[0].id]
    );

    let changes = || GroupChanges {
        description: Some(desc("Counts things")),
        email: Some(Some(Email::parse("email", "acc@example.com").unwrap())),
        ..Default::default()
    };
    let updated = store
        .update_group(id, Version(1), changes(), record("UpdateGroup", "x"))
        .await
        .unwrap()
        .value;
    assert_eq!(updated.description, "Counts things");
    assert_eq!(updated.email.as_deref(), Some("acc@example.com"));
    assert_eq!(updated.version, Version(2));
    let stale = store
        .update_group(id, Version(1), changes(), record("UpdateGroup", "x"))
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Aborted(_)), "{stale:?}");
    let rename = GroupChanges {
        name: Some(named("auditors")),
        ..Default::default()
    };
    let taken = store
        .update_group(id, Version(2), rename, record("UpdateGroup", "x"))
        .await
        .unwrap_err();
    assert!(matches!(taken, Error::AlreadyExists(_)), "{taken:?}");
    assert!(matches!(
        store.get_group(Id::new()).await,
        Err(Error::NotFound(_))
    ));
}

async fn adding_members_is_all_or_nothing(t: TestStore) {
    let store = t.store.as_ref();
    let g = create_group(store, "Accountants").await;
    let (ada, bob) = (
        create_user(store, "ada@example.com").await,
        create_user(store, "bob@example.com").await,
    );
    let before = head(store).await;
    let ghost = Id::new();
    let err = store
        .add_members(g, &[ada, ghost, bob], record("AddMembers", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref m) if m.contains(&ghost.to_string())),
        "{err:?}"
    );
    assert_eq!(store.get_group(g).await.unwrap().member_count, 0);
    assert_eq!(head(store).await, before);

    let added = store
        .add_members(g, &[ada, bob], record("AddMembers", "x"))
        .await
        .unwrap()
        .value;
    assert_eq!(added.member_count, 2);
    let again = store
        .add_members(g, &[ada], record("AddMembers", "x"))
        .await
        .unwrap()
        .value;
    assert_eq!(
        again.member_count, 2,
        "adding an existing member is a no-op"
    );
    let ada_user = store.get_user(&UserKey::Id(ada)).await.unwrap();
    assert_eq!(ada_user.group_ids, [g]);

    let members = store.list_members(g, Some("bob"), &page(10)).await.unwrap();
    assert_eq!(members.iter().map(|u| u.id).collect::<Vec<_>>(), [bob]);
    let removed = store
        .remove_member(g, ada, record("RemoveMember", "x"))
        .await
        .unwrap()
        .value;
    assert_eq!(removed.member_count, 1);
    let err = store
        .remove_member(g, ada, record("RemoveMember", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref m) if m.starts_with("user_id:")),
        "{err:?}"
    );
    assert!(matches!(
        store.list_members(Id::new(), None, &page(10)).await,
        Err(Error::NotFound(_))
    ));
}

async fn deleting_a_group_takes_its_memberships_and_roles(t: TestStore) {
    let store = t.store.as_ref();
    let g = create_group(store, "Auditors").await;
    let ada = create_user(store, "ada@example.com").await;
    store
        .add_members(g, &[ada], record("AddMembers", "x"))
        .await
        .unwrap();
    let auditor = create_role(store, "Auditor", &[AUDIT]).await;
    assign_role(store, Grantee::Group(g), auditor, None).await;
    assert!(holds(store, ada, None).await.contains(AUDIT));
    store
        .add_group_attribute(
            g,
            &attr("region"),
            &["EMEA".into()],
            record("AddGroupAttribute", "x"),
        )
        .await
        .unwrap();

    store
        .delete_group(g, record("DeleteGroup", "x"))
        .await
        .unwrap();
    assert!(!holds(store, ada, None).await.contains(AUDIT));
    assert!(
        store
            .get_user(&UserKey::Id(ada))
            .await
            .unwrap()
            .group_ids
            .is_empty()
    );
    let filter = AssignmentFilter {
        role_id: Some(auditor),
        ..Default::default()
    };
    assert!(
        store
            .list_role_assignments(&filter, &page(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_group(g, record("DeleteGroup", "x")).await,
        Err(Error::NotFound(_))
    ));
}

async fn group_attributes_are_sets(t: TestStore) {
    let store = t.store.as_ref();
    let g = create_group(store, "Sales").await;
    store
        .add_group_attribute(
            g,
            &attr("region"),
            &["EMEA".into(), "APAC".into()],
            record("AddGroupAttribute", "x"),
        )
        .await
        .unwrap();
    let again = store
        .add_group_attribute(
            g,
            &attr("region"),
            &["EMEA".into()],
            record("AddGroupAttribute", "x"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(again.attributes["region"], ["APAC", "EMEA"]);
    let removed = store
        .remove_group_attribute_value(
            g,
            &attr("region"),
            "EMEA",
            record("RemoveGroupAttributeValue", "x"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(removed.attributes["region"], ["APAC"]);
    let err = store
        .remove_group_attribute_value(
            g,
            &attr("region"),
            "EMEA",
            record("RemoveGroupAttributeValue", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

async fn concurrent_membership_changes_add_up(t: TestStore) {
    let store = t.store.clone();
    let g = create_group(&*store, "Crowd").await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(create_user(&*store, &format!("u{i}@example.com")).await);
    }
    // Everyone is added, from many tasks at once, then the even ones are removed at once.
    let adds: Vec<_> = users
        .chunks(2)
        .map(|pair| {
            let (store, pair) = (store.clone(), pair.to_vec());
            tokio::spawn(async move {
                store
                    .add_members(g, &pair, record("AddMembers", "x"))
                    .await
                    .map(|_| ())
            })
        })
        .chain(users.iter().map(|&u| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .add_members(g, &[u], record("AddMembers", "x"))
                    .await
                    .map(|_| ())
            })
        }))
        .collect();
    for task in adds {
        task.await.unwrap().unwrap();
    }
    let removes: Vec<_> = users
        .iter()
        .step_by(2)
        .map(|&u| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .remove_member(g, u, record("RemoveMember", "x"))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for task in removes {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.get_group(g).await.unwrap().member_count, 10);
    let members: BTreeSet<Id> = store
        .list_members(g, None, &page(100))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    let expected: BTreeSet<Id> = users.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(members, expected);
    for (i, u) in users.iter().enumerate() {
        let groups = store.get_user(&UserKey::Id(*u)).await.unwrap().group_ids;
        assert_eq!(groups.len(), i % 2, "user {i}");
    }
}

async fn custom_permissions_come_and_go_with_their_grants(t: TestStore) {
    let store = t.store.as_ref();
    let all = store.list_permissions(&page(100)).await.unwrap();
    assert_eq!(all.len(), 11);
    assert!(all.iter().all(|p| p.built_in && !p.description.is_empty()));

    let created = store
        .create_permission(
            &perm("EXPORT_DATA"),
            &desc("Export data"),
            record("CreatePermission", "x"),
        )
        .await
        .unwrap()
        .value;
    assert!(!created.built_in);
    for name in ["EXPORT_DATA", USER_ADMIN] {
        let err = store
            .create_permission(&perm(name), &desc(""), record("CreatePermission", "x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::AlreadyExists(ref m) if m.contains(name)),
            "{err:?}"
        );
    }
    let ada = create_user(store, "ada@example.com").await;
    store
        .grant_permission(ada, &perm("EXPORT_DATA"), record("GrantPermission", "x"))
        .await
        .unwrap();
    let exporter = create_role(store, "Exporter", &["EXPORT_DATA", AUDIT]).await;
    let settings = store.get_settings().await.unwrap();
    store
        .update_settings(
            settings.version,
            SettingsChanges {
                default_permissions: Some(perms(&["EXPORT_DATA", CREATE_PROJECT])),
                ..Default::default()
            },
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap();

    assert_precondition(
        store
            .delete_permission(&perm(USER_ADMIN), record("DeletePermission", "x"))
            .await
            .unwrap_err(),
        "built-in",
    );
    store
        .delete_permission(&perm("EXPORT_DATA"), record("DeletePermission", "x"))
        .await
        .unwrap();
    assert!(!holds(store, ada, None).await.contains("EXPORT_DATA"));
    assert_eq!(store.get_role(exporter).await.unwrap().permissions, [AUDIT]);
    assert_eq!(
        store.get_settings().await.unwrap().default_permissions,
        [CREATE_PROJECT]
    );
    assert!(matches!(
        store
            .delete_permission(&perm("EXPORT_DATA"), record("DeletePermission", "x"))
            .await,
        Err(Error::NotFound(_))
    ));
}

async fn roles_bundle_permissions(t: TestStore) {
    let store = t.store.as_ref();
    let roles = store.list_roles(&page(100)).await.unwrap();
    let built_in: Vec<(&str, &[String])> = roles
        .iter()
        .filter(|r| r.built_in)
        .map(|r| (r.name.as_str(), r.permissions.as_slice()))
        .collect();
    assert_eq!(
        built_in,
        [
            ("Application admin", &[APPLICATION_ADMIN.to_string()][..]),
            ("Governor", &[GOVERNANCE.to_string()][..]),
            ("User admin", &[USER_ADMIN.to_string()][..]),
            ("Data owner", &["CREATE_DATA_SOURCE".to_string()][..]),
            ("Project manager", &["PROJECT_MANAGEMENT".to_string()][..]),
            ("Data user", &[][..]),
        ]
    );
    let governor = roles.iter().find(|r| r.name == "Governor").unwrap();
    for err in [
        store
            .update_role(
                governor.id,
                governor.version,
                RoleChanges {
                    description: Some(desc("x")),
                    ..Default::default()
                },
                record("UpdateRole", "x"),
            )
            .await
            .unwrap_err(),
        store
            .delete_role(governor.id, record("DeleteRole", "x"))
            .await
            .unwrap_err(),
    ] {
        assert_precondition(err, "built in");
    }

    let technician = create_role(store, "Technician", &[CREATE_PROJECT]).await;
    let err = store
        .create_role(
            Id::new(),
            NewRole {
                name: named("technician"),
                description: Default::default(),
                permissions: perms(&[]),
            },
            record("CreateRole", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(_)), "{err:?}");
    let err = store
        .create_role(
            Id::new(),
            NewRole {
                name: named("Ghost"),
                description: Default::default(),
                permissions: perms(&["NO_SUCH"]),
            },
            record("CreateRole", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { ref field, .. } if field == "permissions"),
        "{err:?}"
    );

    let updated = store
        .update_role(
            technician,
            Version(1),
            RoleChanges {
                permissions: Some(perms(&[AUDIT, CREATE_PROJECT])),
                ..Default::default()
            },
            record("UpdateRole", "x"),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(updated.permissions, [AUDIT, CREATE_PROJECT]);
    assert_eq!(updated.version, Version(2));
    let stale = store
        .update_role(
            technician,
            Version(1),
            RoleChanges::default(),
            record("UpdateRole", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Aborted(_)), "{stale:?}");

    let ada = create_user(store, "ada@example.com").await;
    assign_role(store, Grantee::User(ada), technician, None).await;
    assert!(holds(store, ada, None).await.contains(AUDIT));
    store
        .delete_role(technician, record("DeleteRole", "x"))
        .await
        .unwrap();
    assert!(!holds(store, ada, None).await.contains(AUDIT));
}

async fn effective_permissions_follow_roles_groups_and_tenants(t: TestStore) {
    let store = t.store.as_ref();
    let ada = create_user(store, "ada@example.com").await;
    let g = create_group(store, "Auditors").await;
    store
        .add_members(g, &[ada], record("AddMembers", "x"))
        .await
        .unwrap();
    let auditor = create_role(store, "Auditor", &[AUDIT]).await;
    let technician = create_role(store, "Technician", &["CREATE_FILTER"]).await;
    let read_only = create_role(store, "Read-only", &["FETCH_POLICY_INFO"]).await;
    let emea = Id::new();
    store
        .create_tenant(
            emea,
            crate::common::values::tenant("EMEA"),
            record("CreateTenant", "x"),
        )
        .await
        .unwrap();
    let apac = Id::new();
    store
        .create_tenant(
            apac,
            crate::common::values::tenant("APAC"),
            record("CreateTenant", "x"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_tenant(
                Id::new(),
                crate::common::values::tenant("emea"),
                record("CreateTenant", "x")
            )
            .await,
        Err(Error::AlreadyExists(_))
    ));

    assign_role(store, Grantee::Group(g), auditor, None).await;
    assign_role(store, Grantee::User(ada), auditor, None).await;
    assign_role(store, Grantee::User(ada), technician, Some(emea)).await;
    assign_role(store, Grantee::Group(g), read_only, Some(apac)).await;
    // Assigning again returns the same assignment.
    let key = AssignmentKey {
        grantee: Grantee::User(ada),
        role_id: technician,
        tenant_id: Some(emea),
    };
    let first = store
        .assign_role(Id::new(), key, record("AssignRole", "x"))
        .await
        .unwrap()
        .value;
    let second = store
        .assign_role(Id::new(), key, record("AssignRole", "x"))
        .await
        .unwrap()
        .value;
    assert_eq!(first.id, second.id);

    let grants = store.effective_permissions(ada, None).await.unwrap();
    let audit_sources: BTreeSet<Source> = grants
        .iter()
        .filter(|g| g.permission == AUDIT)
        .map(|g| g.source)
        .collect();
    assert_eq!(
        audit_sources,
        BTreeSet::from([
            Source::Role {
                role_id: auditor,
                tenant_id: None
            },
            Source::Group {
                group_id: g,
                role_id: auditor,
                tenant_id: None
            },
        ])
    );
    // The defaults are direct grants; AUDIT comes through roles everywhere, and each tenant
    // adds what is assigned in it.
    let everywhere = [CREATE_PROJECT, "CREATE_DATA_SOURCE_IN_PROJECT", AUDIT];
    for (what, tenant, also) in [
        ("no tenant", None, None),
        ("EMEA", Some(emea), Some("CREATE_FILTER")),
        ("APAC", Some(apac), Some("FETCH_POLICY_INFO")),
    ] {
        let expected: BTreeSet<String> = everywhere
            .into_iter()
            .chain(also)
            .map(String::from)
            .collect();
        assert_eq!(holds(store, ada, tenant).await, expected, "{what}");
    }
    assert!(matches!(
        store.effective_permissions(ada, Some(Id::new())).await,
        Err(Error::NotFound(_))
    ));

    store
        .set_user_disabled(ada, true, record("DisableUser", "x"))
        .await
        .unwrap();
    assert!(
        store
            .effective_permissions(ada, Some(emea))
            .await
            .unwrap()
            .is_empty()
    );
    store
        .set_user_disabled(ada, false, record("EnableUser", "x"))
        .await
        .unwrap();

    store
        .unassign_role(key, record("UnassignRole", "x"))
        .await
        .unwrap();
    assert!(
        !holds(store, ada, Some(emea))
            .await
            .contains("CREATE_FILTER")
    );
    assert!(matches!(
        store.unassign_role(key, record("UnassignRole", "x")).await,
        Err(Error::NotFound(_))
    ));
    store
        .delete_tenant(apac, record("DeleteTenant", "x"))
        .await
        .unwrap();
    let filter = AssignmentFilter {
        grantee: Some(Grantee::Group(g)),
        ..Default::default()
    };
    let left = store
        .list_role_assignments(&filter, &page(10))
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the APAC assignment went with its tenant");
    assert_eq!(left[0].key.role_id, auditor);
}

async fn roles_and_groups_grant_authentication_permissions(t: TestStore) {
    let store = t.store.as_ref();
    let ada = create_user(store, "ada@example.com").await;
    let g = create_group(store, "Admins").await;
    store
        .add_members(g, &[ada], record("AddMembers", "x"))
        .await
        .unwrap();
    let roles = store.list_roles(&page(100)).await.unwrap();
    let user_admin = roles.iter().find(|r| r.name == "User admin").unwrap().id;
    assign_role(store, Grantee::Group(g), user_admin, None).await;
    let key = api_key::generate();
    store
        .create_api_key(
            NewApiKey {
                id: key.key_id,
                user_id: ada,
                display_name: String::new(),
                secret_hash: key.secret_hash,
                expire_time: None,
            },
            100,
            record("CreateApiKey", "x"),
        )
        .await
        .unwrap();
    let credential = store.credential(key.key_id).await.unwrap().unwrap();
    assert!(credential.permissions.contains(&USER_ADMIN.to_string()));
    assert!(credential.permissions.contains(&CREATE_PROJECT.to_string()));
}

async fn the_last_user_admin_holds_through_every_path(t: TestStore) {
    let store = t.store.as_ref();
    let ada = create_user(store, "ada@example.com").await;
    let g = create_group(store, "Admins").await;
    let admins = create_role(store, "Admins", &[USER_ADMIN, AUDIT]).await;
    let before = head(store).await;

    // Through a role assigned to a group Ada is in: the only path to USER_ADMIN.
    store
        .add_members(g, &[ada], record("AddMembers", "x"))
        .await
        .unwrap();
    assign_role(store, Grantee::Group(g), admins, None).await;
    let checkpoint = head(store).await;
    assert_eq!(checkpoint, before + 2);
    let group_key = AssignmentKey {
        grantee: Grantee::Group(g),
        role_id: admins,
        tenant_id: None,
    };
    let demoted = RoleChanges {
        permissions: Some(perms(&[AUDIT])),
        ..Default::default()
    };
    let last = "last enabled user with USER_ADMIN";
    #[rustfmt::skip]
    let cases = vec![
        (attempt(store.remove_member(g, ada, record("RemoveMember", "x"))), last),
        (attempt(store.delete_group(g, record("DeleteGroup", "x"))), last),
        (attempt(store.delete_role(admins, record("DeleteRole", "x"))), last),
        (attempt(store.unassign_role(group_key, record("UnassignRole", "x"))), last),
        (attempt(store.update_role(admins, Version(1), demoted, record("UpdateRole", "x"))), last),
        (attempt(store.set_user_disabled(ada, true, record("DisableUser", "x"))), last),
        (attempt(store.delete_user(ada, record("DeleteUser", "x"))), last),
    ];
    assert_each_precondition_fails(store, cases).await;
    assert_eq!(
        head(store).await,
        checkpoint,
        "refused changes leave no trace"
    );
    assert!(holds(store, ada, None).await.contains(USER_ADMIN));

    // A tenant-scoped USER_ADMIN does not count as an administrator of users.
    let bob = create_user(store, "bob@example.com").await;
    let tenant = Id::new();
    store
        .create_tenant(
            tenant,
            crate::common::values::tenant("EMEA"),
            record("CreateTenant", "x"),
        )
        .await
        .unwrap();
    assign_role(store, Grantee::User(bob), admins, Some(tenant)).await;
    assert_precondition(
        store
            .remove_member(g, ada, record("RemoveMember", "x"))
            .await
            .unwrap_err(),
        "USER_ADMIN",
    );
    // A second global one does.
    assign_role(store, Grantee::User(bob), admins, None).await;
    store
        .remove_member(g, ada, record("RemoveMember", "x"))
        .await
        .unwrap();
    assert!(!holds(store, ada, None).await.contains(USER_ADMIN));
}

async fn admins_and_governors_can_be_made_exclusive(t: TestStore) {
    let store = t.store.as_ref();
    let ada = create_user(store, "ada@example.com").await;
    let bob = create_user(store, "bob@example.com").await;
    store
        .grant_permission(
            ada,
            &perm(APPLICATION_ADMIN),
            record("GrantPermission", "x"),
        )
        .await
        .unwrap();
    store
        .grant_permission(ada, &perm(GOVERNANCE), record("GrantPermission", "x"))
        .await
        .unwrap();
    store
        .grant_permission(bob, &perm(GOVERNANCE), record("GrantPermission", "x"))
        .await
        .unwrap();

    let exclusive = |on: bool| SettingsChanges {
        admins_and_governors_mutually_exclusive: Some(on),
        ..Default::default()
    };
    let settings = store.get_settings().await.unwrap();
    assert!(!settings.admins_and_governors_mutually_exclusive);
    let err = store
        .update_settings(
            settings.version,
            exclusive(true),
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap_err();
    assert_precondition(err, "ada@example.com");
    assert!(
        !store
            .get_settings()
            .await
            .unwrap()
            .admins_and_governors_mutually_exclusive
    );

    store
        .revoke_permission(ada, &perm(GOVERNANCE), record("RevokePermission", "x"))
        .await
        .unwrap();
    let on = store
        .update_settings(
            settings.version,
            exclusive(true),
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap()
        .value;
    assert!(on.admins_and_governors_mutually_exclusive);
    let stale = store
        .update_settings(
            settings.version,
            exclusive(false),
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Aborted(_)), "{stale:?}");

    // Every path to holding both is refused, naming the user: a direct grant, a role, a group
    // with the role, and, in a tenant, an overlapping scope (disjoint ones do not conflict).
    let roles = store.list_roles(&page(100)).await.unwrap();
    let role_named = |name: &str| roles.iter().find(|r| r.name == name).unwrap().id;
    let (app_admin, governor) = (role_named("Application admin"), role_named("Governor"));
    let g = create_group(store, "Admins").await;
    assign_role(store, Grantee::Group(g), app_admin, None).await;
    let (emea, apac) = (Id::new(), Id::new());
    store
        .create_tenant(
            emea,
            crate::common::values::tenant("EMEA"),
            record("CreateTenant", "x"),
        )
        .await
        .unwrap();
    store
        .create_tenant(
            apac,
            crate::common::values::tenant("APAC"),
            record("CreateTenant", "x"),
        )
        .await
        .unwrap();
    let carol = create_user(store, "carol@example.com").await;
    assign_role(store, Grantee::User(carol), governor, Some(emea)).await;
    assign_role(store, Grantee::User(carol), app_admin, Some(apac)).await;
    let bob_alone = &[bob][..];
    let application_admin = perm(APPLICATION_ADMIN);
    let assignment = |user: Id, tenant_id: Option<Id>| AssignmentKey {
        grantee: Grantee::User(user),
        role_id: app_admin,
        tenant_id,
    };
    #[rustfmt::skip]
    let cases = vec![
        (attempt(store.grant_permission(bob, &application_admin, record("GrantPermission", "x"))), "bob@example.com"),
        (attempt(store.assign_role(Id::new(), assignment(bob, None), record("AssignRole", "x"))), "bob@example.com"),
        (attempt(store.add_members(g, bob_alone, record("AddMembers", "x"))), "APPLICATION_ADMIN and GOVERNANCE"),
        (attempt(store.assign_role(Id::new(), assignment(carol, Some(emea)), record("AssignRole", "x"))), "carol@example.com"),
    ];
    assert_each_precondition_fails(store, cases).await;
}

async fn default_permissions_apply_to_new_users(t: TestStore) {
    let store = t.store.as_ref();
    let settings = store.get_settings().await.unwrap();
    assert_eq!(
        settings.default_permissions,
        ["CREATE_DATA_SOURCE_IN_PROJECT", CREATE_PROJECT]
    );
    let err = store
        .update_settings(
            settings.version,
            SettingsChanges {
                default_permissions: Some(perms(&["NO_SUCH"])),
                ..Default::default()
            },
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { ref field, .. } if field == "settings.default_permissions"),
        "{err:?}"
    );
    store
        .update_settings(
            settings.version,
            SettingsChanges {
                default_permissions: Some(perms(&[AUDIT])),
                ..Default::default()
            },
            record("UpdateSettings", "x"),
        )
        .await
        .unwrap();
    let ada = create_user(store, "ada@example.com").await;
    assert_eq!(
        store.get_user(&UserKey::Id(ada)).await.unwrap().permissions,
        [AUDIT]
    );
}

on_both_stores!(
    groups_have_unique_names_and_etags,
    adding_members_is_all_or_nothing,
    deleting_a_group_takes_its_memberships_and_roles,
    group_attributes_are_sets,
    concurrent_membership_changes_add_up,
    custom_permissions_come_and_go_with_their_grants,
    roles_bundle_permissions,
    effective_permissions_follow_roles_groups_and_tenants,
    roles_and_groups_grant_authentication_permissions,
    the_last_user_admin_holds_through_every_path,
    admins_and_governors_can_be_made_exclusive,
    default_permissions_apply_to_new_users,
);
