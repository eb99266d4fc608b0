//! The check benchmark: what Health/Check, cached CheckPermission and CheckImpersonation, the
//! same reading the store (fully consistent: what a cache miss costs), an authenticated call
//! refused right after authentication, and GetUser cost the server per call, against
//! Health/Check on the same server and on a bare tonic server.
//!
//! The server (the release binary, on SQLite) is pinned to CPU 0 and h2load, the load generator,
//! to CPU 1. Each case is driven with pre-encoded gRPC frames at full speed; its CPU per call is
//! the server's user+system time from /proc over the calls answered. Then ghz calls it at half
//! the rate reached, for latency.
//!
//! Then the TLS section: cached CheckImpersonation over long-lived connections to a second
//! server serving gRPC over TLS, against the same over plaintext, and the CPU a new connection
//! making one call costs over each, whose difference is a full TLS handshake. `--only` runs one
//! section. See bench/README.md.

mod cpu;
mod server;

/// The allocator the server uses, so that the bare server differs from it by the stack alone.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use cpu::{clock_ticks_per_sec, cpu_ticks, median, pin};
use personae::proto::{
    self, impersonation_client::ImpersonationClient, permissions_client::PermissionsClient,
    users_client::UsersClient,
};
use personae_testkit::certs;
use prost::Message;
use tonic::{
    Request,
    metadata::AsciiMetadataValue,
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint},
};

#[derive(Parser, Debug)]
#[command(about = "CPU per call and latency of the check RPCs, against Health/Check")]
struct Args {
    /// Calls per case and round at full speed. CPU time is counted in clock ticks (10 ms):
    /// 200,000 calls (about 2 s a case) kept a round's ratios within about 0.05 of each other,
    /// where 60,000 let them swing by 0.15.
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
    /// Rounds: each loads every case in turn; ratios are taken within a round and reported as
    /// their median, so that a drift of the machine during the run touches every case alike.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Connections h2load opens.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Concurrent streams per connection.
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// Seconds of ghz calls at half the maximum rate, per case.
    #[arg(long, default_value_t = 5)]
    latency_secs: u64,
    /// Run one section only: the check cases, or TLS against plaintext.
    #[arg(long, value_enum)]
    only: Option<Section>,
    /// New connections per round and side in the handshake case, each making one call and
    /// opened at once: 2,000 full handshakes cost the server over a second of CPU, some hundred
    /// clock ticks.
    #[arg(long, default_value_t = 2_000)]
    handshakes: usize,
    /// Serve a bare tonic health service on this address (what the benchmark runs itself as).
    #[arg(long, hide = true)]
    bare_health: Option<String>,
    /// Accepted and ignored: cargo passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// Health/Check, the cached checks, authentication and GetUser, with latency.
    Checks,
    /// Cached CheckImpersonation over TLS against plaintext, and a full handshake.
    Tls,
}

/// One kind of call to load.
struct Case {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
    authorized: bool,
    /// Calls the bare tonic server instead of personae.
    bare: bool,
    /// The request as JSON, for ghz.
    json: String,
}

