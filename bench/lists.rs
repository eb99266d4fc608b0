//! How GetUser and ListUsers scale with the number of users, on SQLite and PostgreSQL.
//!
//!     cargo bench --bench lists -- [--store sqlite|postgres|both] [--sizes N,N,...]
//!
//! For each store and each size, seeds a fresh database straight in SQL, starts the release
//! `personae serve` on it, and times raw gRPC calls one at a time, after untimed ones that take
//! every statement past PostgreSQL's five runs before it may switch to a generic plan. Prints
//! p50 and p99 at each size and the largest size's over the smallest's; see bench/README.md.

mod grpc;
mod postgres;
mod seed;
mod server;

use std::{str::FromStr, time::Duration};

use anyhow::{Context as _, bail, ensure};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use clap::Parser;
use http::uri::PathAndQuery;
use personae::proto::{
    GetUserRequest, ListUsersRequest, ListUsersResponse, User, get_user_request,
};
use postgres::Stores;
use prost::Message as _;
use sqlx::{
    AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection,
    sqlite::SqliteConnectOptions,
};

use grpc::{Client, Iterations, Samples};
use seed::DataSet;

/// Seeds up to a million users and times GetUser and ListUsers at two sizes.
#[derive(Parser, Debug)]
struct Args {
    /// Which store to measure.
    #[arg(long, value_enum, default_value_t = Stores::Both)]
    store: Stores,
    /// Users in each database, smallest first.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000, 100_000, 1_000_000])]
    sizes: Vec<usize>,
    /// Timed calls per case, at most.
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// Untimed calls per case before timing (at least 6: PostgreSQL may switch a statement to
    /// a generic plan after its fifth run, and that plan is the one to time).
    #[arg(long, default_value_t = 30)]
    warm_up: usize,
    /// Seconds after which a case stops timing (once it has 20 samples).
    #[arg(long, default_value_t = 15)]
    budget_secs: u64,
    /// Passed by `cargo bench` to every benchmark; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The p99 every call must stay under at the largest size, and the search's.
const TARGET_P99: Duration = Duration::from_millis(10);
const TARGET_SEARCH_P99: Duration = Duration::from_millis(50);
/// The largest acceptable ratio of p99 at the largest size over the smallest.
const TARGET_RATIO: f64 = 1.5;

/// Filtered and deep pages use the default page size.
const FILTERED_PAGE: i32 = 50;

const GET_USER: &str = "/personae.v1.Users/GetUser";
const LIST_USERS: &str = "/personae.v1.Users/ListUsers";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.sizes.len() >= 2
            && args.sizes[0] >= 5_000
            && args.sizes.windows(2).all(|pair| pair[0] < pair[1]),
        "need at least two --sizes, growing, the first at least 5000 (the group needs a full \
         page of members)"
    );
    ensure!(
        args.warm_up > 5,
        "--warm-up must be more than 5: the timed calls are those after a generic plan may be used"
    );
    let iterations = Iterations {
        warm_up: args.warm_up,
        measured: args.iterations.max(1),
        budget: Duration::from_secs(args.budget_secs),
        min_measured: 20.min(args.iterations.max(1)),
    };
    let postgres = args.store.postgres_url()?;
    let options = Options {
        token: personae::domain::api_key::generate().token,
        iterations,
    };
    let sizes = &args.sizes;

    let mut tables = Vec::new();
    if args.store.sqlite() {
        let mut runs = Vec::new();
        for &users in sizes {
            runs.push(run_sqlite(users, &options).await?);
        }
        let table = render("SQLite", &runs);
        println!("{table}");
        tables.push(table);
    }
    if let Some(url) = postgres {
        let mut runs = Vec::new();
        for &users in sizes {
            runs.push(run_postgres(&url, users, &options).await?);
        }
        let table = render("PostgreSQL", &runs);
        println!("{table}");
        tables.push(table);
    }
    if tables.len() > 1 {
        // Both again, together, so the pair is easy to copy.
        println!("==== summary ====\n\n{}", tables.join("\n"));
    }
    Ok(())
}

