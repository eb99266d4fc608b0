//! Where user-info endpoints may be, over real gRPC with the real HTTPS endpoint on loopback, on
//! both stores: link-local and metadata addresses are refused when an IAM is saved whatever the
//! server's setting, loopback and private ones unless the setting allows them; and an endpoint
//! stored at a refused address anyway (before the rule, or under another setting) is never
//! reached, whether its URI names the address or a name resolving to it.

use crate::common::{
    TestServer, TestStore,
    grpc::{assert_each_refused_changing_nothing, assert_refused, test_user_login, update_iam},
    serve_options,
    store::{create_user_of, new_iam, record},
    user_info_server::{PASSWORD, USERNAME, UserInfoServer},
};
use personae::{
    domain::{
        Id,
        address::AddressPolicy,
        iam::{EndpointSettings, EndpointUri, Password, TlsSettings},
        now,
        tls::{Certificates, PrivateKey},
    },
    proto,
    server::ServeOptions,
};
use tonic::Code;

/// The endpoint settings the tests' endpoint expects, at `uri`.
fn settings(endpoint: &UserInfoServer, uri: &str) -> proto::UserInfoEndpoint {
    proto::UserInfoEndpoint {
        uri: uri.into(),
        ..endpoint.settings()
    }
}

fn create(name: &str, endpoint: proto::UserInfoEndpoint) -> proto::CreateIamRequest {
    proto::CreateIamRequest {
        name: name.into(),
        user_info_endpoint: Some(endpoint),
        profile_schema: Vec::new(),
    }
}

/// UpdateIam of `iam` with `endpoint`, the mask naming `path`.
fn update(
    iam: &proto::Iam,
    path: &str,
    endpoint: proto::UserInfoEndpoint,
) -> proto::UpdateIamRequest {
    let changed = proto::Iam {
        user_info_endpoint: Some(endpoint),
        ..iam.clone()
    };
    update_iam(&changed, &[path])
}

async fn test_connection(server: &TestServer, iam_id: &str) -> proto::TestConnectionResponse {
    server
        .iam_config(server.admin())
        .test_connection(proto::TestConnectionRequest {
            iam_id: iam_id.into(),
        })
        .await
        .expect("TestConnection reports what the endpoint did")
        .into_inner()
}

/// An IAM whose endpoint has a public name: accepted whatever the setting.
async fn public_iam(server: &TestServer, endpoint: &UserInfoServer) -> proto::Iam {
    server
        .iam_config(server.admin())
        .create_iam(create(
            "Public",
            settings(endpoint, "https://iam.example.com/userinfo"),
        ))
        .await
        .expect("a public name is accepted")
        .into_inner()
}