struct Measured {
    name: &'static str,
    calls_per_sec: f64,
    cpu_us_per_call: f64,
    /// The median over rounds of this case's CPU per call over Health/Check's.
    x_health: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(address) = args.bare_health {
        return bare_health(&address).await;
    }
    let h2load = tool("h2load", "apt-get install nghttp2-client")?;
    let ghz = tool(
        "ghz",
        "go install github.com/bojand/ghz/cmd/ghz@latest (then add ~/go/bin to PATH)",
    )?;

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("personae.db").display());
    let log = dir.path().join("personae.log");
    let token = personae::domain::api_key::generate().token;
    server::bootstrap(&url, &token, &log)?;
    let mut personae = server::Server::start(&url, &log, &[])?;
    let channel = personae.channel().await?;
    let (actor, target) = seed(channel, &token).await?;
    pin(personae.child.id(), 0)?;

    let health = proto_bytes(&tonic_health::pb::HealthCheckRequest::default());
    let cases = [
        Case {
            name: BARE,
            path: "/grpc.health.v1.Health/Check",
            body: health.clone(),
            authorized: false,
            bare: true,
            json: "{}".into(),
        },
        Case {
            name: "Health/Check",
            path: "/grpc.health.v1.Health/Check",
            body: health,
            authorized: false,
            bare: false,
            json: "{}".into(),
        },
        Case {
            name: AUTHENTICATION,
            path: "/personae.v1.Permissions/CheckPermission",
            body: proto_bytes(&proto::CheckPermissionRequest {
                user_id: actor.clone(),
                permission: "not a permission".into(),
                ..Default::default()
            }),
            authorized: true,
            bare: false,
            json: format!(r#"{{"user_id":"{actor}","permission":"not a permission"}}"#),
        },
        check_permission(CHECK_PERMISSION, &actor, false),
        check_impersonation(CHECK_IMPERSONATION, false),
        check_permission("CheckPermission (fully consistent)", &actor, true),
        check_impersonation("CheckImpersonation (fully consistent)", true),
        Case {
            name: "GetUser (reads the store)",
            path: "/personae.v1.Users/GetUser",
            body: proto_bytes(&proto::GetUserRequest {
                user: Some(proto::get_user_request::User::Id(target.clone())),
            }),
            authorized: true,
            bare: false,
            json: format!(r#"{{"id":"{target}"}}"#),
        },
    ];

    let frames = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let frame = dir.path().join(format!("{i}.frame"));
            std::fs::write(&frame, grpc_frame(&case.body))?;
            Ok(frame)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.only != Some(Section::Tls) {
        let report = checks(&args, &h2load, &ghz, &personae, &cases, &frames, &token).await?;
        println!("{report}");
    }
    if args.only != Some(Section::Checks) {
        let i = index_of(&cases, CHECK_IMPERSONATION)?;
        let plain = (personae.address.to_string(), personae.child.id());
        let load = Tls {
            args: &args,
            h2load: &h2load,
            dir: dir.path(),
            case: &cases[i],
            frame: &frames[i],
            token: &token,
        };
        println!("{}", load.run(plain).await?);
    }
    Ok(())
}

/// The check cases against Health/Check and the bare server; returns the table and targets.
async fn checks(
    args: &Args,
    h2load: &Path,
    ghz: &Path,
    personae: &server::Server,
    cases: &[Case],
    frames: &[PathBuf],
    token: &str,
) -> anyhow::Result<String> {
    let bare_address = free_address()?;
    let mut bare = std::process::Command::new(std::env::current_exe()?)
        .args(["--bare-health", &bare_address])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("starting the bare tonic server")?;
    wait_for(&bare_address).await?;
    pin(bare.id(), 0)?;
    let target = |case: &Case| {
        if case.bare {
            (bare_address.clone(), bare.id())
        } else {
            (personae.address.to_string(), personae.child.id())
        }
    };
    let mut rounds: Vec<Vec<(f64, f64)>> = vec![Vec::new(); cases.len()];
    for round in 1..=args.rounds.max(1) {
        for (i, case) in cases.iter().enumerate() {
            let (address, pid) = target(case);
            let load = H2load {
                binary: h2load,
                base: &format!("http://{address}"),
                case,
                frame: &frames[i],
                token,
                connections: args.connections,
                streams: args.streams,
            };
            load.run(args.requests / 10)?;
            let (cpu_us_per_call, calls_per_sec) = cpu_per_call(&load, pid, args.requests)?;
            eprintln!(
                "round {round}: {:<40} {calls_per_sec:>9.0} calls/s {cpu_us_per_call:>7.1} µs CPU/call",
                case.name
            );
            rounds[i].push((cpu_us_per_call, calls_per_sec));
        }
    }
    // Ratios are taken within each round, against that round's Health/Check, and then their
    // median: a machine that drifts between rounds moves both sides of a ratio alike.
    let health = index_of(cases, "Health/Check")?;
    let median_ratio = |i: usize, to: usize| {
        median(
            rounds[i]
                .iter()
                .zip(&rounds[to])
                .map(|(case, base)| case.0 / base.0)
                .collect(),
        )
    };
    let health_vs_bare = median_ratio(health, index_of(cases, BARE)?);
    let mut results = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let cpu_us_per_call = median(rounds[i].iter().map(|r| r.0).collect());
        let calls_per_sec = median(rounds[i].iter().map(|r| r.1).collect());
        let (address, _) = target(case);
        let rate = (calls_per_sec / 2.0).max(1.0) as u64;
        let (p50_ms, p99_ms) = latency(ghz, &address, case, token, rate, args.latency_secs)?;
        results.push(Measured {
            name: case.name,
            calls_per_sec,
            cpu_us_per_call,
            x_health: median_ratio(i, health),
            p50_ms,
            p99_ms,
        });
    }
    let _ = bare.kill();
    let _ = bare.wait();
    Ok(render(&results, health_vs_bare, args))
}

