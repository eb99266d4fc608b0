//! The benchmark of checks under writes: what a cached CheckImpersonation and CheckPermission
//! cost the server while another client commits writes, against the same with no writes, on
//! SQLite and PostgreSQL.
//!
//! The server (the release binary) is pinned to CPU 0; this process, which asks about every
//! (actor, target) or (user, permission) pair in turn over raw HTTP/2 and commits the writes, to
//! CPU 1. A writer is either unrelated (CreateUser of new users, which no checked answer depends
//! on) or touching (revoking and regranting IMPERSONATE_USER of one actor, which only that
//! actor's answers depend on). For each writer and rate the server's CPU per check comes from
//! /proc, and the caches' hits and misses from its `/metrics`. See bench/README.md.

mod cpu;
mod postgres;
mod server;

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use cpu::{clock_ticks_per_sec, cpu_ticks, median, pin};
use personae::proto::{
    self, groups_client::GroupsClient, impersonation_client::ImpersonationClient,
    permissions_client::PermissionsClient, users_client::UsersClient,
};
use postgres::Stores;
use prost::Message;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};
use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, net::TcpStream};
use tonic::{
    Request, Status, metadata::AsciiMetadataValue, service::interceptor::InterceptedService,
    transport::Channel,
};

#[derive(Parser, Debug)]
#[command(about = "CPU per cached check while writes are committed, against none")]
struct Args {
    /// Which stores to measure.
    #[arg(long, value_enum, default_value_t = Stores::Both)]
    store: Stores,
    /// Commits per second of each writer; 0 is the baseline the others are measured against.
    #[arg(long, value_delimiter = ',', default_value = "0,1,10,50")]
    rates: Vec<u32>,
    /// Actors, each allowed to act as every target: actors × targets CheckImpersonation pairs.
    #[arg(long, default_value_t = 32)]
    actors: usize,
    /// Targets.
    #[arg(long, default_value_t = 32)]
    targets: usize,
    /// Permissions asked of every actor and target (held by the actors through a group's
    /// role): (actors + targets) × permissions CheckPermission pairs.
    #[arg(long, default_value_t = 16)]
    permissions: usize,
    /// Seconds measured per writer and rate, in each round. CPU time is counted in 10 ms
    /// ticks: 3 s is some 300.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Rounds: each measures every writer and rate in turn; ratios are taken within a round
    /// and their median reported, so that a drift of the machine touches every case alike.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// HTTP/2 connections asking.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Calls in flight per connection.
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// Accepted and ignored: cargo passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.rates.contains(&0),
        "--rates must include 0, the baseline the other rates are measured against"
    );
    ensure!(
        args.actors * args.targets >= 1000
            && (args.actors + args.targets) * args.permissions >= 1000,
        "the issue asks for at least 1,000 distinct pairs of each check"
    );
    let postgres = args.store.postgres_url()?;
    // Every thread of this process (the askers and the writer) on CPU 1; the server gets CPU 0.
    pin(std::process::id(), 1)?;
    let mut report = String::new();
    if args.store.sqlite() {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("personae.db").display());
        report.push_str(&run("SQLite", &url, &[], dir.path(), &args).await?);
    }
    if let Some(admin_url) = postgres {
        // The personae_test_ prefix lets scripts/pg-test-env drop it should this run die.
        let name = format!("personae_test_bench_writes_{}", std::process::id());
        let url = postgres::with_database(&admin_url, &name);
        let mut admin = PgConnection::connect(&admin_url).await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .with_context(|| format!("creating the database {name}"))?;
        let dir = tempfile::tempdir()?;
        let key = personae::secrets::new_key_hex();
        let result = run(
            "PostgreSQL",
            &url,
            &[("PERSONAE_SECRET_KEY", &key)],
            dir.path(),
            &args,
        )
        .await;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        report.push_str(&result?);
    }
    println!("{report}");
    Ok(())
}

