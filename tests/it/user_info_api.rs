//! TestConnection and TestUserLogin against a real HTTPS user-info endpoint (rustls, a client
//! certificate required, basic auth), on both stores: every way the endpoint can answer is
//! reported with what happened, never as INTERNAL, and nothing changes.

use std::sync::{Arc, Mutex};

use base64::Engine;

use crate::common::{
    TestServer, TestStore,
    certs::{CURRENT, certificate},
    grpc::{
        assert_refused, audit_log, create_iam, schema_entry, snapshot, test_user_login, update_iam,
    },
    logs,
    user_info_server::{PASSWORD, USERNAME, UserInfoServer},
};
use personae::proto::{self, Platform};
use tonic::Code;

/// An IAM calling `endpoint` with these credentials, CA and client certificate (empty: none).
async fn iam(
    server: &TestServer,
    name: &str,
    endpoint: &UserInfoServer,
    password: &str,
    ca: &str,
    client: Option<(&str, &str)>,
) -> String {
    let settings = endpoint.settings_with(password, ca, client);
    let schema = vec![schema_entry(Platform::Trino, "trino_login")];
    create_iam(server, name, Some(settings), schema).await.id
}

async fn the_endpoint_is_called_and_every_answer_reported(t: TestStore) {
    let logs = logs::captured();
    let endpoint = UserInfoServer::start().await;
    let server = TestServer::start(t).await;
    let client = Some((endpoint.client.cert.as_str(), endpoint.client.key.as_str()));
    let good = iam(
        &server,
        "Okta",
        &endpoint,
        PASSWORD,
        &endpoint.ca.cert,
        client,
    )
    .await;
    let before = snapshot(&server).await;

    let ada = test_user_login(&server, &good, "ada").await;
    assert!(ada.ok, "{ada:?}");
    assert_eq!(ada.http_status, 200);
    assert_eq!(ada.groups, ["Accountants", "Controllers"]);
    assert_eq!(ada.authorizations["EMEA"].values, ["Sales", "Expenses"]);
    assert_eq!(ada.authorizations["APAC"].values, ["Sales"]);
    assert_eq!(ada.external_usernames.len(), 1);
    assert_eq!(ada.external_usernames[0].username, "ada_t");
    let long_name = "g".repeat(300);
    endpoint.script.answer(
        "unusable",
        200,
        &format!(r#"{{"groups":[{{"name":"{long_name}"}}],"authorizations":{{}}}}"#),
        std::time::Duration::ZERO,
    );
    let unusable = test_user_login(&server, &good, "unusable").await;
    assert!(
        !unusable.ok
            && unusable.http_status == 200
            && unusable.error.contains("groups[0].name")
            && unusable.groups == [long_name],
        "an answer a sync could not use is reported, with what it held: {unusable:?}"
    );
    let extra = test_user_login(&server, &good, "extra").await;
    assert!(
        extra.ok && extra.groups == ["Accountants"],
        "unknown fields are ignored: {extra:?}"
    );

    for (userid, status, says) in [
        ("nobody", 404, "HTTP 404"),
        ("error", 500, "the directory is down"),
        ("malformed", 200, "not the user-info JSON"),
        ("shape", 200, "not the user-info JSON"),
        ("huge", 200, "larger than 1048576 bytes"),
        ("slow", 0, "no answer within 5 s"),
    ] {
        let answer = test_user_login(&server, &good, userid).await;
        assert!(!answer.ok, "{userid}: {answer:?}");
        assert_eq!(answer.http_status, status, "{userid}: {answer:?}");
        assert!(answer.error.contains(says), "{userid}: {answer:?}");
        assert!(answer.groups.is_empty());
    }

    // The IAM's own timeout bounds the call; the default connect timeout is kept.
    let mut settings = server
        .iam_config(server.admin())
        .get_iam(proto::GetIamRequest { id: good.clone() })
        .await
        .unwrap()
        .into_inner();
    let shown = settings.user_info_endpoint.clone().unwrap();
    assert_eq!(
        (
            shown.connect_timeout.unwrap().seconds,
            shown.request_timeout.unwrap().seconds
        ),
        (2, 5),
        "the defaults are shown"
    );
    settings
        .user_info_endpoint
        .as_mut()
        .unwrap()
        .request_timeout = Some(prost_types::Duration {
        seconds: 1,
        nanos: 500_000_000,
    });
    let updated = server
        .iam_config(server.admin())
        .update_iam(proto::UpdateIamRequest {
            iam: Some(settings),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["user_info_endpoint.request_timeout".into()],
            }),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let endpoint_settings = updated.user_info_endpoint.unwrap();
    assert_eq!(endpoint_settings.connect_timeout.unwrap().seconds, 2);
    let logged = audit_log(&server).await;
    assert!(
        logged.contains(r#""request_timeout": Value { kind: Some(StringValue("1.5 s"))"#),
        "UpdateIam records the timeout it sets: {logged}"
    );
    assert_eq!(
        endpoint_settings.basic_auth_username, USERNAME,
        "other fields kept"
    );
    let started = std::time::Instant::now();
    let slow = test_user_login(&server, &good, "slow").await;
    assert!(slow.error.contains("no answer within 1.5 s"), "{slow:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));

    let connection = server
        .iam_config(server.admin())
        .test_connection(proto::TestConnectionRequest {
            iam_id: good.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        connection.ok && connection.http_status == 200,
        "{connection:?}"
    );
    assert!(connection.latency.is_some());

    let wrong_password = iam(
        &server,
        "Wrong",
        &endpoint,
        "not it",
        &endpoint.ca.cert,
        client,
    )
    .await;
    let refused = test_user_login(&server, &wrong_password, "ada").await;
    assert_eq!(
        (refused.ok, refused.http_status),
        (false, 401),
        "{refused:?}"
    );
    let connection = server
        .iam_config(server.admin())
        .test_connection(proto::TestConnectionRequest {
            iam_id: wrong_password,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((connection.ok, connection.http_status), (false, 401));
    assert!(
        connection.error.contains("refused the credentials"),
        "{connection:?}"
    );

    let no_client_cert = iam(
        &server,
        "NoCert",
        &endpoint,
        PASSWORD,
        &endpoint.ca.cert,
        None,
    )
    .await;
    let refused = test_user_login(&server, &no_client_cert, "ada").await;
    assert_eq!((refused.ok, refused.http_status), (false, 0), "{refused:?}");
    assert!(
        refused.error.contains("could not reach the endpoint")
            && refused.error.contains("CertificateRequired"),
        "the TLS alert is reported: {refused:?}"
    );

    let stranger = certificate(&["Another CA"], CURRENT, None);
    let untrusted = iam(
        &server,
        "Untrusted",
        &endpoint,
        PASSWORD,
        &stranger.cert,
        client,
    )
    .await;
    let refused = test_user_login(&server, &untrusted, "ada").await;
    assert_eq!((refused.ok, refused.http_status), (false, 0), "{refused:?}");
    assert!(
        refused
            .error
            .contains("invalid peer certificate: UnknownIssuer"),
        "{refused:?}"
    );

    let no_endpoint = server
        .iam_config(server.admin())
        .create_iam(proto::CreateIamRequest {
            name: "Plain".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let without = server
        .iam_config(server.admin())
        .test_user_login(proto::TestUserLoginRequest {
            iam_id: no_endpoint,
            userid: "ada".into(),
        })
        .await;
    assert_refused(
        without,
        Code::FailedPrecondition,
        "has no user-info endpoint",
    );
    let blank = server
        .iam_config(server.admin())
        .test_user_login(proto::TestUserLoginRequest {
            iam_id: good.clone(),
            userid: " ".into(),
        })
        .await;
    assert_refused(blank, Code::InvalidArgument, "userid: is required");
    let bad_id = server
        .iam_config(server.admin())
        .test_connection(proto::TestConnectionRequest { iam_id: "x".into() })
        .await;
    assert_refused(bad_id, Code::InvalidArgument, "iam_id:");
    let unknown = server
        .iam_config(server.admin())
        .test_user_login(proto::TestUserLoginRequest {
            iam_id: "00000000-0000-7000-8000-00000000ffff".into(),
            userid: "ada".into(),
        })
        .await;
    assert_refused(unknown, Code::NotFound, "does not exist");

    let (users, _) = snapshot(&server).await;
    assert_eq!(users, before.0, "asking the endpoint changes no user");
    server.stop().await;

    let logged = logs.text();
    assert!(
        logged.contains("personae.v1.IamConfig/TestUserLogin"),
        "the calls were logged"
    );
    for secret in [
        PASSWORD,
        "PRIVATE KEY",
        endpoint.client.key.lines().nth(1).unwrap(),
    ] {
        assert!(!logged.contains(secret), "{secret:?} reached a log line");
    }
}

/// A plain HTTP listener on loopback that records the `authorization` header of each request
/// and answers 401: a caller's own listener, as an APPLICATION_ADMIN could point an IAM at.
async fn recording_listener() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let record = seen.clone();
    let router = axum::Router::new().route(
        "/userinfo",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let header = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap_or("").to_owned());
                record.lock().unwrap().push(header);
                axum::http::StatusCode::UNAUTHORIZED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/userinfo", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (uri, seen)
}

/// Pointing an IAM's endpoint at another host does not take the stored password along: the
/// new host is called without it unless the same request gives it again.
async fn a_stored_password_does_not_follow_a_new_host(t: TestStore) {
    let endpoint = UserInfoServer::start().await;
    let server = TestServer::start(t).await;
    let id = iam(
        &server,
        "Okta",
        &endpoint,
        PASSWORD,
        &endpoint.ca.cert,
        None,
    )
    .await;
    let (uri, seen) = recording_listener().await;
    let mut iams = server.iam_config(server.admin());
    let current = iams
        .get_iam(proto::GetIamRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut changed = current.clone();
    changed.user_info_endpoint = Some(proto::UserInfoEndpoint {
        uri,
        tls: Some(proto::TlsConfig::default()),
        ..Default::default()
    });
    let moved = iams
        .update_iam(update_iam(
            &changed,
            &[
                "user_info_endpoint.uri",
                "user_info_endpoint.tls.ca_cert_pem",
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!moved.user_info_endpoint.unwrap().has_basic_auth_password);
    let connection = iams
        .test_connection(proto::TestConnectionRequest { iam_id: id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(connection.http_status, 401, "{connection:?}");
    let seen = seen.lock().unwrap().clone();
    // The username is kept (it is no secret); the password is not.
    let username_only = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:"))
    );
    assert_eq!(
        seen,
        vec![Some(username_only)],
        "the new host got no password"
    );
    server.stop().await;
}

on_both_stores!(
    the_endpoint_is_called_and_every_answer_reported,
    a_stored_password_does_not_follow_a_new_host,
);
