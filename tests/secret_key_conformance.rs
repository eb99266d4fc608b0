//! The service's secret key is checked when the store opens, on both stores: the first key given
//! is recorded (as a value sealed under it), the same key opens the store again, and another key
//! is refused at once with an error that says so. Part of the Store conformance suite.

mod common;

use common::TestStore;
use personae::{
    error::Error,
    secrets::{KeySource, new_key_hex},
    store::SqlStore,
};

async fn another_key_is_refused_when_the_store_opens(t: TestStore) {
    let first = KeySource::Hex(new_key_hex());
    let other = KeySource::Hex(new_key_hex());
    SqlStore::open_with(&t.url, &KeySource::None)
        .await
        .expect("no key: nothing secret is stored yet");
    SqlStore::open_with(&t.url, &first)
        .await
        .expect("the first key is recorded");
    SqlStore::open_with(&t.url, &first)
        .await
        .expect("the same key opens the store again");
    match SqlStore::open_with(&t.url, &other).await {
        Err(Error::FailedPrecondition(message)) => assert!(
            message.contains("is not the one this store's secrets are sealed under"),
            "{message}"
        ),
        Err(other) => panic!("another key: expected FAILED_PRECONDITION, got {other:?}"),
        Ok(_) => panic!("another key opened the store"),
    }
    let malformed = KeySource::Hex("not hex".into());
    match SqlStore::open_with(&t.url, &malformed).await {
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
        SqlStore::open_with(&t.url, &from_file).await.is_err(),
        "a key file with another key is refused too"
    );
}

on_both_stores!(another_key_is_refused_when_the_store_opens);
