//! How long SyncAll takes over an IAM's users against a local HTTPS user-info endpoint, on
//! SQLite and PostgreSQL.
//!
//!     cargo bench --bench sync -- [--store sqlite|postgres|both] [--users N] [--concurrency N]
//!
//! For each store: seeds N users straight in SQL, starts the release `personae serve`, starts
//! the tests' user-info endpoint (rustls, client certificate and basic auth required) with an
//! answer for every user, moves the users into an IAM calling it, and times two SyncAll runs
//! over gRPC: the first, which gives every user their groups, authorizations and a Trino name,
//! and a second, which finds nothing to change. The target (issue 9): 100,000 users in under
//! 60 s. See bench/README.md.

mod postgres;
mod seed;
mod server;

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use clap::Parser;
use personae::proto::{
    self, Platform, iam_config_client::IamConfigClient, users_client::UsersClient,
};
use postgres::Stores;
use sqlx::{
    AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection,
    sqlite::SqliteConnectOptions,
};
use tonic::{
    Request, Status, metadata::AsciiMetadataValue, service::interceptor::InterceptedService,
    transport::Channel,
};

use personae_testkit::user_info_server::UserInfoServer;
use seed::DataSet;

/// The target: this many users synced in under this long.
const TARGET_USERS: usize = 100_000;
const TARGET: Duration = Duration::from_secs(60);

/// Seeds users and times SyncAll over them.
#[derive(Parser, Debug)]
struct Args {
    /// Which store to measure.
    #[arg(long, value_enum, default_value_t = Stores::Both)]
    store: Stores,
    /// How many users the IAM has.
    #[arg(long, default_value_t = TARGET_USERS)]
    users: usize,
    /// SyncAll's concurrency toward the endpoint (0: the server's default, 8).
    #[arg(long, default_value_t = 0)]
    concurrency: i32,
    /// Passed by `cargo bench` to every benchmark; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One store's timings.
struct Run {
    store: &'static str,
    first: Duration,
    again: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.users >= 1, "--users must be at least 1");
    let postgres = args.store.postgres_url()?;
    let mut runs = Vec::new();
    if args.store.sqlite() {
        runs.push(run_sqlite(&args).await.context("SQLite")?);
    }
    if let Some(url) = postgres {
        runs.push(run_postgres(&url, &args).await.context("PostgreSQL")?);
    }
    println!("{}", render(&args, &runs));
    Ok(())
}

async fn run_sqlite(args: &Args) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("personae.db").display());
    let log = dir.path().join("personae.log");
    let token = personae::domain::api_key::generate().token;
    let data = DataSet::new(args.users);
    server::bootstrap(&url, &token, &log)?;
    eprintln!("sqlite: seeding {} users", args.users);
    let seeding = SqliteConnectOptions::from_str(&url)?.foreign_keys(false);
    let mut conn = SqliteConnection::connect_with(&seeding).await?;
    seed::sqlite(&mut conn, &data).await?;
    conn.close().await?;
    // On SQLite the server makes its secret key beside the database when first needed.
    let (first, again) = measure(&url, &log, &token, &[], args, &data).await?;
    Ok(Run {
        store: "SQLite",
        first,
        again,
    })
}

async fn run_postgres(admin_url: &str, args: &Args) -> anyhow::Result<Run> {
    // The personae_test_ prefix lets scripts/pg-test-env drop it should this run die.
    let name = format!("personae_test_bench_sync_{}", std::process::id());
    let url = postgres::with_database(admin_url, &name);
    let mut admin = PgConnection::connect(admin_url).await?;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .with_context(|| format!("creating the database {name}"))?;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("personae.log");
    let result = async {
        let token = personae::domain::api_key::generate().token;
        let data = DataSet::new(args.users);
        server::bootstrap(&url, &token, &log)?;
        eprintln!("postgres: seeding {} users", args.users);
        // Held open until the end, so scripts/pg-test-env leaves the database alone.
        let mut conn = PgConnection::connect(&url).await?;
        seed::postgres(&mut conn, &data).await?;
        let key = personae::secrets::new_key_hex();
        let timings = measure(
            &url,
            &log,
            &token,
            &[("PERSONAE_SECRET_KEY", &key)],
            args,
            &data,
        )
        .await;
        conn.close().await?;
        timings
    }
    .await;
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    let (first, again) = result?;
    Ok(Run {
        store: "PostgreSQL",
        first,
        again,
    })
}

type Authed = InterceptedService<Channel, Bearer>;

#[derive(Clone)]
struct Bearer(AsciiMetadataValue);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// The answer the endpoint gives user number `i`.
fn answer(i: usize) -> String {
    serde_json::json!({
        "groups": [{"name": format!("Team {}", i % 50)}, {"name": "Everyone"}],
        "authorizations": {
            "Region": [format!("R{}", i % 5)],
            "CostCenter": [format!("C{}", i % 20), "Shared"],
        },
        "trino_login": format!("trino_{i}"),
    })
    .to_string()
}