/// How every case is called.
struct Options {
    /// The bootstrap admin's API key: the admin holds every permission.
    token: String,
    iterations: Iterations,
}

/// The outcome of one store at one size.
struct Run {
    users: usize,
    seed_secs: f64,
    cases: Vec<(String, Samples)>,
}

async fn run_sqlite(users: usize, options: &Options) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("personae.db").display());
    let log = dir.path().join("personae.log");
    // Made first so that every seeded id is older than the bootstrap admin's, which then stays
    // out of the way at the end of the id order.
    let data = DataSet::new(users);
    eprintln!("sqlite, {users} users: migrating and bootstrapping");
    server::bootstrap(&url, &options.token, &log)?;
    eprintln!("sqlite, {users} users: seeding");
    // The seeded rows are consistent by construction; checking every foreign key would only
    // slow the seeding down.
    let seeding = SqliteConnectOptions::from_str(&url)?.foreign_keys(false);
    let mut conn = SqliteConnection::connect_with(&seeding).await?;
    let seed_secs = seed::sqlite(&mut conn, &data).await?;
    conn.close().await?;
    eprintln!("sqlite, {users} users: seeded in {seed_secs:.1} s");
    let cases = measure(&url, &log, &data, options)
        .await
        .with_context(|| format!("SQLite with {users} users"))?;
    Ok(Run {
        users,
        seed_secs,
        cases,
    })
}

async fn run_postgres(admin_url: &str, users: usize, options: &Options) -> anyhow::Result<Run> {
    // The personae_test_ prefix lets scripts/pg-test-env drop it should this run die.
    // Digits and letters only, so it is safe to put in SQL as it is.
    let name = format!("personae_test_bench_{users}_{}", std::process::id());
    let url = postgres::with_database(admin_url, &name);
    let mut admin = PgConnection::connect(admin_url).await?;
    admin
        .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .await?;
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .with_context(|| format!("creating the database {name}"))?;
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("personae.log");
    let result = async {
        // Made first, as for SQLite, so the admin's id comes after every seeded one.
        let data = DataSet::new(users);
        eprintln!("postgres, {users} users: migrating and bootstrapping");
        server::bootstrap(&url, &options.token, &log)?;
        eprintln!("postgres, {users} users: seeding");
        // Held open until the end: scripts/pg-test-env, run by anyone's tests meanwhile, drops
        // personae_test_ databases that nobody is connected to.
        let mut conn = PgConnection::connect(&url).await?;
        let seed_secs = seed::postgres(&mut conn, &data).await?;
        eprintln!("postgres, {users} users: seeded in {seed_secs:.1} s");
        let cases = measure(&url, &log, &data, options).await?;
        conn.close().await?;
        anyhow::Ok(Run {
            users,
            seed_secs,
            cases,
        })
    }
    .await
    .with_context(|| format!("PostgreSQL with {users} users"));
    admin
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    result
}

/// Starts the server on the seeded database and times every case.
async fn measure(
    url: &str,
    log: &std::path::Path,
    data: &DataSet,
    options: &Options,
) -> anyhow::Result<Vec<(String, Samples)>> {
    let mut server = server::Server::start(url, log, &[])?;
    server.channel().await?;
    let address = server.address.to_string();
    let mut client = Client::connect(&address, &options.token).await?;
    let first: ListUsersResponse = client
        .typed(
            &PathAndQuery::from_static(LIST_USERS),
            &ListUsersRequest {
                page_size: 1,
                ..Default::default()
            },
        )
        .await?;
    ensure!(first.users.len() == 1, "the server lists no users");
    let cases = cases(&mut client, data).await?;
    let mut results = Vec::new();
    for case in cases {
        eprint!("  {:<36}", case.name);
        let samples = grpc::time(&mut client, &case.path, &case.requests, options.iterations)
            .await
            .with_context(|| format!("timing {}", case.name))?;
        eprintln!(
            "p50 {:>9}  p99 {:>9}  ({} calls)",
            millis(samples.percentile(50.0)),
            millis(samples.percentile(99.0)),
            samples.len()
        );
        results.push((case.name, samples));
    }
    drop(server);
    Ok(results)
}