/// Cached CheckImpersonation over long-lived TLS connections against the same over plaintext,
/// and what a new connection making one call costs over each: the second server is another
/// `personae serve`, with a certificate made now, pinned to the same CPU.
struct Tls<'a> {
    args: &'a Args,
    h2load: &'a Path,
    dir: &'a Path,
    case: &'a Case,
    frame: &'a Path,
    token: &'a str,
}

impl Tls<'_> {
    /// Measures against the plaintext server at `plain` (its address and pid); returns the
    /// table and the target.
    async fn run(&self, plain: (String, u32)) -> anyhow::Result<String> {
        let ca = certs::certificate(&["personae bench CA"], certs::CURRENT, None);
        let leaf = certs::certificate(&["localhost", "127.0.0.1"], certs::CURRENT, Some(&ca));
        let (cert, key) = (self.dir.join("tls.crt"), self.dir.join("tls.key"));
        std::fs::write(&cert, &leaf.cert)?;
        std::fs::write(&key, &leaf.key)?;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        // SQLite takes one server per database: the TLS server gets a store of its own, with
        // the same caller, seeded alike through a plaintext server that is then stopped.
        let url = format!("sqlite://{}", self.dir.join("personae-tls.db").display());
        let log = self.dir.join("personae-tls.log");
        server::bootstrap(&url, self.token, &log)?;
        let mut seeding = server::Server::start(&url, &log, &[])?;
        seed(seeding.channel().await?, self.token).await?;
        drop(seeding);
        let mut server = server::Server::start(
            &url,
            &log,
            &[("PERSONAE_TLS_CERT", &cert), ("PERSONAE_TLS_KEY", &key)],
        )?;
        let address = server.address;
        // Accepting connections is enough here: the warm-up calls go through TLS before any
        // figure is taken, and fail the run if TLS does.
        server
            .wait_ready(|| async move { Ok(tokio::net::TcpStream::connect(address).await?) })
            .await?;
        pin(server.child.id(), 0)?;
        let sides = [
            ("plaintext", format!("http://{}", plain.0), plain.1),
            ("TLS", format!("https://{address}"), server.child.id()),
        ];
        let mut rounds: [Vec<TlsRound>; 2] = [Vec::new(), Vec::new()];
        for round in 1..=self.args.rounds.max(1) {
            for (side, (name, base, pid)) in sides.iter().enumerate() {
                let long_lived = H2load {
                    binary: self.h2load,
                    base,
                    case: self.case,
                    frame: self.frame,
                    token: self.token,
                    connections: self.args.connections,
                    streams: self.args.streams,
                };
                long_lived.run(self.args.requests / 10)?;
                let (call_us, calls_per_sec) = cpu_per_call(&long_lived, *pid, self.args.requests)?;
                let one_call_each = H2load {
                    connections: self.args.handshakes,
                    streams: 1,
                    ..long_lived
                };
                let (connection_us, _) = cpu_per_call(&one_call_each, *pid, self.args.handshakes)?;
                eprintln!(
                    "round {round}: {name:<10} {calls_per_sec:>9.0} calls/s {call_us:>7.1} µs \
                     CPU/call {connection_us:>8.1} µs CPU/new connection"
                );
                rounds[side].push(TlsRound {
                    call_us,
                    calls_per_sec,
                    connection_us,
                });
            }
        }
        // As in the check cases, ratios and differences are taken within a round, then their
        // median.
        let [plain, tls] = &rounds;
        let column =
            |side: &[TlsRound], f: fn(&TlsRound) -> f64| median(side.iter().map(f).collect());
        let across = |f: fn(&TlsRound, &TlsRound) -> f64| {
            median(plain.iter().zip(tls).map(|(p, t)| f(p, t)).collect())
        };
        let ratio = across(|p, t| t.call_us / p.call_us);
        let handshake_us = across(|p, t| t.connection_us - p.connection_us);
        let args = self.args;
        let mut out = format!(
            "== TLS (SQLite; a plaintext and a TLS server on CPU 0, h2load on CPU 1: \
             median of {} rounds; long-lived: {} calls, {} connections × {} streams; new \
             connections: {} at once, one call each) ==\n\n",
            args.rounds, args.requests, args.connections, args.streams, args.handshakes
        );
        out.push_str(&format!(
            "{:<52} {:>10} {:>10} {:>10}\n",
            "", "plaintext", "TLS", "TLS - / x"
        ));
        let mut row = |what: &str, decimals: usize, p: f64, t: f64, versus: String| {
            out.push_str(&format!(
                "{what:<52} {p:>10.decimals$} {t:>10.decimals$} {versus:>10}\n"
            ));
        };
        row(
            "CheckImpersonation (cached), calls/s",
            0,
            column(plain, |r| r.calls_per_sec),
            column(tls, |r| r.calls_per_sec),
            String::new(),
        );
        row(
            "CheckImpersonation (cached), CPU µs/call",
            1,
            column(plain, |r| r.call_us),
            column(tls, |r| r.call_us),
            format!("x {ratio:.2}"),
        );
        row(
            "a new connection making one call, CPU µs",
            1,
            column(plain, |r| r.connection_us),
            column(tls, |r| r.connection_us),
            format!("+ {handshake_us:.1}"),
        );
        out.push_str(&format!(
            "\na full TLS handshake (what TLS adds to a new connection): {handshake_us:.1} µs of \
             server CPU\n"
        ));
        let verdict = if ratio <= 1.3 { "ok" } else { "MISSED" };
        out.push_str(&format!(
            "\ntargets:\n  {:<40} {ratio:>5.2} (at most 1.3) {verdict}\n",
            "cached CheckImpersonation, TLS x plain"
        ));
        Ok(out)
    }
}

