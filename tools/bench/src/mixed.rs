//! `mixed`: `--count` identities in related pairs; then `--concurrency` clients, each with its
//! own identity, loop for `--duration` seconds over a weighted mix of reads and writes, the
//! way apps use the Backbone. Prints requests/s, p50/p99 per operation, failures by status
//! and kind, and the server's memory.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

use crate::backlog::{Backlog, Watch};
use crate::client::{load_client, request, Failure};
use crate::procfs::{load_average, RssSampler};
use crate::scenarios::{b64, create_datawallet, Session};
use crate::setup::{related_pairs, retried};
use crate::stats::Recorder;
use crate::{run_concurrently, Args};

#[derive(Clone, Copy, Debug)]
enum Op {
    ListMessages,
    GetRelationship,
    GetToken,
    Sync,
    Send,
    CreateToken,
    CreateTemplate,
}

/// Weights out of 100: reads, a sync run (start, events, the synced messages, finalize),
/// 15 % message sends and some creations.
const MIX: [(Op, u32); 7] = [
    (Op::ListMessages, 20),
    (Op::GetRelationship, 15),
    (Op::GetToken, 15),
    (Op::Sync, 15),
    (Op::Send, 15),
    (Op::CreateToken, 10),
    (Op::CreateTemplate, 10),
];

/// Longest run: the set-up's access tokens must outlive it.
const MAX_SECONDS: u64 = 3000;

/// One simulated app: its identity, its peer and what it needs to address them.
struct Client {
    me: Session,
    peer: String,
    relationship_id: String,
    /// A token of the peer's, read by `GetToken`.
    peer_token: String,
    /// A sync run whose finalisation failed; finalised again before a new one is started,
    /// since an identity can have only one active run.
    unfinished_run: Option<(String, Value)>,
    rng: StdRng,
}

/// What every client task shares.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base_url: String,
}

impl Target {
    /// One request, timed and recorded under `op`.
    async fn call(
        &self,
        recorder: &mut Recorder,
        op: &'static str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let started = Instant::now();
        let result = request(&self.http, &self.base_url, token, method, path, body.as_ref()).await;
        recorder.record(op, started.elapsed(), &result);
        result
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
)]
pub(crate) async fn mixed(args: &Args) -> anyhow::Result<()> {
    if args.count < args.concurrency {
        bail!(
            "mixed needs at least one identity per client: --count {} < --concurrency {}",
            args.count,
            args.concurrency
        );
    }
    if args.duration > MAX_SECONDS {
        bail!("--duration is at most {MAX_SECONDS} s: access tokens are not refreshed, and bench.sh makes them live an hour");
    }
    let http = load_client(Duration::from_secs(args.timeout), args.concurrency)?;
    let target = Target {
        http: http.clone(),
        base_url: args.base_url.clone(),
    };
    let clients = prepare(&http, args).await?;
    println!(
        "mixed load: {} clients for {} s (at most {} requests), {} identities; load average before: {}",
        args.concurrency,
        args.duration,
        args.max_requests,
        args.count,
        load_average()
    );
    let sampler = args.server_pid.map(RssSampler::start);
    let backlog = match &args.database_url {
        Some(url) => Some(Backlog::connect(url).await?),
        None => None,
    };
    let watch = backlog.as_ref().map(Backlog::watch);
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let budget = args.max_requests.div_ceil(args.concurrency);
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .take(args.concurrency)
        .map(|client| tokio::spawn(run_client(target.clone(), client, deadline, budget)))
        .collect();
    let mut recorder = Recorder::default();
    for task in tasks {
        recorder.merge(task.await?);
    }
    let wall = started.elapsed();
    println!(
        "{} requests in {:.1} s: {:.1} requests/s; load average after: {}",
        recorder.requests(),
        wall.as_secs_f64(),
        recorder.requests() as f64 / wall.as_secs_f64(),
        load_average()
    );
    recorder.print(wall);
    if let Some(sampler) = sampler {
        sampler.finish().await;
    }
    if let (Some(backlog), Some(watch)) = (backlog, watch) {
        report_backlog(&backlog, watch, Duration::from_secs(args.drain_timeout)).await?;
    }
    Ok(())
}