/// One timed call: encoded requests, sent in turn.
struct Case {
    name: String,
    path: PathAndQuery,
    requests: Vec<Bytes>,
}

impl Case {
    fn new(name: impl Into<String>, path: &'static str, requests: Vec<Bytes>) -> Self {
        Self {
            name: name.into(),
            path: PathAndQuery::from_static(path),
            requests,
        }
    }
}

/// Builds the cases, checking once each that the call answers what it should: a fast wrong
/// answer (an empty page, say) would make a meaningless timing.
async fn cases(client: &mut Client, data: &DataSet) -> anyhow::Result<Vec<Case>> {
    let get = PathAndQuery::from_static(GET_USER);
    let list = PathAndQuery::from_static(LIST_USERS);
    let mut cases = Vec::new();

    // Spread over the table, so that the calls do not all hit the same few pages.
    let picks: Vec<usize> = (0..64).map(|k| (k * data.users / 64) + k).collect();
    let mut requests = Vec::new();
    for &index in &picks {
        let request = GetUserRequest {
            user: Some(get_user_request::User::Id(data.id(index).to_string())),
        };
        if index == picks[0] {
            let user: User = client.typed(&get, &request).await?;
            ensure!(user.id == data.id(index).to_string(), "GetUser: wrong user");
        }
        requests.push(request.encode_to_vec().into());
    }
    cases.push(Case::new("GetUser by id", GET_USER, requests));

    for size in [1, 5, 10, 50, 100] {
        let request = ListUsersRequest {
            page_size: size,
            ..Default::default()
        };
        let page: ListUsersResponse = client.typed(&list, &request).await?;
        ensure!(page.users.len() == size as usize, "ListUsers: short page");
        cases.push(Case::new(
            format!("ListUsers page_size={size}"),
            LIST_USERS,
            vec![request.encode_to_vec().into()],
        ));
    }

    // A real token from the first page, pointed at the middle of the id order.
    let mut request = ListUsersRequest {
        page_size: FILTERED_PAGE,
        ..Default::default()
    };
    let first: ListUsersResponse = client.typed(&list, &request).await?;
    request.page_token = mid_table_token(&first.next_page_token, data)?;
    let page: ListUsersResponse = client.typed(&list, &request).await?;
    ensure!(
        page.users.len() == FILTERED_PAGE as usize
            && page.users[0].id == data.id(data.middle() + 1).to_string(),
        "ListUsers deep page: not the page after the middle user"
    );
    cases.push(Case::new(
        format!("ListUsers deep page ({FILTERED_PAGE})"),
        LIST_USERS,
        vec![request.encode_to_vec().into()],
    ));

    let request = ListUsersRequest {
        query: data.email(data.middle()),
        page_size: FILTERED_PAGE,
        ..Default::default()
    };
    let page: ListUsersResponse = client.typed(&list, &request).await?;
    ensure!(
        page.users.len() == 1 && page.users[0].id == data.id(data.middle()).to_string(),
        "ListUsers query: expected exactly the middle user, got {} users",
        page.users.len()
    );
    cases.push(Case::new(
        "ListUsers query (1 match)",
        LIST_USERS,
        vec![request.encode_to_vec().into()],
    ));

    let request = ListUsersRequest {
        group_id: data.group_id.to_string(),
        page_size: FILTERED_PAGE,
        ..Default::default()
    };
    let page: ListUsersResponse = client.typed(&list, &request).await?;
    let group_id = data.group_id.to_string();
    ensure!(
        page.users.len() == FILTERED_PAGE as usize
            && page.users.iter().all(|u| u.group_ids.contains(&group_id)),
        "ListUsers group_id: expected a full page of members"
    );
    cases.push(Case::new(
        format!("ListUsers group_id (1%, {FILTERED_PAGE})"),
        LIST_USERS,
        vec![request.encode_to_vec().into()],
    ));

    let request = ListUsersRequest {
        permission: seed::EXTRA_PERMISSION.into(),
        page_size: FILTERED_PAGE,
        ..Default::default()
    };
    let page: ListUsersResponse = client.typed(&list, &request).await?;
    ensure!(
        page.users.len() == FILTERED_PAGE as usize
            && page
                .users
                .iter()
                .all(|u| u.permissions.iter().any(|p| p == seed::EXTRA_PERMISSION)),
        "ListUsers permission: expected a full page of holders"
    );
    cases.push(Case::new(
        format!("ListUsers permission (1%, {FILTERED_PAGE})"),
        LIST_USERS,
        vec![request.encode_to_vec().into()],
    ));
    Ok(cases)
}

