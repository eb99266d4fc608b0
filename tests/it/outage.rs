//! A PostgreSQL outage, on a private cluster this test creates, stops and restarts (never the
//! shared "main" one): every RPC answers UNAVAILABLE, fast, health follows the database, and
//! start-up names the cause of a failed connection.

use std::{
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::common::{
    TestServer, TestStore,
    grpc::{call_empty, every_rpc},
    process::free_addr,
};
use personae::store::SqlStore;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const PG_VERSION: &str = "15";

/// A PostgreSQL cluster of this test's own, dropped with it.
struct Cluster {
    name: String,
    port: u16,
}

impl Cluster {
    fn create() -> Self {
        drop_leftovers();
        let port = free_addr().port();
        let name = format!("personae_outage_{}", std::process::id());
        run(
            "pg_createcluster",
            &[PG_VERSION, &name, "--port", &port.to_string()],
        );
        let cluster = Self { name, port };
        cluster.start();
        cluster.psql("CREATE ROLE personae LOGIN PASSWORD 'personae'");
        cluster.psql("CREATE DATABASE personae OWNER personae");
        cluster
    }

    fn url(&self) -> String {
        format!(
            "postgres://personae:personae@127.0.0.1:{}/personae",
            self.port
        )
    }

    fn start(&self) {
        run("pg_ctlcluster", &[PG_VERSION, &self.name, "start"]);
    }

    fn stop(&self) {
        run(
            "pg_ctlcluster",
            &[PG_VERSION, &self.name, "stop", "-m", "fast"],
        );
    }

    /// Runs SQL as the superuser over the cluster's Unix socket.
    fn psql(&self, sql: &str) {
        run(
            "runuser",
            &[
                "-u",
                "postgres",
                "--",
                "psql",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "/var/run/postgresql",
                "-p",
                &self.port.to_string(),
                "-d",
                "postgres",
                "-c",
                sql,
            ],
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args([PG_VERSION, &self.name, "--stop"])
            .status();
    }
}

/// Drops the clusters of earlier runs that died before dropping theirs: those whose process
/// (named in the cluster's name) is gone.
fn drop_leftovers() {
    let listed = Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .expect("pg_lsclusters (PostgreSQL 15 needed)");
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        let Some(name) = line.split_whitespace().nth(1) else {
            continue;
        };
        let Some(pid) = name.strip_prefix("personae_outage_") else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("pg_dropcluster")
                .args([PG_VERSION, name, "--stop"])
                .status();
        }
    }
}

/// Runs a command that must succeed; creating clusters needs root, as scripts/test has.
fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (PostgreSQL 15 and root needed): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn health(server: &TestServer) -> i32 {
    HealthClient::new(server.channel())
        .check(HealthCheckRequest {
            service: "personae.v1.Users".into(),
        })
        .await
        .expect("health answers whatever the store's state")
        .into_inner()
        .status
}

/// Waits for health to report `status`, and returns how long that took.
async fn wait_for_health(server: &TestServer, status: ServingStatus, within: Duration) -> Duration {
    let start = Instant::now();
    while health(server).await != status as i32 {
        assert!(
            start.elapsed() < within,
            "health did not turn {status:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

/// Every RPC of the API answers UNAVAILABLE (an outage is not a bad key, a missing user, a bad
/// request or a bug), each in well under a second.
async fn every_rpc_is_unavailable(server: &TestServer) {
    for path in every_rpc() {
        let start = Instant::now();
        let status = call_empty(server, &path, Some(&server.admin_token))
            .await
            .expect_err("no call can succeed without the database");
        assert_eq!(status.code(), Code::Unavailable, "{path}: {status:?}");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{path} took {:?}: once the store is known to be away, calls fail fast",
            start.elapsed()
        );
    }
}

async fn start_up_error(url: &str) -> String {
    match SqlStore::open(url).await {
        Ok(_) => panic!("opening {url} must fail"),
        // As `personae` prints it: the error and its causes.
        Err(error) => format!("{:#}", anyhow::Error::new(error)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_unavailable_everywhere() {
    let cluster = Cluster::create();

    // At start-up the cause is named, not hidden behind a pool timeout.
    let wrong_password = cluster
        .url()
        .replace("personae:personae@", "personae:wrong@");
    let error = start_up_error(&wrong_password).await;
    assert!(error.contains("password authentication failed"), "{error}");
    let no_database = format!("{}/nonexistent", cluster.url().rsplit_once('/').unwrap().0);
    let error = start_up_error(&no_database).await;
    assert!(error.contains("does not exist"), "{error}");
    let refused = cluster
        .url()
        .replace(&cluster.port.to_string(), &free_addr().port().to_string());
    let error = start_up_error(&refused).await;
    assert!(error.to_lowercase().contains("refused"), "{error}");

    let store = Arc::new(
        SqlStore::open(&cluster.url())
            .await
            .expect("open the store"),
    );
    let server = TestServer::start(TestStore::of(store, cluster.url())).await;
    assert_eq!(health(&server).await, ServingStatus::Serving as i32);

    // The database stops.
    cluster.stop();
    wait_for_health(&server, ServingStatus::NotServing, Duration::from_secs(2)).await;
    every_rpc_is_unavailable(&server).await;
    cluster.start();
    wait_for_health(&server, ServingStatus::Serving, Duration::from_secs(2)).await;
    call_empty(
        &server,
        "/personae.v1.Permissions/ListPermissions",
        Some(&server.admin_token),
    )
    .await
    .expect("calls succeed again once the database is back");

    // Every connection is terminated and no new one is accepted.
    cluster.psql("ALTER DATABASE personae ALLOW_CONNECTIONS false");
    cluster
        .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'personae'");
    wait_for_health(&server, ServingStatus::NotServing, Duration::from_secs(2)).await;
    every_rpc_is_unavailable(&server).await;
    cluster.psql("ALTER DATABASE personae ALLOW_CONNECTIONS true");
    wait_for_health(&server, ServingStatus::Serving, Duration::from_secs(2)).await;
    call_empty(
        &server,
        "/personae.v1.Permissions/ListPermissions",
        Some(&server.admin_token),
    )
    .await
    .expect("calls succeed again once connections are accepted");

    server.stop().await;
}