/// Every check and writer against one store; returns its tables and targets.
async fn run(
    store: &str,
    url: &str,
    env: &[(&str, &str)],
    dir: &std::path::Path,
    args: &Args,
) -> anyhow::Result<String> {
    let log = dir.join("personae.log");
    let token = personae::domain::api_key::generate().token;
    server::bootstrap(url, &token, &log)?;
    let mut personae = server::Server::start(url, &log, env)?;
    let channel = personae.channel().await?;
    eprintln!("{store}: seeding");
    let seeded = Seeded::new(channel.clone(), &token, args).await?;
    pin(personae.child.id(), 0)?;
    let target = Target {
        grpc: personae.address,
        metrics: personae.metrics,
        pid: personae.child.id(),
        token: token.clone(),
    };
    let mut out = String::new();
    for check in [Check::Impersonation, Check::Permission] {
        let measured = measure(&target, &seeded, check, args).await?;
        out.push_str(&render(store, check, &seeded, &measured, args));
    }
    Ok(out)
}

/// What is asked and of whom.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Impersonation,
    Permission,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Self::Impersonation => "CheckImpersonation",
            Self::Permission => "CheckPermission",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Impersonation => "/personae.v1.Impersonation/CheckImpersonation",
            Self::Permission => "/personae.v1.Permissions/CheckPermission",
        }
    }

    /// The cache that holds this check's answers (its label on `/metrics`).
    fn cache(self) -> &'static str {
        match self {
            Self::Impersonation => "impersonations",
            Self::Permission => "grants",
        }
    }
}

/// One question, encoded once, with the answer it must get.
struct Question {
    frame: Bytes,
    /// None where the touching writer flips the answer.
    expected: Option<bool>,
    /// Whether it asks about the actor the touching writer touches.
    touched: bool,
}

/// The users, permissions and integration the checks ask about.
struct Seeded {
    actors: Vec<(String, String)>,
    targets: Vec<(String, String)>,
    permissions: Vec<String>,
    channel: Channel,
    bearer: AsciiMetadataValue,
}

const ACTOR_PERMISSION: &str = "IMPERSONATE_USER";