async fn metadata_addresses_are_refused_even_where_private_ones_are_allowed(t: TestStore) {
    let endpoint = UserInfoServer::start().await;
    // The tests' servers allow private addresses.
    let server = TestServer::start(t).await;
    let iams = server.iam_config(server.admin());
    let public = public_iam(&server, &endpoint).await;

    let metadata = "https://169.254.169.254/latest/meta-data/";
    let says = "user_info_endpoint.uri: 169.254.169.254 is a link-local address";
    assert_each_refused_changing_nothing(
        &server,
        vec![
            (
                call!(iams.create_iam(create("Metadata", settings(&endpoint, metadata)))),
                Code::InvalidArgument,
                says,
            ),
            (
                call!(iams.create_iam(create(
                    "Mapped",
                    settings(
                        &endpoint,
                        "https://[::ffff:169.254.169.254]/latest/meta-data/"
                    )
                ))),
                Code::InvalidArgument,
                "(IPv4 169.254.169.254) is a link-local address",
            ),
            (
                call!(iams.create_iam(create(
                    "AWS over IPv6",
                    settings(&endpoint, "http://[fd00:ec2::254]/latest/meta-data/")
                ))),
                Code::InvalidArgument,
                "fd00:ec2::254 is a cloud metadata service's address",
            ),
            (
                call!(iams.create_iam(create(
                    "This host",
                    settings(&endpoint, &endpoint.uri.replace("localhost", "0.0.0.0"))
                ))),
                Code::InvalidArgument,
                "0.0.0.0 is an unspecified address",
            ),
            (
                call!(iams.update_iam(update(
                    &public,
                    "user_info_endpoint.uri",
                    settings(&endpoint, metadata)
                ))),
                Code::InvalidArgument,
                says,
            ),
            (
                call!(iams.update_iam(update(
                    &public,
                    "user_info_endpoint",
                    settings(&endpoint, "https://[::ffff:a9fe:a9fe]/")
                ))),
                Code::InvalidArgument,
                "user_info_endpoint.uri: ::ffff:169.254.169.254 (IPv4 169.254.169.254) is a \
                 link-local address",
            ),
        ],
    )
    .await;

    // Loopback is allowed here: by address on create and on update, and called.
    let loopback = format!("https://127.0.0.1:{}/userinfo", endpoint.port);
    let created = iams
        .clone()
        .create_iam(create("Loopback", settings(&endpoint, &loopback)))
        .await
        .expect("127.0.0.1 is accepted where private addresses are allowed")
        .into_inner();
    let ada = test_user_login(&server, &created.id, "ada").await;
    assert!(
        ada.ok && ada.groups == ["Accountants", "Controllers"],
        "{ada:?}"
    );
    let moved = iams
        .clone()
        .update_iam(update(
            &public,
            "user_info_endpoint",
            settings(&endpoint, &loopback),
        ))
        .await
        .expect("and so is an update to it (whole: secrets do not follow a new host)")
        .into_inner();
    assert_eq!(moved.user_info_endpoint.unwrap().uri, loopback);
    let connection = test_connection(&server, &moved.id).await;
    assert!(
        connection.ok && connection.http_status == 200,
        "{connection:?}"
    );
    iams.clone()
        .create_iam(create(
            "Plain HTTP",
            settings(&endpoint, "http://localhost:8080/userinfo"),
        ))
        .await
        .expect("http toward loopback is accepted where private addresses are allowed");
    assert!(endpoint.script.connections() > 0);
    server.stop().await;
}

/// An IAM calling `endpoint` at `uri`, stored straight in the store as one saved before the
/// rule, or under a server allowing private addresses, would be.
async fn stored_iam(server: &TestServer, name: &str, endpoint: &UserInfoServer, uri: &str) -> Id {
    let allowing = AddressPolicy {
        allow_private: true,
    };
    let settings = EndpointSettings {
        uri: EndpointUri::parse("uri", uri, allowing).unwrap(),
        basic_auth_username: USERNAME.into(),
        basic_auth_password: Some(Password::parse("password", PASSWORD).unwrap()),
        tls: TlsSettings {
            ca_cert: Some(Certificates::parse("ca", &endpoint.ca.cert, now()).unwrap()),
            client_cert: Some(Certificates::parse("cert", &endpoint.client.cert, now()).unwrap()),
            client_key: Some(PrivateKey::parse("key", &endpoint.client.key).unwrap()),
        },
        timeouts: Default::default(),
    };
    let id = Id::new();
    server
        .store
        .store
        .create_iam(id, new_iam(name, Some(settings)), record("CreateIam", id))
        .await
        .expect("store the IAM");
    id
}

