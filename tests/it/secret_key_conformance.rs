//! The service's secret key is checked when the store opens, on both stores: the first key given
//! is recorded (as a value sealed under it), the same key opens the store again, and another key
//! is refused at once with an error that says so. Part of the Store conformance suite.

use crate::common::{
    TestStore,
    certs::{CURRENT, certificate},
    reopen,
    store::{example_endpoint, new_iam, record},
};
use personae::{
    domain::{
        Id,
        address::AddressPolicy,
        iam::{EndpointSettings, EndpointUri, NewIam, TlsSettings},
        now,
        tls::{Certificates, PrivateKey},
    },
    error::Error,
    secrets::{KeySource, new_key_hex, parse_key},
    store::{AuditStore, IamStore},
};

async fn another_key_is_refused_when_the_store_opens(t: TestStore) {
    let t = t.close();
    // The test store's key, made now if it is a SQLite key file made on first need.
    t.secret_key.load(true).expect("the test store's key");
    let first = t.secret_key.clone();
    let other = KeySource::Hex(new_key_hex());
    reopen(&t.url, &KeySource::None)
        .await
        .expect("no key: nothing secret is stored yet");
    reopen(&t.url, &first)
        .await
        .expect("the first key given is recorded, or matches the one recorded");
    reopen(&t.url, &first)
        .await
        .expect("the same key opens the store again");
    match reopen(&t.url, &other).await {
        Err(Error::FailedPrecondition(message)) => assert!(
            message.contains("is not the one this store's secrets are sealed under"),
            "{message}"
        ),
        Err(other) => panic!("another key: expected FAILED_PRECONDITION, got {other:?}"),
        Ok(_) => panic!("another key opened the store"),
    }
    let malformed = KeySource::Hex("not hex".into());
    match reopen(&t.url, &malformed).await {
        Err(Error::Internal(cause)) => assert!(
            format!("{cause:#}").contains("PERSONAE_SECRET_KEY must be 32 bytes as 64 hex"),
            "{cause:#}"
        ),
        Err(other) => panic!("a malformed key: expected a start-up error, got {other:?}"),
        Ok(_) => panic!("a malformed key opened the store"),
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{}\n", new_key_hex())).expect("writing a key file");
    let from_file = KeySource::File {
        path: file,
        create: false,
    };
    assert!(
        reopen(&t.url, &from_file).await.is_err(),
        "a key file with another key is refused too"
    );
}

/// An IAM whose endpoint presents a client certificate, its key sealed like a password.
fn iam_with_client_key(name: &str) -> NewIam {
    let client = certificate(&["client.example.com"], CURRENT, None);
    let field = "user_info_endpoint.tls";
    let endpoint = EndpointSettings {
        uri: EndpointUri::parse("uri", "https://iam.example.com/", AddressPolicy::default())
            .unwrap(),
        basic_auth_username: String::new(),
        basic_auth_password: None,
        tls: TlsSettings {
            ca_cert: None,
            client_cert: Some(Certificates::parse(field, &client.cert, now()).unwrap()),
            client_key: Some(PrivateKey::parse(field, &client.key).unwrap()),
        },
        timeouts: Default::default(),
    };
    new_iam(name, Some(endpoint))
}

fn key(hex: &str) -> [u8; 32] {
    parse_key(hex, "test").unwrap()
}

/// Rotation seals every secret again under the next key version, in one audited transaction:
/// afterwards only the new key opens the store. A ciphertext copied to another row does not
/// open there (its associated data names its row), so rotation stops at it and changes nothing.
async fn rotation_reseals_every_secret_and_refuses_a_moved_one(t: TestStore) {
    let t = t.close();
    let store = reopen(&t.url, &t.secret_key).await.unwrap();
    let (a, b) = (Id::new(), Id::new());
    let with_password = |name| new_iam(name, Some(example_endpoint("hunter2")));
    store
        .create_iam(a, with_password("A"), record("CreateIam", a))
        .await
        .unwrap();
    store
        .create_iam(b, with_password("B"), record("CreateIam", b))
        .await
        .unwrap();
    let c = Id::new();
    store
        .create_iam(c, iam_with_client_key("C"), record("CreateIam", c))
        .await
        .unwrap();
    let (sequence, _) = store.audit_head().await.unwrap();

    let second = new_key_hex();
    let rotation = store.rotate_secret_key(&key(&second)).await.unwrap();
    assert_eq!((rotation.version, rotation.secrets), (2, 3));
    assert_eq!(
        store.audit_head().await.unwrap().0,
        sequence + 1,
        "one audit event"
    );
    drop(store);
    match reopen(&t.url, &t.secret_key).await {
        Err(Error::FailedPrecondition(message)) => {
            assert!(message.contains("key version 2"), "{message}")
        }
        other => panic!("the old key after a rotation: {:?}", other.err()),
    }
    let reopened = reopen(&t.url, &KeySource::Hex(second.clone()))
        .await
        .expect("the new key opens the store");
    let third = new_key_hex();
    let again = reopened.rotate_secret_key(&key(&third)).await.unwrap();
    assert_eq!(
        (again.version, again.secrets),
        (3, 3),
        "the rotated secrets open under the new key"
    );

    t.execute_raw(&format!(
        "UPDATE iams SET basic_auth_password = \
         (SELECT basic_auth_password FROM iams WHERE id = '{a}') WHERE id = '{b}'"
    ))
    .await;
    let (before, _) = reopened.audit_head().await.unwrap();
    match reopened.rotate_secret_key(&key(&new_key_hex())).await {
        Err(Error::FailedPrecondition(message)) => assert!(
            message.starts_with(&format!("iams row {b}: basic_auth_password does not open")),
            "{message}"
        ),
        other => panic!("a moved ciphertext: {other:?}"),
    }
    assert_eq!(
        reopened.audit_head().await.unwrap().0,
        before,
        "nothing changed"
    );
    drop(reopened);
    reopen(&t.url, &KeySource::Hex(third))
        .await
        .expect("the key before the refused rotation still opens the store");
}

/// A secret a server still holding the key before a rotation wrote after it (here: the secret
/// as it was sealed then, put back) is reported as sealed under that key version, not as
/// altered or copied, both when it is read and when the key is rotated again.
async fn a_secret_under_another_key_version_is_told_from_a_tampered_one(t: TestStore) {
    let t = t.close();
    let store = reopen(&t.url, &t.secret_key).await.unwrap();
    let id = Id::new();
    store
        .create_iam(
            id,
            new_iam("Directory", Some(example_endpoint("hunter2"))),
            record("CreateIam", id),
        )
        .await
        .unwrap();
    t.execute_raw(&format!(
        "CREATE TABLE sealed_under_version_1 AS \
         SELECT basic_auth_password FROM iams WHERE id = '{id}'"
    ))
    .await;
    assert_eq!(
        store
            .rotate_secret_key(&key(&new_key_hex()))
            .await
            .unwrap()
            .version,
        2
    );
    t.execute_raw(&format!(
        "UPDATE iams SET basic_auth_password = \
         (SELECT basic_auth_password FROM sealed_under_version_1) WHERE id = '{id}'"
    ))
    .await;

    let read = store.iam_endpoint(id).await.unwrap_err().to_string();
    let rotated = store
        .rotate_secret_key(&key(&new_key_hex()))
        .await
        .unwrap_err()
        .to_string();
    for told in [rotated, read] {
        assert!(
            told.starts_with(&format!(
                "iams row {id}: basic_auth_password is sealed under secret key version 1, and \
                 this server's key is version 2: a server still running with the older key \
                 wrote it"
            )),
            "{told}"
        );
        assert!(!told.contains("altered"), "{told}");
    }
}

on_both_stores!(
    another_key_is_refused_when_the_store_opens,
    rotation_reseals_every_secret_and_refuses_a_moved_one,
    a_secret_under_another_key_version_is_told_from_a_tampered_one,
);