impl Seeded {
    /// Actors holding IMPERSONATE_USER directly and the benchmark's permissions through a
    /// group's role, targets holding none, and Snowflake's integration enabled.
    async fn new(channel: Channel, token: &str, args: &Args) -> anyhow::Result<Self> {
        let bearer: AsciiMetadataValue = format!("Bearer {token}").parse()?;
        let seeded = Self {
            actors: Vec::new(),
            targets: Vec::new(),
            permissions: (0..args.permissions)
                .map(|i| format!("BENCH_PERMISSION_{}", letters(i)))
                .collect(),
            channel,
            bearer,
        };
        let mut users = UsersClient::new(seeded.authed());
        let mut permissions = PermissionsClient::new(seeded.authed());
        let mut groups = GroupsClient::new(seeded.authed());
        ImpersonationClient::new(seeded.authed())
            .configure_integration(proto::ConfigureIntegrationRequest {
                platform: proto::Platform::Snowflake as i32,
                enabled: true,
                ..Default::default()
            })
            .await?;
        for name in &seeded.permissions {
            permissions
                .create_permission(proto::CreatePermissionRequest {
                    name: name.clone(),
                    description: "asked by the benchmark".into(),
                })
                .await?;
        }
        let role = permissions
            .create_role(proto::CreateRoleRequest {
                name: "bench readers".into(),
                description: String::new(),
                permissions: seeded.permissions.clone(),
            })
            .await?
            .into_inner();
        let group = groups
            .create_group(proto::CreateGroupRequest {
                name: "bench actors".into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        permissions
            .assign_role(proto::AssignRoleRequest {
                principal: Some(proto::assign_role_request::Principal::GroupId(
                    group.id.clone(),
                )),
                role_id: role.id,
                tenant_id: String::new(),
            })
            .await?;
        let mut create = async |email: String| -> anyhow::Result<(String, String)> {
            let user = users
                .create_user(proto::CreateUserRequest {
                    email: email.clone(),
                    full_name: email.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok((user.id, email))
        };
        let mut seeded = seeded;
        for i in 0..args.actors {
            seeded
                .actors
                .push(create(format!("actor-{i}@bench.example.com")).await?);
        }
        for i in 0..args.targets {
            seeded
                .targets
                .push(create(format!("target-{i}@bench.example.com")).await?);
        }
        for (id, _) in &seeded.actors {
            permissions
                .grant_permission(proto::GrantPermissionRequest {
                    user_id: id.clone(),
                    permission: ACTOR_PERMISSION.into(),
                })
                .await?;
        }
        groups
            .add_members(proto::AddMembersRequest {
                group_id: group.id,
                user_ids: seeded.actors.iter().map(|(id, _)| id.clone()).collect(),
            })
            .await?;
        Ok(seeded)
    }

    fn authed(&self) -> InterceptedService<Channel, Bearer> {
        InterceptedService::new(self.channel.clone(), Bearer(self.bearer.clone()))
    }

    /// Every question of `check`, actors' questions interleaved so that each actor's come
    /// round as often as the others'.
    fn questions(&self, check: Check) -> Vec<Question> {
        let touched = &self.actors[0].0;
        match check {
            Check::Impersonation => self
                .targets
                .iter()
                .flat_map(|(_, target)| {
                    self.actors.iter().map(move |(actor_id, actor)| Question {
                        frame: grpc_frame(&proto::CheckImpersonationRequest {
                            platform: proto::Platform::Snowflake as i32,
                            actor: actor.clone(),
                            subject: Some(proto::check_impersonation_request::Subject::Target(
                                target.clone(),
                            )),
                            consistency: None,
                        }),
                        expected: (actor_id != touched).then_some(true),
                        touched: actor_id == touched,
                    })
                })
                .collect(),
            Check::Permission => self
                .permissions
                .iter()
                .flat_map(|permission| {
                    let asked = |(id, _): &(String, String), holds: bool| Question {
                        frame: grpc_frame(&proto::CheckPermissionRequest {
                            user_id: id.clone(),
                            permission: permission.clone(),
                            ..Default::default()
                        }),
                        expected: Some(holds),
                        touched: id == touched,
                    };
                    let actors = self.actors.iter().map(move |actor| asked(actor, true));
                    actors.chain(self.targets.iter().map(move |target| asked(target, false)))
                })
                .collect(),
        }
    }

    /// How many of this check's cached entries a touching write makes unusable: the actor's
    /// pairs for CheckImpersonation, the actor's one entry of grants for CheckPermission.
    fn entries_touched(&self, check: Check) -> usize {
        match check {
            Check::Impersonation => self.targets.len(),
            Check::Permission => 1,
        }
    }
}

/// `A`, `B`, … `Z`, `BA`, …: permission names take no digits.
fn letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

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

/// A gRPC length-prefixed message: not compressed, big-endian length, the bytes.
fn grpc_frame(message: &impl Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame.into()
}

/// Both answers carry `allowed` as field 1.
#[derive(Clone, PartialEq, prost::Message)]
struct Allowed {
    #[prost(bool, tag = "1")]
    allowed: bool,
}

/// The server under load.
struct Target {
    grpc: SocketAddr,
    metrics: SocketAddr,
    pid: u32,
    token: String,
}

/// Who writes while the checks are asked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writer {
    None,
    /// CreateUser of new users: no checked answer depends on them.
    Unrelated,
    /// RevokePermission and GrantPermission of IMPERSONATE_USER on the first actor, in turn.
    Touching,
}

impl Writer {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unrelated => "unrelated",
            Self::Touching => "touching one actor",
        }
    }
}

/// What one writer at one rate gave in one round.
#[derive(Clone, Copy)]
struct Sample {
    writes_per_sec: f64,
    /// The mean time a write took, as the writer saw it.
    write_ms: f64,
    checks_per_sec: f64,
    cpu_us_per_check: f64,
    hits: u64,
    misses: u64,
    misses_per_sec: f64,
    /// The touched actor's questions answered per second.
    touched_asks_per_sec: f64,
}

/// The medians over rounds of one writer at one rate.
struct Measured {
    writer: Writer,
    rate: u32,
    writes_per_sec: f64,
    write_ms: f64,
    checks_per_sec: f64,
    cpu_us_per_check: f64,
    x_no_writes: f64,
    hit_rate: f64,
    misses_per_sec: f64,
    touched_asks_per_sec: f64,
}

/// The cases in the order each round measures them.
fn cases(args: &Args) -> Vec<(Writer, u32)> {
    let mut cases = vec![(Writer::None, 0)];
    for writer in [Writer::Unrelated, Writer::Touching] {
        cases.extend(args.rates.iter().filter(|&&r| r > 0).map(|&r| (writer, r)));
    }
    cases
}

/// Asks `check`'s questions at full speed for the whole run and measures each writer and rate
/// in turn, in every round.
async fn measure(
    target: &Target,
    seeded: &Seeded,
    check: Check,
    args: &Args,
) -> anyhow::Result<Vec<Measured>> {
    let questions = Arc::new(seeded.questions(check));
    let touched_questions = questions.iter().filter(|q| q.touched).count();
    eprintln!(
        "{}: {} questions ({} of the touched actor)",
        check.name(),
        questions.len(),
        touched_questions
    );
    let load = Load::start(target, check, questions, args).await?;
    // Every question answered once and its answer cached, before anything is measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cases = cases(args);
    let mut rounds: Vec<Vec<Sample>> = vec![Vec::new(); cases.len()];
    for round in 1..=args.rounds.max(1) {
        for (i, &(writer, rate)) in cases.iter().enumerate() {
            let writing = Writing::start(writer, rate, seeded);
            // Let the writer reach its rate before anything is counted.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = Snapshot::take(target, &load, &writing, check).await?;
            tokio::time::sleep(Duration::from_secs(args.seconds)).await;
            let after = Snapshot::take(target, &load, &writing, check).await?;
            writing.stop().await?;
            if load.failed() {
                return Err(load
                    .stop()
                    .await
                    .err()
                    .unwrap_or_else(|| anyhow::anyhow!("an asker stopped without saying why")));
            }
            let sample = after.since(&before);
            eprintln!(
                "round {round}: {:<10} {:<20} {rate:>3}/s: {:>6.1} writes/s ({:.1} ms each) \
                 {:>8.0} checks/s {:>6.1} µs CPU/check, {} misses",
                check.name(),
                writer.name(),
                sample.writes_per_sec,
                sample.write_ms,
                sample.checks_per_sec,
                sample.cpu_us_per_check,
                sample.misses
            );
            rounds[i].push(sample);
        }
    }
    load.stop().await?;
    let baseline = &rounds[0];
    Ok(cases
        .iter()
        .zip(&rounds)
        .map(|(&(writer, rate), samples)| {
            let column = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
            let hits: u64 = samples.iter().map(|s| s.hits).sum();
            let misses: u64 = samples.iter().map(|s| s.misses).sum();
            Measured {
                writer,
                rate,
                writes_per_sec: column(|s| s.writes_per_sec),
                write_ms: column(|s| s.write_ms),
                checks_per_sec: column(|s| s.checks_per_sec),
                cpu_us_per_check: column(|s| s.cpu_us_per_check),
                x_no_writes: median(
                    samples
                        .iter()
                        .zip(baseline)
                        .map(|(s, b)| s.cpu_us_per_check / b.cpu_us_per_check)
                        .collect(),
                ),
                hit_rate: hits as f64 / (hits + misses).max(1) as f64,
                misses_per_sec: column(|s| s.misses_per_sec),
                touched_asks_per_sec: column(|s| s.touched_asks_per_sec),
            }
        })
        .collect())
}

/// The counters read at one moment.
struct Snapshot {
    at: Instant,
    ticks: u64,
    answered: u64,
    touched_answered: u64,
    writes: u64,
    writing_us: u64,
    hits: u64,
    misses: u64,
}

impl Snapshot {
    async fn take(
        target: &Target,
        load: &Load,
        writing: &Writing,
        check: Check,
    ) -> anyhow::Result<Self> {
        let (hits, misses) = cache_lookups(target.metrics, check.cache()).await?;
        Ok(Self {
            at: Instant::now(),
            ticks: cpu_ticks(target.pid)?,
            answered: load.counts.answered.load(Ordering::Relaxed),
            touched_answered: load.counts.touched_answered.load(Ordering::Relaxed),
            writes: writing.committed.load(Ordering::Relaxed),
            writing_us: writing.writing_us.load(Ordering::Relaxed),
            hits,
            misses,
        })
    }