/// Starts the server and the endpoint, moves every seeded user into an IAM calling it, and
/// times two SyncAll runs.
async fn measure(
    url: &str,
    log: &std::path::Path,
    token: &str,
    env: &[(&str, &str)],
    args: &Args,
    data: &DataSet,
) -> anyhow::Result<(Duration, Duration)> {
    // The endpoint started below listens on loopback, which the server calls only when allowed.
    let env = [
        env,
        &[("PERSONAE_USER_INFO_ALLOW_PRIVATE_ADDRESSES", "true")],
    ]
    .concat();
    let mut running = server::Server::start(url, log, &env)?;
    let channel = running.channel().await?;
    let bearer = Bearer(format!("Bearer {token}").parse()?);
    let mut iams = IamConfigClient::with_interceptor(channel.clone(), bearer.clone());
    let users: UsersClient<Authed> = UsersClient::with_interceptor(channel, bearer);

    let endpoint = UserInfoServer::start().await;
    let iam = iams
        .create_iam(proto::CreateIamRequest {
            name: "Bench directory".into(),
            user_info_endpoint: Some(endpoint.settings()),
            profile_schema: vec![proto::ProfileSchemaEntry {
                platform: Platform::Trino as i32,
                attribute: "trino_login".into(),
                aws_user_type: 0,
            }],
        })
        .await?
        .into_inner();
    let admin = users
        .clone()
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Username(
                "admin@personae.local".into(),
            )),
        })
        .await?
        .into_inner();
    let moved = move_users(url, &iam.id, &admin.id).await?;
    ensure!(moved == data.users as u64, "moved {moved} users");
    for i in 0..data.users {
        endpoint
            .script
            .answer(&data.email(i), 200, &answer(i), Duration::ZERO);
    }

    let mut times = Vec::new();
    for (run, changed) in [("first", data.users), ("again", 0)] {
        eprintln!("syncing {} users ({run})", data.users);
        let started = Instant::now();
        let mut stream = iams
            .sync_all(proto::SyncAllRequest {
                iam_id: iam.id.clone(),
                dry_run: false,
                concurrency: args.concurrency,
            })
            .await?
            .into_inner();
        let mut last = None;
        while let Some(report) = stream.message().await? {
            last = Some(report);
        }
        let elapsed = started.elapsed();
        let last = last.context("SyncAll sent no report")?;
        ensure!(
            last.users_done == data.users as i64
                && last.users_failed == 0
                && last.users_changed == changed as i64,
            "the {run} sync ended with {last:?}"
        );
        eprintln!("  {:.1} s", elapsed.as_secs_f64());
        times.push(elapsed);
    }
    // A user the sync changed, checked: its authorizations and Trino name are the endpoint's.
    let middle = data.middle();
    let synced = users
        .clone()
        .get_user(proto::GetUserRequest {
            user: Some(proto::get_user_request::User::Id(
                data.id(middle).to_string(),
            )),
        })
        .await?
        .into_inner();
    let trino = format!("trino_{middle}");
    ensure!(
        synced.authorizations.len() == 2
            && synced
                .external_usernames
                .iter()
                .any(|n| n.username == trino),
        "user {middle} after the sync: {synced:?}"
    );
    Ok((times[0], times[1]))
}

/// Moves every seeded user (all but the admin) into IAM `iam`, straight in SQL; how many.
async fn move_users(url: &str, iam: &str, admin: &str) -> anyhow::Result<u64> {
    let update = format!("UPDATE users SET iam_id = '{iam}' WHERE id <> '{admin}'");
    Ok(if url.starts_with("sqlite:") {
        let mut conn = SqliteConnection::connect(url).await?;
        conn.execute(AssertSqlSafe(update)).await?.rows_affected()
    } else {
        let mut conn = PgConnection::connect(url).await?;
        conn.execute(AssertSqlSafe(update)).await?.rows_affected()
    })
}

fn render(args: &Args, runs: &[Run]) -> String {
    let concurrency = match args.concurrency {
        0 => "8 (default)".to_owned(),
        n => n.to_string(),
    };
    let mut text = format!(
        "SyncAll over {} users, concurrency {concurrency}, one local HTTPS endpoint\n\n\
         | store | first sync | users/s | again (no change) | users/s | first / 60 s target |\n\
         |---|---|---|---|---|---|\n",
        args.users
    );
    for run in runs {
        let rate = |d: Duration| args.users as f64 / d.as_secs_f64();
        let scaled = run.first.as_secs_f64() * TARGET_USERS as f64 / args.users as f64;
        text.push_str(&format!(
            "| {} | {:.1} s | {:.0} | {:.1} s | {:.0} | {:.2} |\n",
            run.store,
            run.first.as_secs_f64(),
            rate(run.first),
            run.again.as_secs_f64(),
            rate(run.again),
            scaled / TARGET.as_secs_f64(),
        ));
    }
    if args.users != TARGET_USERS {
        text.push_str(&format!(
            "\nThe last column scales the first sync to {TARGET_USERS} users linearly.\n"
        ));
    }
    text
}
