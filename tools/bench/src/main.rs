//! Measures a running Backbone the way the official client calls it. Scenarios:
//! - `identities`: identity creation (challenge, Ed25519 signature, `POST /api/v2/Identities`)
//!   and the token endpoint (`POST /connect/token`);
//! - `sync`: a sync run that delivers 100 external events (start, read the events page by page,
//!   finalize with a result per event);
//! - `messages`: sending messages between related identities;
//! - `mixed`: concurrent clients looping over a mix of reads and writes for a while
//!   (see `mixed.rs`);
//! - `send-setup`, `send`: sustained message sending with the outbox backlog watched, for the
//!   comparison with pgbench in `scripts/bench-pgbench.sh` (see `send.rs`).
//!
//! Prints p50/p99 per operation. `scripts/bench.sh` starts a release build and runs this.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use backbone_core::encoding::encode_bytes;
use clap::Parser;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

#[derive(Parser)]
pub(crate) struct Args {
    /// Base URL of the Consumer API.
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    pub(crate) base_url: String,
    #[arg(long, default_value = "test")]
    pub(crate) client_id: String,
    #[arg(long, default_value = "test")]
    pub(crate) client_secret: String,
    /// Identities to create (and logins to perform).
    #[arg(long, default_value_t = 200)]
    pub(crate) count: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// identities, sync, messages, files, deletion-setup, mixed, send-setup or send.
    #[arg(long, default_value = "identities")]
    pub(crate) scenario: String,
    /// mixed, send: how long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) duration: u64,
    /// mixed: an upper bound on the requests of the whole run, beside the duration.
    #[arg(long, default_value_t = 2_000_000)]
    pub(crate) max_requests: usize,
    /// mixed, send: client-side time-out of each request, in seconds (counted as `time-out`).
    #[arg(long, default_value_t = 30)]
    pub(crate) timeout: u64,
    /// mixed, send-setup: requests in flight while the identities are created.
    #[arg(long, default_value_t = 4)]
    pub(crate) setup_concurrency: usize,
    /// mixed: the server's process ID, to report its memory from /proc.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// The server's database, to watch the outbox backlog (send-setup, send: PostgreSQL;
    /// mixed: either).
    #[arg(long)]
    pub(crate) database_url: Option<String>,
    /// send-setup writes the senders' sessions here, send reads them.
    #[arg(long)]
    pub(crate) sessions_file: Option<String>,
    /// send: messages per pair; the server's unreceived-message limit must be at least this.
    #[arg(long, default_value_t = 100)]
    pub(crate) unreceived_limit: usize,
    /// messages: sender/recipient pairs; each sender has one send in flight at a time when
    /// quotas apply (their check serialises one identity's writes), so fewer pairs than
    /// `concurrency` measure that queueing rather than the check.
    #[arg(long, default_value_t = 10)]
    pub(crate) pairs: usize,
    /// send-setup, send: how long to wait for the outbox backlog to drain, in seconds.
    #[arg(long, default_value_t = 600)]
    pub(crate) drain_timeout: u64,
}

pub(crate) const PASSWORD: &str = "benchmark-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    match args.scenario.as_str() {
        "identities" => identities(&http, &args).await,
        "sync" => scenarios::sync(&http, &args).await,
        "messages" => scenarios::messages(&http, &args).await,
        "deletion-setup" => scenarios::deletion_setup(&http, &args).await,
        "files" => scenarios::files(&http, &args).await,
        "mixed" => mixed::mixed(&args).await,
        "send-setup" => send::send_setup(&args).await,
        "send" => send::send(&args).await,
        other => bail!("unknown scenario {other}"),
    }
}

mod backlog;
mod client;
mod mixed;
mod procfs;
mod scenarios;
mod send;
mod setup;
mod stats;

async fn identities(http: &reqwest::Client, args: &Args) -> anyhow::Result<()> {
    let (http, args) = (http.clone(), args);

    let started = Instant::now();
    let created = run_concurrently(args.count, args.concurrency, |_| create_identity(&http, args)).await?;
    let wall = started.elapsed();
    let (create_latencies, usernames): (Vec<Duration>, Vec<String>) = created.into_iter().unzip();
    report(
        "identity creation (challenge + POST /Identities)",
        &create_latencies,
        wall,
    );

    let started = Instant::now();
    let logins = run_concurrently(usernames.len(), args.concurrency, |i| {
        login(&http, args, &usernames[i])
    })
    .await?;
    report("token endpoint (POST /connect/token)", &logins, started.elapsed());
    Ok(())
}

/// Runs `count` operations with at most `concurrency` in flight; returns results in order.
pub(crate) async fn run_concurrently<T, F, Fut>(
    count: usize,
    concurrency: usize,
    operation: F,
) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    use std::collections::VecDeque;
    let mut results = Vec::with_capacity(count);
    let mut in_flight = VecDeque::new();
    for i in 0..count {
        in_flight.push_back(operation(i));
        if in_flight.len() == concurrency {
            results.push(in_flight.pop_front().unwrap().await?);
        }
    }
    for pending in in_flight {
        results.push(pending.await?);
    }
    Ok(results)
}

pub(crate) async fn create_identity(
    http: &reqwest::Client,
    args: &Args,
) -> anyhow::Result<(Duration, String)> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let started = Instant::now();
    let challenge: Value = http
        .post(format!("{}/api/v2/Challenges", args.base_url))
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let challenge = &challenge["result"];
    let text =
        json!({ "id": challenge["id"], "expiresAt": challenge["expiresAt"], "type": "Identity" }).to_string();
    let signature = json!({ "sig": encode_bytes(&key.sign(text.as_bytes()).to_bytes()), "alg": 2, "@type": "CryptoSignature" });
    let public_key = json!({ "pub": encode_bytes(key.verifying_key().as_bytes()), "alg": 3 });
    let body = json!({
        "clientId": args.client_id,
        "clientSecret": args.client_secret,
        "identityPublicKey": encode_bytes(public_key.to_string().as_bytes()),
        "devicePassword": PASSWORD,
        "identityVersion": 1,
        "signedChallenge": { "challenge": text, "signature": encode_bytes(signature.to_string().as_bytes()) },
    });
    let response = http
        .post(format!("{}/api/v2/Identities", args.base_url))
        .json(&body)
        .send()
        .await?;
    let elapsed = started.elapsed();
    if response.status() != 201 {
        bail!(
            "identity creation failed: {} {}",
            response.status(),
            response.text().await?
        );
    }
    let created: Value = response.json().await?;
    let username = created["result"]["device"]["username"]
        .as_str()
        .context("username")?
        .to_owned();
    Ok((elapsed, username))
}

pub(crate) async fn login(http: &reqwest::Client, args: &Args, username: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = http
        .post(format!("{}/connect/token", args.base_url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &args.client_id),
            ("client_secret", &args.client_secret),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    let elapsed = started.elapsed();
    if response.status() != 200 {
        bail!("login failed: {} {}", response.status(), response.text().await?);
    }
    Ok(elapsed)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
)]
pub(crate) fn report(name: &str, latencies: &[Duration], wall: Duration) {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let percentile = |p: f64| stats::percentile(&sorted, p);
    let ms = stats::ms;
    println!(
        "{name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms throughput={:.1}/s",
        sorted.len(),
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(*sorted.last().unwrap()),
        sorted.len() as f64 / wall.as_secs_f64(),
    );
}
