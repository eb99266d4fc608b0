//! IAMs over real gRPC, on both stores: created, read, listed, updated with masks (write-only
//! secrets never returned), deleted under their rules; bad input refused with the field named,
//! changing nothing; and the stored secrets tied to the server's secret key.

use crate::common::{
    TestServer, TestStore,
    certs::{CURRENT, certificate},
    grpc::{
        add_member, all_pages, assert_each_refused_changing_nothing, assert_refused, audit_log,
        create_group, create_iam, create_user, grant, schema_entry, token, update_iam,
    },
    reopen,
    store::{example_endpoint, new_iam, record},
};
use personae::{
    domain::Id,
    error::Error,
    proto::{self, Platform},
    secrets::{KeySource, new_key_hex},
    store::IamStore,
};
use tonic::Code;

const PASSWORD: &str = "correct horse battery staple";

fn endpoint(uri: &str, username: &str, password: &str) -> proto::UserInfoEndpoint {
    proto::UserInfoEndpoint {
        uri: uri.into(),
        basic_auth_username: username.into(),
        basic_auth_password: password.into(),
        ..Default::default()
    }
}

fn tls(ca: &str, cert: &str, key: &str) -> Option<proto::TlsConfig> {
    Some(proto::TlsConfig {
        ca_cert_pem: ca.into(),
        client_cert_pem: cert.into(),
        client_key_pem: key.into(),
        has_client_key: false,
    })
}