/// One side's figures in one round of the TLS section.
struct TlsRound {
    /// Server CPU per call over long-lived connections.
    call_us: f64,
    calls_per_sec: f64,
    /// Server CPU per new connection making one call.
    connection_us: f64,
}

/// Sends `requests` calls with `load`; returns the CPU µs per call of the server `pid` and the
/// calls answered per second.
fn cpu_per_call(load: &H2load, pid: u32, requests: usize) -> anyhow::Result<(f64, f64)> {
    let before = cpu_ticks(pid)?;
    let calls_per_sec = load.run(requests)?;
    let ticks = cpu_ticks(pid)? - before;
    Ok((
        ticks as f64 * 1e6 / clock_ticks_per_sec() / requests as f64,
        calls_per_sec,
    ))
}

const ACTOR: &str = "svc-connector@example.com";
const TARGET: &str = "analyst@example.com";

/// The actor (holding IMPERSONATE_USER), the target, and the Snowflake integration enabled;
/// returns the actor's and the target's ids.
async fn seed(channel: Channel, token: &str) -> anyhow::Result<(String, String)> {
    let bearer: AsciiMetadataValue = format!("Bearer {token}").parse()?;
    let auth = move |mut request: Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        Ok(request)
    };
    let mut users = UsersClient::new(InterceptedService::new(channel.clone(), auth.clone()));
    let mut permissions =
        PermissionsClient::new(InterceptedService::new(channel.clone(), auth.clone()));
    let mut impersonation = ImpersonationClient::new(InterceptedService::new(channel, auth));
    let mut ids = Vec::new();
    for email in [ACTOR, TARGET] {
        let user = users
            .create_user(proto::CreateUserRequest {
                email: email.into(),
                full_name: email.into(),
                ..Default::default()
            })
            .await?
            .into_inner();
        ids.push(user.id);
    }
    permissions
        .grant_permission(proto::GrantPermissionRequest {
            user_id: ids[0].clone(),
            permission: "IMPERSONATE_USER".into(),
        })
        .await?;
    impersonation
        .configure_integration(proto::ConfigureIntegrationRequest {
            platform: proto::Platform::Snowflake as i32,
            enabled: true,
            ..Default::default()
        })
        .await?;
    let check = impersonation
        .check_impersonation(proto::CheckImpersonationRequest {
            platform: proto::Platform::Snowflake as i32,
            actor: ACTOR.into(),
            subject: Some(proto::check_impersonation_request::Subject::Target(
                TARGET.into(),
            )),
            consistency: None,
        })
        .await?
        .into_inner();
    ensure!(
        check.allowed,
        "the seeded impersonation must be allowed: {check:?}"
    );
    let target = ids.pop().unwrap_or_default();
    let actor = ids.pop().unwrap_or_default();
    Ok((actor, target))
}