/// The worker keeps up if the backlog stays small and drains soon after the load.
async fn report_backlog(backlog: &Backlog, watch: Watch, timeout: Duration) -> anyhow::Result<()> {
    let at_end = backlog.count().await?;
    let max = watch.stop().await.max(at_end);
    let drained = backlog.wait_until(0, timeout).await?;
    println!(
        "outbox backlog: max {max} events during the load, {at_end} at its end, {}",
        drained.map_or_else(
            || format!("not drained {} s later", timeout.as_secs()),
            |d| format!("drained {:.1} s later", d.as_secs_f64())
        )
    );
    Ok(())
}

/// The pairs, each identity's datawallet (sync runs need it) and one token per identity for
/// its peer to read.
async fn prepare(http: &reqwest::Client, args: &Args) -> anyhow::Result<Vec<Client>> {
    let pairs = related_pairs(http, args, args.setup_concurrency).await?;
    let mut sides = Vec::with_capacity(pairs.len() * 2);
    for pair in pairs {
        let (owner, requester) = (pair.owner.address.clone(), pair.requester.address.clone());
        sides.push((pair.owner, requester, pair.relationship_id.clone()));
        sides.push((pair.requester, owner, pair.relationship_id));
    }
    let tokens = run_concurrently(sides.len(), args.setup_concurrency, |i| {
        let me = &sides[i].0;
        retried(move || async move {
            create_datawallet(http, args, me).await?;
            create_token(http, &args.base_url, &me.token).await
        })
    })
    .await?;
    Ok(sides
        .into_iter()
        .enumerate()
        .map(|(i, (me, peer, relationship_id))| Client {
            me,
            peer,
            relationship_id,
            // Sides come in pairs (owner, requester): each reads the other's token.
            peer_token: tokens[i ^ 1].clone(),
            unfinished_run: None,
            rng: StdRng::seed_from_u64(i as u64),
        })
        .collect())
}

async fn create_token(http: &reqwest::Client, base_url: &str, token: &str) -> anyhow::Result<String> {
    let created = request(
        http,
        base_url,
        token,
        Method::POST,
        "/api/v2/Tokens",
        Some(&token_body()),
    )
    .await
    .map_err(|f| anyhow::anyhow!("POST /api/v2/Tokens: {}", f.label()))?;
    Ok(created["id"].as_str().context("token id")?.to_owned())
}

fn token_body() -> Value {
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    json!({ "content": b64(&[3; 128]), "expiresAt": expires })
}

/// Loops until the deadline or the request budget; requests started before the deadline
/// finish (or time out) after it.
async fn run_client(target: Target, mut client: Client, deadline: Instant, budget: usize) -> Recorder {
    let mut recorder = Recorder::default();
    let total: u32 = MIX.iter().map(|(_, weight)| weight).sum();
    while Instant::now() < deadline && recorder.requests() < budget {
        let mut pick = client.rng.gen_range(0..total);
        let op = MIX
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map_or(Op::ListMessages, |(op, _)| *op);
        client.run(op, &target, &mut recorder).await;
    }
    recorder
}

impl Client {
    async fn run(&mut self, op: Op, target: &Target, recorder: &mut Recorder) {
        // Failures are recorded by `Target::call`; the loop goes on with the next operation.
        let _ = match self.single_request(op) {
            Some((label, method, path, body)) => {
                let token = self.me.token.clone();
                target.call(recorder, label, &token, method, &path, body).await
            }
            None => self.sync(target, recorder).await,
        };
    }