    fn since(&self, before: &Self) -> Sample {
        let seconds = (self.at - before.at).as_secs_f64();
        let checks = (self.answered - before.answered) as f64;
        let cpu_us = (self.ticks - before.ticks) as f64 * 1e6 / clock_ticks_per_sec();
        Sample {
            writes_per_sec: (self.writes - before.writes) as f64 / seconds,
            write_ms: (self.writing_us - before.writing_us) as f64
                / 1e3
                / (self.writes - before.writes).max(1) as f64,
            checks_per_sec: checks / seconds,
            cpu_us_per_check: cpu_us / checks.max(1.0),
            hits: self.hits - before.hits,
            misses: self.misses - before.misses,
            misses_per_sec: (self.misses - before.misses) as f64 / seconds,
            touched_asks_per_sec: (self.touched_answered - before.touched_answered) as f64
                / seconds,
        }
    }
}

/// The hits and misses of one cache, from the server's `/metrics`.
async fn cache_lookups(metrics: SocketAddr, cache: &str) -> anyhow::Result<(u64, u64)> {
    let mut stream = TcpStream::connect(metrics).await?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {metrics}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let count = |outcome: &str| -> anyhow::Result<u64> {
        let series =
            format!(r#"personae_cache_lookups_total{{cache="{cache}",outcome="{outcome}"}} "#);
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .map(str::parse)
            .transpose()?
            .unwrap_or(0))
    };
    Ok((count("hit")?, count("miss")?))
}

/// Calls answered, counted by the askers.
#[derive(Default)]
struct Counts {
    answered: AtomicU64,
    touched_answered: AtomicU64,
}

/// Askers calling one check's questions in turn over raw HTTP/2 connections, until stopped.
struct Load {
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    askers: tokio::task::JoinSet<anyhow::Result<()>>,
}

impl Load {
    async fn start(
        target: &Target,
        check: Check,
        questions: Arc<Vec<Question>>,
        args: &Args,
    ) -> anyhow::Result<Self> {
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut askers = tokio::task::JoinSet::new();
        let uri: http::Uri = format!("http://{}{}", target.grpc, check.path()).parse()?;
        let authorization: http::HeaderValue = format!("Bearer {}", target.token).parse()?;
        let askers_count = args.connections * args.streams;
        for connection in 0..args.connections {
            let tcp = TcpStream::connect(target.grpc).await?;
            tcp.set_nodelay(true)?;
            let (sender, driver) = h2::client::handshake(tcp).await?;
            tokio::spawn(driver);
            for stream in 0..args.streams {
                let asker = Asker {
                    sender: sender.clone(),
                    uri: uri.clone(),
                    authorization: authorization.clone(),
                    questions: questions.clone(),
                    counts: counts.clone(),
                    stop: stop.clone(),
                };
                let first = connection * args.streams + stream;
                askers.spawn(asker.run(first, askers_count));
            }
        }
        Ok(Self {
            counts,
            stop,
            askers,
        })
    }

