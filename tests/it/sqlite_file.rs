//! The SQLite database file: one personae process (one store) has it open at a time, since on
//! SQLite a process's caches hear only its own commits; and a new database is readable by its
//! owner only, like the key file beside it.

use std::{
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::Path,
    process::{Output, Stdio},
    time::Duration,
};

use crate::common::{
    process::{free_addr, personae, serve},
    reopen,
};
use personae::{error::Error, secrets::KeySource, store::SqlStore};
use tokio::process::Command;

/// Runs a personae command to its end, which must come soon.
async fn run(mut command: Command) -> Output {
    let output = command.stderr(Stdio::piped()).output();
    tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the command ended within 30 s")
        .expect("the command ran")
}

/// The file's permission bits, in octal as `ls -l` and `chmod` show them.
fn mode(path: &Path) -> String {
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o777)
}

/// While `personae serve` has a SQLite database open, every command that opens it (a second
/// server, migrate, bootstrap, rotate-secret-key) fails at once, saying why; once the first has
/// ended (killed here, so never having released anything itself), a new server starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_a_sqlite_database_is_refused_until_the_first_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("personae.db");
    let url = format!("sqlite://{}", database.display());
    let mut first = serve(&url).await.child;

    let second_server = {
        let mut command = personae(&url, &["serve"]);
        command
            .args(["--listen", &free_addr().to_string()])
            .args(["--metrics-listen", &free_addr().to_string()]);
        command
    };
    let commands = [
        ("serve", second_server),
        ("migrate", personae(&url, &["migrate"])),
        ("bootstrap", personae(&url, &["bootstrap"])),
        ("rotate-secret-key", personae(&url, &["rotate-secret-key"])),
    ];
    for (name, command) in commands {
        let output = run(command).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{name} ran beside serve: {stderr}"
        );
        for expected in [
            format!("the SQLite database {} is in use", database.display()),
            "SQLite allows one personae process per database".into(),
            "use PostgreSQL to run several replicas".into(),
        ] {
            assert!(
                stderr.contains(&expected),
                "{name}: {expected:?} in {stderr}"
            );
        }
    }

    first.kill().await.expect("kill the first server");
    let mut next = serve(&url).await.child;
    next.kill().await.expect("kill the next server");
}

/// In one process too a SQLite database is open in one store at a time: a second would not hear
/// the first's commits either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_is_open_in_one_store_at_a_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("personae.db").display());
    let first = SqlStore::open(&url).await.expect("the first store opens");
    match SqlStore::open(&url).await {
        Err(Error::FailedPrecondition(message)) => assert!(
            message.contains("SQLite allows one personae process per database"),
            "{message}"
        ),
        other => panic!("a second store: {:?}", other.err()),
    }
    drop(first);
    reopen(&url, &KeySource::None)
        .await
        .expect("the database opens again once the first store is closed");
    SqlStore::open("sqlite::memory:")
        .await
        .expect("an in-memory database needs no lock");
}

/// A new database, its write-ahead log and shared-memory files, and the lock file beside it are
/// readable and writable by their owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sqlite_database_is_readable_by_its_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("personae.db");
    let _store = SqlStore::open(&format!("sqlite://{}", database.display()))
        .await
        .expect("open a new SQLite store");
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let path = dir.path().join(format!("personae.db{suffix}"));
        assert_eq!(mode(&path), "600", "{}", path.display());
    }
}

/// An existing database keeps the mode its operator gave it, with a warning when others have
/// access to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_database_keeps_its_mode_with_a_warning() {
    let logs = crate::common::logs::captured();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("personae.db");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(&database)
        .expect("create an empty database");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o640)).unwrap();
    let _store = SqlStore::open(&format!("sqlite://{}", database.display()))
        .await
        .expect("open the existing SQLite store");
    assert_eq!(mode(&database), "640", "the mode it was given");
    let logged = logs.text();
    let warning = logged
        .lines()
        .find(|line| line.contains("users other than its owner have access"))
        .expect("a warning that others have access to the database");
    assert!(
        warning.contains(&database.display().to_string()) && warning.contains("640"),
        "{warning}"
    );
}