    /// The label, method, path and body of an operation that is one request; `None` for the
    /// sync run.
    fn single_request(&self, op: Op) -> Option<(&'static str, Method, String, Option<Value>)> {
        Some(match op {
            Op::ListMessages => (
                "GET /Messages?pageSize=10",
                Method::GET,
                "/api/v2/Messages?pageSize=10".into(),
                None,
            ),
            Op::GetRelationship => (
                "GET /Relationships?ids=<own>",
                Method::GET,
                format!("/api/v2/Relationships?ids={}", self.relationship_id),
                None,
            ),
            Op::GetToken => (
                "GET /Tokens/<peer's>",
                Method::GET,
                format!("/api/v2/Tokens/{}", self.peer_token),
                None,
            ),
            Op::Send => {
                let body = json!({
                    "recipients": [{ "address": self.peer, "encryptedKey": b64(&[7; 64]) }],
                    "body": b64(&[42; 1024]),
                    "attachments": [],
                });
                (
                    "POST /Messages",
                    Method::POST,
                    "/api/v2/Messages".into(),
                    Some(body),
                )
            }
            Op::CreateToken => (
                "POST /Tokens",
                Method::POST,
                "/api/v2/Tokens".into(),
                Some(token_body()),
            ),
            Op::CreateTemplate => {
                let body = json!({ "content": b64(&[5; 256]), "maxNumberOfAllocations": 1 });
                let path = "/api/v2/RelationshipTemplates".into();
                ("POST /RelationshipTemplates", Method::POST, path, Some(body))
            }
            Op::Sync => return None,
        })
    }

    /// A sync run as an app does it: start, read the new external events, fetch the messages
    /// they announce (which marks them received), finalize.
    async fn sync(&mut self, target: &Target, recorder: &mut Recorder) -> Result<Value, Failure> {
        let token = self.me.token.clone();
        if let Some((run, results)) = self.unfinished_run.take() {
            if let Err(failure) = self.finalize(target, recorder, &run, results.clone()).await {
                // 4xx: it is finalized or expired after all; anything else: try again later.
                if !(400..500).contains(&failure.status()) {
                    self.unfinished_run = Some((run, results));
                }
                return Err(failure);
            }
        }
        let body = json!({ "type": "ExternalEventSync" });
        let op = "POST /SyncRuns (external events)";
        let started = target
            .call(recorder, op, &token, Method::POST, "/api/v2/SyncRuns", Some(body))
            .await?;
        if started["status"] == "NoNewEvents" {
            return Ok(Value::Null);
        }
        let run = started["syncRun"]["id"].as_str().unwrap_or_default().to_owned();
        let events = self.events(target, recorder, &run).await?;
        let message_ids: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "MessageReceived")
            .filter_map(|e| e["payload"]["id"].as_str())
            .collect();
        for chunk in message_ids.chunks(50) {
            let path = format!("/api/v2/Messages?pageSize=50&ids={}", chunk.join("&ids="));
            let op = "GET /Messages?ids=<synced>";
            target
                .call(recorder, op, &token, Method::GET, &path, None)
                .await?;
        }
        let results: Vec<Value> = events
            .iter()
            .map(|e| json!({ "externalEventId": e["id"] }))
            .collect();
        let results = Value::Array(results);
        if let Err(failure) = self.finalize(target, recorder, &run, results.clone()).await {
            self.unfinished_run = Some((run, results));
            return Err(failure);
        }
        Ok(Value::Null)
    }

    /// Every page of the run's external events.
    async fn events(
        &self,
        target: &Target,
        recorder: &mut Recorder,
        run: &str,
    ) -> Result<Vec<Value>, Failure> {
        let mut all = Vec::new();
        for page in 1..=100 {
            let path = format!("/api/v2/SyncRuns/{run}/ExternalEvents?pageNumber={page}&pageSize=50");
            let op = "GET /SyncRuns/<id>/ExternalEvents";
            let events = target
                .call(recorder, op, &self.me.token, Method::GET, &path, None)
                .await?;
            let events = events.as_array().cloned().unwrap_or_default();
            let last = events.len() < 50;
            all.extend(events);
            if last {
                break;
            }
        }
        Ok(all)
    }

    async fn finalize(
        &self,
        target: &Target,
        recorder: &mut Recorder,
        run: &str,
        results: Value,
    ) -> Result<Value, Failure> {
        let path = format!("/api/v2/SyncRuns/{run}/FinalizeExternalEventSync");
        let body = json!({ "externalEventResults": results });
        let op = "PUT /SyncRuns/<id>/FinalizeExternalEventSync";
        target
            .call(recorder, op, &self.me.token, Method::PUT, &path, Some(body))
            .await
    }
}