/// Whether `user_id` holds IMPERSONATE_USER; fully consistent, it bypasses the caches: what a
/// cache miss costs.
fn check_permission(name: &'static str, user_id: &str, fully_consistent: bool) -> Case {
    Case {
        name,
        path: "/personae.v1.Permissions/CheckPermission",
        body: proto_bytes(&proto::CheckPermissionRequest {
            user_id: user_id.into(),
            permission: "IMPERSONATE_USER".into(),
            consistency: consistency(fully_consistent),
            ..Default::default()
        }),
        authorized: true,
        bare: false,
        json: format!(
            r#"{{"user_id":"{user_id}","permission":"IMPERSONATE_USER"{}}}"#,
            consistency_json(fully_consistent)
        ),
    }
}

/// Whether the seeded actor may act as the target on Snowflake; fully consistent, as above.
fn check_impersonation(name: &'static str, fully_consistent: bool) -> Case {
    Case {
        name,
        path: "/personae.v1.Impersonation/CheckImpersonation",
        body: proto_bytes(&proto::CheckImpersonationRequest {
            platform: proto::Platform::Snowflake as i32,
            actor: ACTOR.into(),
            subject: Some(proto::check_impersonation_request::Subject::Target(
                TARGET.into(),
            )),
            consistency: consistency(fully_consistent),
        }),
        authorized: true,
        bare: false,
        json: format!(
            r#"{{"platform":"PLATFORM_SNOWFLAKE","actor":"{ACTOR}","target":"{TARGET}"{}}}"#,
            consistency_json(fully_consistent)
        ),
    }
}

fn consistency(fully_consistent: bool) -> Option<proto::Consistency> {
    fully_consistent.then_some(proto::Consistency {
        requirement: Some(proto::consistency::Requirement::FullyConsistent(true)),
    })
}

/// The same, as a field of the request in JSON for ghz.
fn consistency_json(fully_consistent: bool) -> &'static str {
    if fully_consistent {
        r#","consistency":{"fully_consistent":true}"#
    } else {
        ""
    }
}

fn proto_bytes(message: &impl Message) -> Vec<u8> {
    message.encode_to_vec()
}

/// A gRPC length-prefixed message: not compressed, big-endian length, the bytes.
fn grpc_frame(body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

struct H2load<'a> {
    binary: &'a Path,
    /// `http://ADDRESS` or `https://ADDRESS` (h2load negotiates h2 by ALPN and verifies no
    /// certificate).
    base: &'a str,
    case: &'a Case,
    frame: &'a Path,
    token: &'a str,
    connections: usize,
    streams: usize,
}

impl H2load<'_> {
    /// Sends `requests` calls from CPU 1; returns the calls answered per second.
    fn run(&self, requests: usize) -> anyhow::Result<f64> {
        let mut command = Command::new("taskset");
        command
            .args(["-c", "1"])
            .arg(self.binary)
            .args(["-n", &requests.to_string()])
            .args(["-c", &self.connections.to_string()])
            .args(["-m", &self.streams.to_string()])
            .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
            .arg("-d")
            .arg(self.frame);
        if self.case.authorized {
            command.args(["-H", &format!("authorization: Bearer {}", self.token)]);
        }
        let output = command
            .arg(format!("{}{}", self.base, self.case.path))
            .output()
            .context("running h2load")?;
        let text = String::from_utf8_lossy(&output.stdout);
        ensure!(output.status.success(), "h2load failed:\n{text}");
        let succeeded = text
            .lines()
            .find(|l| l.starts_with("requests:"))
            .and_then(|l| l.split(", ").find_map(|p| p.strip_suffix(" succeeded")))
            .and_then(|n| n.trim().parse::<usize>().ok());
        ensure!(
            succeeded == Some(requests),
            "h2load: not every call succeeded:\n{text}"
        );
        text.lines()
            .find(|l| l.starts_with("finished in"))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|p| p.strip_suffix(" req/s"))
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("no rate in h2load's output:\n{text}"))
    }
}