async fn loopback_is_refused_when_saved_and_never_called_without_the_setting(t: TestStore) {
    let endpoint = UserInfoServer::start().await;
    let strict = ServeOptions {
        user_info_addresses: AddressPolicy::default(),
        ..serve_options()
    };
    let server = TestServer::start_with(t, strict).await;
    let iams = server.iam_config(server.admin());
    let public = public_iam(&server, &endpoint).await;
    let loopback = format!("https://127.0.0.1:{}/userinfo", endpoint.port);
    let needs_setting = "--user-info-allow-private-addresses";
    let mut cases = Vec::new();
    for uri in [
        loopback.as_str(),
        &endpoint.uri,
        "http://localhost:8080/userinfo",
        "https://[::1]/userinfo",
        "https://2130706433/userinfo",
        "https://10.0.0.1/userinfo",
        "https://100.64.0.1/userinfo",
        "https://[fd12:3456::1]/userinfo",
    ] {
        cases.push((
            call!(iams.create_iam(create("Private", settings(&endpoint, uri)))),
            Code::InvalidArgument,
            needs_setting,
        ));
    }
    cases.push((
        call!(iams.update_iam(update(
            &public,
            "user_info_endpoint.uri",
            settings(&endpoint, &loopback)
        ))),
        Code::InvalidArgument,
        "user_info_endpoint.uri: 127.0.0.1 is a loopback address",
    ));
    cases.push((
        call!(iams.create_iam(create(
            "Metadata",
            settings(&endpoint, "https://169.254.169.254/latest/meta-data/")
        ))),
        Code::InvalidArgument,
        "user_info_endpoint.uri: 169.254.169.254 is a link-local address",
    ));
    assert_each_refused_changing_nothing(&server, cases).await;

    // Stored anyway: one naming the loopback address, which is checked before connecting, and
    // one naming `localhost`, whose addresses the resolver drops.
    for (name, uri, says) in [
        (
            "By address",
            loopback.as_str(),
            "the endpoint's address is refused: 127.0.0.1 is a loopback address",
        ),
        (
            "By name",
            endpoint.uri.as_str(),
            "the endpoint's address is refused: localhost resolves only to refused addresses: \
             127.0.0.1 is a loopback address",
        ),
    ] {
        let iam = stored_iam(&server, name, &endpoint, uri).await;
        let connection = test_connection(&server, &iam.to_string()).await;
        assert!(
            !connection.ok && connection.http_status == 0 && connection.error.contains(says),
            "{name}: {connection:?}"
        );
        assert!(connection.error.contains(needs_setting), "{connection:?}");
        let ada = test_user_login(&server, &iam.to_string(), "ada").await;
        assert!(!ada.ok && ada.error.contains(says), "{name}: {ada:?}");

        let user = create_user_of(
            server.store.store.as_ref(),
            iam,
            &format!("{}@example.com", name.replace(' ', ".")),
        )
        .await;
        let synced = server
            .iam_config(server.admin())
            .sync_user(proto::SyncUserRequest {
                user_id: user.to_string(),
            })
            .await;
        assert_refused(synced, Code::FailedPrecondition, says);
        let all = server
            .iam_config(server.admin())
            .sync_all(proto::SyncAllRequest {
                iam_id: iam.to_string(),
                ..Default::default()
            })
            .await;
        match all {
            // An address in the URI is refused before the run starts.
            Err(status) => {
                assert_eq!(
                    status.code(),
                    Code::FailedPrecondition,
                    "{name}: {status:?}"
                );
                assert!(status.message().contains(says), "{name}: {status:?}");
            }
            // A name is resolved per user; each is reported failed.
            Ok(response) => {
                let mut stream = response.into_inner();
                let mut reports = Vec::new();
                while let Some(report) = stream.message().await.expect("SyncAll's stream") {
                    reports.push(report);
                }
                assert_eq!(name, "By name", "{reports:?}");
                let last = reports.last().expect("a report per user");
                assert_eq!((last.users_done, last.users_failed), (1, 1), "{last:?}");
                assert!(last.error.contains(says), "{last:?}");
            }
        }
    }
    assert_eq!(
        endpoint.script.connections(),
        0,
        "nothing reached the endpoint"
    );
    server.stop().await;
}

on_both_stores!(
    metadata_addresses_are_refused_even_where_private_ones_are_allowed,
    loopback_is_refused_when_saved_and_never_called_without_the_setting,
);