async fn iams_are_created_read_updated_and_deleted(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut iams = server.iam_config(server.admin());

    let listed = iams
        .list_iams(proto::ListIamsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.iams.len(), 1);
    assert!(listed.iams[0].built_in);

    let response = iams
        .create_iam(proto::CreateIamRequest {
            name: "Okta".into(),
            user_info_endpoint: Some(endpoint(
                "https://iam.example.com/userinfo",
                "svc",
                PASSWORD,
            )),
            profile_schema: vec![
                schema_entry(Platform::Trino, "trino_login"),
                schema_entry(Platform::Snowflake, "sf_login"),
            ],
        })
        .await
        .unwrap();
    assert!(token(&response) > 0, "a create returns its revision");
    let okta = response.into_inner();
    let stored = okta.user_info_endpoint.clone().unwrap();
    assert_eq!(stored.uri, "https://iam.example.com/userinfo");
    assert_eq!(stored.basic_auth_username, "svc");
    assert!(stored.has_basic_auth_password);
    assert_eq!(stored.basic_auth_password, "", "write-only");
    let platforms: Vec<i32> = okta.profile_schema.iter().map(|e| e.platform).collect();
    assert_eq!(
        platforms,
        [Platform::Snowflake as i32, Platform::Trino as i32]
    );
    assert!(!okta.built_in);
    let read = iams
        .get_iam(proto::GetIamRequest {
            id: okta.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, okta);

    for taken in ["OKTA", "okta"] {
        let again = iams
            .create_iam(proto::CreateIamRequest {
                name: taken.into(),
                ..Default::default()
            })
            .await;
        assert_refused(again, Code::AlreadyExists, "name");
    }
    let accented = iams
        .create_iam(proto::CreateIamRequest {
            name: "Émile".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let folded = iams
        .create_iam(proto::CreateIamRequest {
            name: "émile".into(),
            ..Default::default()
        })
        .await;
    assert_refused(folded, Code::AlreadyExists, "name");

    // One field of the endpoint, the same origin: the stored password stays.
    let mut changed = okta.clone();
    changed.user_info_endpoint = Some(endpoint("https://IAM.example.com:443/info", "", ""));
    let okta = iams
        .update_iam(update_iam(&changed, &["user_info_endpoint.uri"]))
        .await
        .unwrap()
        .into_inner();
    let stored = okta.user_info_endpoint.clone().unwrap();
    assert_eq!(stored.uri, "https://IAM.example.com:443/info");
    assert_eq!(stored.basic_auth_username, "svc");
    assert!(stored.has_basic_auth_password);

    // The whole endpoint with the password left empty, the same origin: kept.
    let mut changed = okta.clone();
    changed.user_info_endpoint = Some(endpoint("https://iam.example.com/v2", "svc2", ""));
    let okta = iams
        .update_iam(update_iam(&changed, &["user_info_endpoint"]))
        .await
        .unwrap()
        .into_inner();
    let stored = okta.user_info_endpoint.clone().unwrap();
    assert_eq!(
        (stored.uri.as_str(), stored.basic_auth_username.as_str()),
        ("https://iam.example.com/v2", "svc2")
    );
    assert!(stored.has_basic_auth_password, "kept");

    // Another host, whole or by the URI alone: the password is not kept for it.
    let mut okta = okta;
    for paths in [&["user_info_endpoint"][..], &["user_info_endpoint.uri"]] {
        let mut changed = okta.clone();
        changed.user_info_endpoint = Some(endpoint("https://iam3.example.com/", "svc2", ""));
        let moved = iams
            .update_iam(update_iam(&changed, paths))
            .await
            .unwrap()
            .into_inner();
        let stored = moved.user_info_endpoint.clone().unwrap();
        assert_eq!(stored.uri, "https://iam3.example.com/");
        assert!(!stored.has_basic_auth_password, "{paths:?}: dropped");
        // Back where it was, with the password, for the next case.
        let mut back = moved;
        back.user_info_endpoint = Some(endpoint("https://iam.example.com/v2", "svc2", PASSWORD));
        okta = iams
            .update_iam(update_iam(&back, &["user_info_endpoint"]))
            .await
            .unwrap()
            .into_inner();
    }

    // The password named itself, empty: removed.
    let mut changed = okta.clone();
    changed.user_info_endpoint = Some(endpoint("", "", ""));
    let okta = iams
        .update_iam(update_iam(
            &changed,
            &["user_info_endpoint.basic_auth_password"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !okta
            .user_info_endpoint
            .clone()
            .unwrap()
            .has_basic_auth_password
    );

    let stale = iams.update_iam(update_iam(&read, &["name"])).await;
    assert_refused(stale, Code::Aborted, "etag");

    let mut changed = okta.clone();
    changed.name = "Okta Prod".into();
    changed.user_info_endpoint = None;
    changed.profile_schema = vec![schema_entry(Platform::S3, "aws_user")];
    let okta = iams
        .update_iam(update_iam(
            &changed,
            &["name", "user_info_endpoint", "profile_schema"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(okta.name, "Okta Prod");
    assert_eq!(okta.user_info_endpoint, None, "removed");
    assert_eq!(
        okta.profile_schema,
        [proto::ProfileSchemaEntry {
            aws_user_type: proto::AwsUserType::None as i32,
            ..schema_entry(Platform::S3, "aws_user")
        }],
        "an S3 entry's names are of type NONE unless it says otherwise"
    );
    let logged = audit_log(&server).await;
    for recorded in [
        r#""aws_user_type": Value { kind: Some(StringValue("NONE"))"#,
        r#""user_info_endpoint": Value { kind: Some(StringValue("removed"))"#,
    ] {
        assert!(
            logged.contains(recorded),
            "UpdateIam records {recorded}: {logged}"
        );
    }

    let member = server
        .users(server.admin())
        .create_user(proto::CreateUserRequest {
            email: "member@example.com".into(),
            full_name: "Member".into(),
            iam_id: okta.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let busy = iams
        .delete_iam(proto::DeleteIamRequest {
            id: okta.id.clone(),
        })
        .await;
    assert_refused(busy, Code::FailedPrecondition, "has 1 users");
    server
        .users(server.admin())
        .delete_user(proto::DeleteUserRequest {
            id: member.id,
            confirm: "Delete".into(),
        })
        .await
        .unwrap();
    iams.delete_iam(proto::DeleteIamRequest {
        id: okta.id.clone(),
    })
    .await
    .unwrap();
    let gone = iams.get_iam(proto::GetIamRequest { id: okta.id }).await;
    assert_refused(gone, Code::NotFound, "does not exist");

    let paged = all_pages(1, |token| {
        let mut iams = iams.clone();
        async move {
            let page = iams
                .list_iams(proto::ListIamsRequest {
                    page_size: 1,
                    page_token: token,
                })
                .await?
                .into_inner();
            Ok((page.iams, page.next_page_token))
        }
    })
    .await;
    let names: Vec<String> = paged.into_iter().map(|i| i.name).collect();
    assert_eq!(names, ["Built-in", accented.name.as_str()]);

    let logged = audit_log(&server).await;
    assert!(logged.contains("CreateIam") && logged.contains("DeleteIam"));
    assert!(!logged.contains(PASSWORD), "no secret in the audit log");
    server.stop().await;
}

/// TLS settings are checked when saved, the client key is write-only and sealed, and a new
/// certificate is checked against the stored key.
async fn tls_settings_are_checked_and_the_key_kept_secret(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut iams = server.iam_config(server.admin());
    let ca = certificate(&["Test CA"], CURRENT, None);
    let client = certificate(&["client.example.com"], CURRENT, Some(&ca));
    let created = iams
        .create_iam(proto::CreateIamRequest {
            name: "Okta".into(),
            user_info_endpoint: Some(proto::UserInfoEndpoint {
                tls: tls(&ca.cert, &client.cert, &client.key),
                ..endpoint("https://iam.example.com/", "", "")
            }),
            profile_schema: Vec::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let stored = created.user_info_endpoint.clone().unwrap().tls.unwrap();
    assert_eq!(stored.ca_cert_pem, ca.cert.trim());
    assert_eq!(stored.client_cert_pem, client.cert.trim());
    assert!(stored.has_client_key);
    assert_eq!(stored.client_key_pem, "", "write-only");

    // A new certificate alone is checked against the stored key.
    let other = certificate(&["other.example.com"], CURRENT, Some(&ca));
    let mut changed = created.clone();
    changed.user_info_endpoint = Some(proto::UserInfoEndpoint {
        tls: tls("", &other.cert, ""),
        ..endpoint("", "", "")
    });
    let refused = iams
        .update_iam(update_iam(
            &changed,
            &["user_info_endpoint.tls.client_cert_pem"],
        ))
        .await;
    assert_refused(
        refused,
        Code::InvalidArgument,
        "user_info_endpoint.tls.client_key_pem: does not match",
    );
    changed.user_info_endpoint = Some(proto::UserInfoEndpoint {
        tls: tls("", &other.cert, &other.key),
        ..endpoint("", "", "")
    });
    let updated = iams
        .update_iam(update_iam(
            &changed,
            &[
                "user_info_endpoint.tls.client_cert_pem",
                "user_info_endpoint.tls.client_key_pem",
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    let stored = updated.user_info_endpoint.clone().unwrap().tls.unwrap();
    assert_eq!(stored.client_cert_pem, other.cert.trim());
    assert_eq!(stored.ca_cert_pem, ca.cert.trim(), "kept");

    // The whole TLS, with the key left empty: the stored key is kept, and still matches.
    changed = updated.clone();
    changed.user_info_endpoint = Some(proto::UserInfoEndpoint {
        tls: tls("", &other.cert, ""),
        ..endpoint("", "", "")
    });
    let replaced = iams
        .update_iam(update_iam(&changed, &["user_info_endpoint.tls"]))
        .await
        .unwrap()
        .into_inner();
    let stored = replaced.user_info_endpoint.clone().unwrap().tls.unwrap();
    assert_eq!(
        stored.ca_cert_pem, "",
        "the CA is unset by the whole replacement"
    );
    assert!(stored.has_client_key);

    changed = replaced.clone();
    changed.user_info_endpoint = Some(endpoint("", "", ""));
    let cleared = iams
        .update_iam(update_iam(&changed, &["user_info_endpoint.tls"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleared.user_info_endpoint.unwrap().tls, None);

    let logged = audit_log(&server).await;
    assert!(!logged.contains("PRIVATE KEY"), "no key in the audit log");
    server.stop().await;
}

async fn bad_input_is_refused_naming_the_field(t: TestStore) {
    let server = TestServer::start(t).await;
    let iams = server.iam_config(server.admin());
    let built_in = iams
        .clone()
        .list_iams(proto::ListIamsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .iams
        .remove(0);
    let create = |uri: &str, username: &str, password: &str| proto::CreateIamRequest {
        name: "Okta".into(),
        user_info_endpoint: Some(endpoint(uri, username, password)),
        profile_schema: Vec::new(),
    };
    let schema = |entries: Vec<proto::ProfileSchemaEntry>| proto::CreateIamRequest {
        name: "Okta".into(),
        user_info_endpoint: None,
        profile_schema: entries,
    };
    let uri = "https://iam.example.com/";
    let ca = certificate(&["Test CA"], CURRENT, None);
    let client = certificate(&["client"], CURRENT, Some(&ca));
    let expired = certificate(&["old"], (2010, 2020), Some(&ca));
    let stranger = certificate(&["stranger"], CURRENT, None);
    let with_tls = |ca: &str, cert: &str, key: &str| proto::CreateIamRequest {
        user_info_endpoint: Some(proto::UserInfoEndpoint {
            tls: tls(ca, cert, key),
            ..endpoint(uri, "", "")
        }),
        ..create(uri, "", "")
    };
    let (client_pem, client_key_pem) = (client.cert.clone(), client.key.clone());
    let mut tls_and_field = update_iam(
        &built_in,
        &[
            "user_info_endpoint.tls",
            "user_info_endpoint.tls.ca_cert_pem",
        ],
    );
    tls_and_field.iam.as_mut().unwrap().user_info_endpoint = Some(endpoint(uri, "", ""));
    let mut both = update_iam(&built_in, &["user_info_endpoint", "user_info_endpoint.uri"]);
    both.iam.as_mut().unwrap().user_info_endpoint = Some(endpoint(uri, "", ""));
    let mut username_only = update_iam(&built_in, &["user_info_endpoint.basic_auth_username"]);
    username_only.iam.as_mut().unwrap().user_info_endpoint = Some(endpoint("", "svc", ""));
    let mut built_in_endpoint = update_iam(&built_in, &["user_info_endpoint"]);
    built_in_endpoint.iam.as_mut().unwrap().user_info_endpoint = Some(endpoint(uri, "", ""));
    let timed = |connect: i64, request: i64| proto::CreateIamRequest {
        user_info_endpoint: Some(proto::UserInfoEndpoint {
            connect_timeout: Some(prost_types::Duration {
                seconds: connect,
                nanos: 0,
            }),
            request_timeout: Some(prost_types::Duration {
                seconds: request,
                nanos: 0,
            }),
            ..endpoint(uri, "", "")
        }),
        ..create(uri, "", "")
    };
    let cases = vec![
        (
            call!(iams.update_iam(built_in_endpoint)),
            Code::FailedPrecondition,
            "user_info_endpoint: the built-in IAM holds the users created here and has no \
             user-info endpoint",
        ),
        (
            call!(iams.create_iam(timed(0, 5))),
            Code::InvalidArgument,
            "user_info_endpoint.connect_timeout: must be from 0.1 s to 30 s, got 0 s",
        ),
        (
            call!(iams.create_iam(timed(2, 61))),
            Code::InvalidArgument,
            "user_info_endpoint.request_timeout: must be from 0.1 s to 60 s",
        ),
        (
            call!(iams.create_iam(timed(-1, 5))),
            Code::InvalidArgument,
            "user_info_endpoint.connect_timeout: must be a positive duration",
        ),
        (
            call!(iams.create_iam(proto::CreateIamRequest::default())),
            Code::InvalidArgument,
            "name: is required",
        ),
        (
            call!(iams.create_iam(create("http://iam.example.com/", "", ""))),
            Code::InvalidArgument,
            "user_info_endpoint.uri: must use https",
        ),
        (
            call!(iams.create_iam(create("https://iam.example.com/?a=1", "", ""))),
            Code::InvalidArgument,
            "user_info_endpoint.uri: must have no query",
        ),
        (
            call!(iams.create_iam(create("", "", ""))),
            Code::InvalidArgument,
            "user_info_endpoint.uri: is required",
        ),
        (
            call!(iams.create_iam(create(uri, "", PASSWORD))),
            Code::InvalidArgument,
            "user_info_endpoint.basic_auth_username: is required",
        ),
        (
            call!(iams.create_iam(create(uri, "a:b", PASSWORD))),
            Code::InvalidArgument,
            "user_info_endpoint.basic_auth_username: must not contain",
        ),
        (
            call!(iams.create_iam(create(uri, "svc", &"x".repeat(1025)))),
            Code::InvalidArgument,
            "user_info_endpoint.basic_auth_password: is longer",
        ),
        (
            call!(iams.create_iam(with_tls("not a certificate", "", ""))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.ca_cert_pem: holds no PEM certificate",
        ),
        (
            call!(iams.create_iam(with_tls("", &expired.cert, &expired.key))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.client_cert_pem: certificate 1 (CN=old) expired on",
        ),
        (
            call!(iams.create_iam(with_tls("", &client_pem, ""))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.client_key_pem: is required with client_cert_pem",
        ),
        (
            call!(iams.create_iam(with_tls("", "", &client_key_pem))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.client_cert_pem: is required with client_key_pem",
        ),
        (
            call!(iams.create_iam(with_tls("", &client_pem, &stranger.key))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.client_key_pem: does not match",
        ),
        (
            call!(iams.create_iam(with_tls("", &client_pem, &client_pem))),
            Code::InvalidArgument,
            "user_info_endpoint.tls.client_key_pem: is not a PEM private key",
        ),
        (
            call!(iams.create_iam(schema(vec![
                schema_entry(Platform::Trino, "a"),
                schema_entry(Platform::Trino, "b"),
            ]))),
            Code::InvalidArgument,
            "profile_schema[1].platform",
        ),
        (
            call!(iams.create_iam(schema(vec![schema_entry(Platform::Unspecified, "a")]))),
            Code::InvalidArgument,
            "profile_schema[0].platform: is required",
        ),
        (
            call!(iams.create_iam(schema(vec![schema_entry(Platform::S3, " ")]))),
            Code::InvalidArgument,
            "profile_schema[0].attribute: is required",
        ),
        (
            call!(iams.get_iam(proto::GetIamRequest { id: "x".into() })),
            Code::InvalidArgument,
            "id:",
        ),
        (
            call!(iams.get_iam(proto::GetIamRequest {
                id: "00000000-0000-7000-8000-00000000ffff".into(),
            })),
            Code::NotFound,
            "does not exist",
        ),
        (
            call!(iams.update_iam(proto::UpdateIamRequest::default())),
            Code::InvalidArgument,
            "iam: is required",
        ),
        (
            call!(iams.update_iam(update_iam(&built_in, &["built_in"]))),
            Code::InvalidArgument,
            "update_mask",
        ),
        (
            call!(iams.update_iam(both)),
            Code::InvalidArgument,
            "update_mask: names user_info_endpoint and one of its fields",
        ),
        (
            call!(iams.update_iam(username_only)),
            Code::InvalidArgument,
            "user_info_endpoint.uri: is required",
        ),
        (
            call!(iams.update_iam(tls_and_field)),
            Code::InvalidArgument,
            "update_mask: names user_info_endpoint.tls and one of its fields",
        ),
        (
            call!(iams.delete_iam(proto::DeleteIamRequest {
                id: built_in.id.clone(),
            })),
            Code::FailedPrecondition,
            "built in",
        ),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;
    server.stop().await;
}

/// MigrateUser moves a user to another IAM: what was granted here stays (permissions, local
/// memberships), what the old IAM supplied goes (authorizations, external memberships), and a
/// new username must be free.
async fn users_migrate_between_iams(t: TestStore) {
    let server = TestServer::start(t).await;
    let mut users = server.users(server.admin());
    let okta = create_iam(&server, "Okta", None, Vec::new()).await;
    let ada = create_user(&server, "ada@example.com").await;
    create_user(&server, "grace@example.com").await;
    grant(&server, &ada.id, "AUDIT").await;
    let mut group_ids = Vec::new();
    for name in ["Local", "From the IAM"] {
        let group = create_group(&server, name).await;
        add_member(&server, &group.id, &ada.id).await;
        group_ids.push(group.id);
    }
    // What a sync from the old IAM would have written.
    let truth = if server.store.is_postgres() {
        "true"
    } else {
        "1"
    };
    server
        .store
        .execute_raw(&format!(
            "UPDATE group_members SET external = {truth} WHERE group_id = '{}'; \
             INSERT INTO user_authorizations (user_id, name, value) VALUES ('{}', 'EMEA', 'Sales')",
            group_ids[1], ada.id
        ))
        .await;
    let request = |iam: &str, username: &str| proto::MigrateUserRequest {
        id: ada.id.clone(),
        target_iam_id: iam.into(),
        new_username: username.into(),
    };
    let cases = vec![
        (
            call!(users.migrate_user(request("x", ""))),
            Code::InvalidArgument,
            "target_iam_id:",
        ),
        (
            call!(users.migrate_user(request(&okta.id, "not an email"))),
            Code::InvalidArgument,
            "new_username:",
        ),
        (
            call!(users.migrate_user(request(&ada.iam_id, ""))),
            Code::FailedPrecondition,
            "target_iam_id: user",
        ),
        (
            call!(users.migrate_user(request("00000000-0000-7000-8000-00000000ffff", ""))),
            Code::NotFound,
            "target_iam_id: IAM",
        ),
        (
            call!(users.migrate_user(request(&okta.id, "GRACE@example.com"))),
            Code::AlreadyExists,
            "new_username",
        ),
    ];
    assert_each_refused_changing_nothing(&server, cases).await;

    let migrated = users
        .migrate_user(request(&okta.id, "ada@okta.example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(migrated.iam_id, okta.id);
    assert_eq!(
        (migrated.username.as_str(), migrated.email.as_str()),
        ("ada@okta.example.com", "ada@okta.example.com")
    );
    assert!(migrated.permissions.contains(&"AUDIT".to_string()));
    assert_eq!(
        migrated.group_ids,
        [group_ids[0].clone()],
        "the local group stays"
    );
    assert!(
        migrated.authorizations.is_empty(),
        "the old IAM's authorizations go"
    );
    let found = users
        .list_users(proto::ListUsersRequest {
            query: "okta.example".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(found.len(), 1, "the search follows the new username");
    let busy = server
        .iam_config(server.admin())
        .delete_iam(proto::DeleteIamRequest { id: okta.id })
        .await;
    assert_refused(busy, Code::FailedPrecondition, "has 1 users");
    server.stop().await;
}

/// A password is stored only under a secret key, and once one is stored the store does not
/// open without that key.
async fn stored_secrets_need_their_key(t: TestStore) {
    let t = t.close();
    let with_password = |name| new_iam(name, Some(example_endpoint(PASSWORD)));
    let keyless = reopen(&t.url, &KeySource::None).await.unwrap();
    let id = Id::new();
    let refused = keyless
        .create_iam(id, with_password("Keyless"), record("CreateIam", id))
        .await;
    match refused {
        Err(Error::FailedPrecondition(message)) => assert!(
            message.starts_with("user_info_endpoint.basic_auth_password: storing a secret needs"),
            "{message}"
        ),
        other => panic!("a password without a key: {other:?}"),
    }
    drop(keyless);

    let keyed = reopen(&t.url, &t.secret_key).await.unwrap();
    let id = Id::new();
    keyed
        .create_iam(id, with_password("Okta"), record("CreateIam", id))
        .await
        .unwrap();
    drop(keyed);
    match reopen(&t.url, &KeySource::None).await {
        Err(Error::FailedPrecondition(message)) => {
            assert!(message.starts_with("1 secrets"), "{message}")
        }
        other => panic!("no key while secrets are stored: {:?}", other.err()),
    }
    match reopen(&t.url, &KeySource::Hex(new_key_hex())).await {
        Err(Error::FailedPrecondition(message)) => {
            assert!(message.contains("is not the one"), "{message}")
        }
        other => panic!("another key: {:?}", other.err()),
    }
    reopen(&t.url, &t.secret_key)
        .await
        .expect("the store's own key opens it");
}

on_both_stores!(
    iams_are_created_read_updated_and_deleted,
    tls_settings_are_checked_and_the_key_kept_secret,
    bad_input_is_refused_naming_the_field,
    stored_secrets_need_their_key,
    users_migrate_between_iams,
);