/// p50 and p99 in ms of `seconds` of calls at `rate` per second, from ghz.
fn latency(
    ghz: &Path,
    address: &str,
    case: &Case,
    token: &str,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<(f64, f64)> {
    if case.bare {
        return Ok((f64::NAN, f64::NAN));
    }
    let call = case.path.trim_start_matches('/').replace('/', ".");
    let mut command = Command::new("taskset");
    command
        .args(["-c", "1"])
        .arg(ghz)
        .args(["--insecure", "--format", "json", "--call", &call])
        .args(["--rps", &rate.to_string()])
        .args(["-n", &(rate * seconds).to_string()])
        .args(["-c", "16", "--connections", "2"])
        .args(["-d", &case.json]);
    if case.authorized {
        command.args([
            "--metadata",
            &format!(r#"{{"authorization":"Bearer {token}"}}"#),
        ]);
    }
    let output = command.arg(address).output().context("running ghz")?;
    ensure!(
        output.status.success(),
        "ghz failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let percentile = |p: u64| {
        report["latencyDistribution"]
            .as_array()
            .and_then(|d| d.iter().find(|e| e["percentage"] == p))
            .and_then(|e| e["latency"].as_f64())
            .map(|ns| ns / 1e6)
    };
    // Calls answered with an error (the authentication-only case) have no distribution.
    Ok((
        percentile(50).unwrap_or(f64::NAN),
        percentile(99).unwrap_or(f64::NAN),
    ))
}

fn render(results: &[Measured], health_vs_bare: f64, args: &Args) -> String {
    let mut out = format!(
        "== checks (SQLite; server on CPU 0, h2load on CPU 1: median of {} rounds of {} calls, \
         {} connections × {} streams; latency from ghz at half the rate) ==\n\n",
        args.rounds, args.requests, args.connections, args.streams
    );
    out.push_str(&format!(
        "{:<40} {:>10} {:>12} {:>10} {:>9} {:>9}\n",
        "call", "calls/s", "CPU µs/call", "x Health", "p50 ms", "p99 ms"
    ));
    for r in results {
        out.push_str(&format!(
            "{:<40} {:>10.0} {:>12.1} {:>10.2} {:>9.2} {:>9.2}\n",
            r.name, r.calls_per_sec, r.cpu_us_per_call, r.x_health, r.p50_ms, r.p99_ms
        ));
    }
    let x_health = |name: &str| {
        results
            .iter()
            .find(|r| r.name == name)
            .map_or(f64::NAN, |r| r.x_health)
    };
    out.push_str("\ntargets:\n");
    for (target, measured, limit) in [
        (
            "cached CheckPermission, x Health",
            x_health(CHECK_PERMISSION),
            1.25,
        ),
        (
            "cached CheckImpersonation, x Health",
            x_health(CHECK_IMPERSONATION),
            1.25,
        ),
        (
            "what authentication adds, x Health",
            x_health(AUTHENTICATION) - 1.0,
            0.25,
        ),
        ("Health/Check, x the bare server's", health_vs_bare, 1.2),
    ] {
        let verdict = if measured <= limit { "ok" } else { "MISSED" };
        out.push_str(&format!(
            "  {target:<40} {measured:>5.2} (at most {limit}) {verdict}\n"
        ));
    }
    out
}

fn index_of(cases: &[Case], name: &str) -> anyhow::Result<usize> {
    cases
        .iter()
        .position(|case| case.name == name)
        .with_context(|| format!("no case named {name}"))
}

const BARE: &str = "Health/Check (bare tonic)";
const AUTHENTICATION: &str = "authentication only (refused after it)";
const CHECK_PERMISSION: &str = "CheckPermission (cached)";
const CHECK_IMPERSONATION: &str = "CheckImpersonation (cached)";

/// A tool on PATH (or in ~/go/bin), or an error saying how to install it.
fn tool(name: &str, install: &str) -> anyhow::Result<PathBuf> {
    let home_go = std::env::var("HOME")
        .map(|home| PathBuf::from(home).join("go/bin"))
        .ok();
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(home_go)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{name} is needed: {install}"))
}

fn free_address() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}

async fn wait_for(address: &str) -> anyhow::Result<()> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))?;
    for _ in 0..100 {
        if endpoint.connect().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the bare tonic server did not start on {address}")
}

/// A tonic server with the health service only, and nothing else in its stack: the floor the
/// personae server's own stack is measured against.
async fn bare_health(address: &str) -> anyhow::Result<()> {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind(address).await?;
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await?;
    Ok(())
}