    /// Whether an asker failed (a refused call, a wrong answer): it stops them all, and
    /// [`Load::stop`] returns its error.
    fn failed(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        while let Some(result) = self.askers.join_next().await {
            result??;
        }
        Ok(())
    }
}

struct Asker {
    sender: h2::client::SendRequest<Bytes>,
    uri: http::Uri,
    authorization: http::HeaderValue,
    questions: Arc<Vec<Question>>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Asker {
    /// Asks questions `first`, `first + step`, … in turn, checking every answer; a failure
    /// stops every asker.
    async fn run(self, first: usize, step: usize) -> anyhow::Result<()> {
        let mut i = first;
        while !self.stop.load(Ordering::Relaxed) {
            let question = &self.questions[i % self.questions.len()];
            let answer = self.ask(question).await;
            let allowed = match answer {
                Ok(allowed) => allowed,
                Err(error) => {
                    self.stop.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            };
            if let Some(expected) = question.expected
                && allowed != expected
            {
                self.stop.store(true, Ordering::Relaxed);
                bail!("question {i} was answered {allowed}, where {expected} holds");
            }
            self.counts.answered.fetch_add(1, Ordering::Relaxed);
            if question.touched {
                self.counts.touched_answered.fetch_add(1, Ordering::Relaxed);
            }
            i += step;
        }
        Ok(())
    }

    async fn ask(&self, question: &Question) -> anyhow::Result<bool> {
        let request = http::Request::post(self.uri.clone())
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", self.authorization.clone())
            .body(())?;
        let mut sender = self.sender.clone().ready().await?;
        let (response, mut body) = sender.send_request(request, false)?;
        body.send_data(question.frame.clone(), true)?;
        let response = response.await?;
        let status = response.headers().get("grpc-status").cloned();
        let mut body = response.into_body();
        let mut message = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            body.flow_control().release_capacity(chunk.len())?;
            message.extend_from_slice(&chunk);
        }
        let status = match status {
            Some(status) => Some(status),
            None => body
                .trailers()
                .await?
                .and_then(|t| t.get("grpc-status").cloned()),
        };
        ensure!(
            status.as_ref().map(|s| s.as_bytes()) == Some(b"0"),
            "a check failed with grpc-status {status:?}"
        );
        ensure!(message.len() >= 5, "an answer without a message");
        Ok(Allowed::decode(&message[5..])?.allowed)
    }
}

/// A writer committing at a fixed rate, one write at a time, until stopped.
struct Writing {
    committed: Arc<AtomicU64>,
    /// The time the committed writes took, in µs.
    writing_us: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Writing {
    fn start(writer: Writer, rate: u32, seeded: &Seeded) -> Self {
        let committed = Arc::new(AtomicU64::new(0));
        let writing_us = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut users = UsersClient::new(seeded.authed());
        let mut permissions = PermissionsClient::new(seeded.authed());
        let actor = seeded.actors[0].0.clone();
        let task = tokio::spawn({
            let (committed, writing_us, stop) =
                (committed.clone(), writing_us.clone(), stop.clone());
            async move {
                if writer == Writer::None || rate == 0 {
                    return Ok(());
                }
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let started = Instant::now();
                    match writer {
                        Writer::Unrelated => {
                            let email = format!(
                                "written-{}@bench.example.com",
                                CREATED.fetch_add(1, Ordering::Relaxed)
                            );
                            users
                                .create_user(proto::CreateUserRequest {
                                    full_name: email.clone(),
                                    email,
                                    ..Default::default()
                                })
                                .await?;
                        }
                        Writer::Touching if n.is_multiple_of(2) => {
                            permissions
                                .revoke_permission(proto::RevokePermissionRequest {
                                    user_id: actor.clone(),
                                    permission: ACTOR_PERMISSION.into(),
                                })
                                .await?;
                        }
                        Writer::Touching => {
                            permissions
                                .grant_permission(proto::GrantPermissionRequest {
                                    user_id: actor.clone(),
                                    permission: ACTOR_PERMISSION.into(),
                                })
                                .await?;
                        }
                        Writer::None => {}
                    }
                    n += 1;
                    writing_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    committed.fetch_add(1, Ordering::Relaxed);
                }
                // Leave the actor as seeded: allowed.
                if writer == Writer::Touching && !n.is_multiple_of(2) {
                    permissions
                        .grant_permission(proto::GrantPermissionRequest {
                            user_id: actor,
                            permission: ACTOR_PERMISSION.into(),
                        })
                        .await?;
                }
                Ok(())
            }
        });
        Self {
            committed,
            writing_us,
            stop,
            task,
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

/// Users the unrelated writers have created, across rounds and checks: each gets a new name.
static CREATED: AtomicU64 = AtomicU64::new(0);

fn render(
    store: &str,
    check: Check,
    seeded: &Seeded,
    measured: &[Measured],
    args: &Args,
) -> String {
    let pairs = seeded.questions(check).len();
    let entries = seeded.entries_touched(check);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== {} (cached) while writing, {store}: {pairs} pairs; server on CPU 0, askers and \
         writer on CPU 1 ({} connections × {} calls in flight); median of {} rounds of {} s ==\n",
        check.name(),
        args.connections,
        args.streams,
        args.rounds,
        args.seconds
    );
    let _ = writeln!(
        out,
        "{:<20} {:>6} {:>9} {:>9} {:>9} {:>12} {:>11} {:>9} {:>9} {:>13}",
        "writer",
        "rate",
        "writes/s",
        "write ms",
        "checks/s",
        "CPU µs/check",
        "x no writes",
        "hit rate",
        "misses/s",
        "actor asks/s"
    );
    for m in measured {
        let touched = if m.writer == Writer::Touching {
            format!("{:.0}", m.touched_asks_per_sec)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:<20} {:>6} {:>9.1} {:>9.1} {:>9.0} {:>12.1} {:>11.2} {:>8.3}% {:>9.1} {:>13}",
            m.writer.name(),
            m.rate,
            m.writes_per_sec,
            m.write_ms,
            m.checks_per_sec,
            m.cpu_us_per_check,
            m.x_no_writes,
            m.hit_rate * 100.0,
            m.misses_per_sec,
            touched
        );
    }
    let _ = writeln!(out, "\ntargets:");
    for m in measured.iter().filter(|m| m.writer == Writer::Unrelated) {
        let verdict = if m.x_no_writes <= 1.5 { "ok" } else { "MISSED" };
        let _ = writeln!(
            out,
            "  CPU per check, {:>2} unrelated writes/s x none {:>8.2} (at most 1.5) {verdict}",
            m.rate, m.x_no_writes
        );
    }
    // A touching write makes unusable the touched actor's entries, which are read again when
    // next asked: at most `entries` misses a write, and no more than the actor is asked. Any
    // other actor's answers missing would add its asks on top.
    for m in measured.iter().filter(|m| m.writer == Writer::Touching) {
        let bound = (m.writes_per_sec * entries as f64).min(m.touched_asks_per_sec);
        let verdict = if m.misses_per_sec <= bound * 1.1 + 1.0 {
            "ok"
        } else {
            "MISSED"
        };
        let _ = writeln!(
            out,
            "  misses/s, {:>2} touching writes/s {:>14.1} (at most {bound:.1}: the actor's \
             {entries} entries a write, and no more than the actor is asked) {verdict}",
            m.rate, m.misses_per_sec
        );
    }
    out.push('\n');
    out
}
