//! The SQLite database file: one personae process (one store) has it open at a time, since on
//! SQLite a process's caches hear only its own commits.

mod common;

use std::{
    net::{SocketAddr, TcpListener as StdListener},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use personae::{error::Error, store::SqlStore};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

fn free_addr() -> SocketAddr {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn personae(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_personae"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PERSONAE_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

/// `personae serve` on `database_url`, once it answers.
async fn serve(database_url: &str) -> Child {
    let grpc = free_addr();
    let child = personae(database_url, &["serve"])
        .args(["--listen", &grpc.to_string()])
        .args(["--metrics-listen", &free_addr().to_string()])
        .stderr(Stdio::null())
        .spawn()
        .expect("start personae serve");
    let endpoint = Channel::from_shared(format!("http://{grpc}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while endpoint.connect().await.is_err() {
        assert!(Instant::now() < deadline, "personae serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

/// Runs a personae command to its end, which must come soon.
async fn run(mut command: Command) -> Output {
    let output = command.stderr(Stdio::piped()).output();
    tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the command ended within 30 s")
        .expect("the command ran")
}

/// While `personae serve` has a SQLite database open, every command that opens it (a second
/// server, migrate, bootstrap, rotate-secret-key) fails at once, saying why; once the first has
/// ended (killed here, so never having released anything itself), a new server starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_a_sqlite_database_is_refused_until_the_first_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("personae.db");
    let url = format!("sqlite://{}", database.display());
    let mut first = serve(&url).await;

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
    let mut next = serve(&url).await;
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
    SqlStore::open(&url)
        .await
        .expect("the database opens again once the first store is closed");
    SqlStore::open("sqlite::memory:")
        .await
        .expect("an in-memory database needs no lock");
}