/// A page token is `<filter fingerprint>|<last id>` in URL-safe base64 without padding; keeping
/// the fingerprint and swapping the id gives the page after the middle user.
fn mid_table_token(token: &str, data: &DataSet) -> anyhow::Result<String> {
    let text = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(token)
            .context("decoding the token")?,
    )?;
    let Some((fingerprint, _)) = text.split_once('|') else {
        bail!("unexpected page token {text:?}");
    };
    Ok(URL_SAFE_NO_PAD.encode(format!("{fingerprint}|{}", data.id(data.middle()))))
}

// ---------------------------------------------------------------------------------------------
// Report.

fn render(store: &str, runs: &[Run]) -> String {
    let (Some(smallest), Some(largest)) = (runs.first(), runs.last()) else {
        return format!("== {store} ==\nno runs\n");
    };
    let seeding: Vec<String> = runs
        .iter()
        .map(|run| format!("{} users in {:.1} s", run.users, run.seed_secs))
        .collect();
    let mut out = format!("== {store} ==\nseeding: {}\n\n", seeding.join(", "));
    out += &format!("{:<34}", "call");
    for run in runs {
        let size = size_label(run.users);
        out += &format!(" {:>9} {:>9}", format!("{size} p50"), format!("{size} p99"));
    }
    out += &format!(" {:>7} {:>7} {:>9}  target\n", "x p50", "x p99", "calls");
    for (i, (name, _)) in smallest.cases.iter().enumerate() {
        let (a, b) = (&smallest.cases[i].1, &largest.cases[i].1);
        let ratio = |p: f64| b.percentile(p).as_secs_f64() / a.percentile(p).as_secs_f64();
        let limit = if name.contains("query") {
            TARGET_SEARCH_P99
        } else {
            TARGET_P99
        };
        let mut misses = Vec::new();
        if b.percentile(99.0) > limit {
            misses.push(format!("p99>{}ms", limit.as_millis()));
        }
        if ratio(99.0) > TARGET_RATIO {
            misses.push(format!("x>{TARGET_RATIO}"));
        }
        out += &format!("{name:<34}");
        for run in runs {
            let samples = &run.cases[i].1;
            out += &format!(
                " {:>9} {:>9}",
                millis(samples.percentile(50.0)),
                millis(samples.percentile(99.0))
            );
        }
        out += &format!(
            " {:>7.2} {:>7.2} {:>9}  {}\n",
            ratio(50.0),
            ratio(99.0),
            format!("{}/{}", a.len(), b.len()),
            if misses.is_empty() {
                "ok".to_owned()
            } else {
                misses.join(" ")
            },
        );
    }
    out
}

fn millis(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

fn size_label(n: usize) -> String {
    match n {
        n if n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
