//! Sustained message sending, for `scripts/bench-pgbench.sh`:
//! - `send-setup`: `--count` identities in related pairs; saves each pair's sender (the side
//!   that requested the relationship) with its access token to `--sessions-file`, and waits
//!   until the worker has handled the set-up's events;
//! - `send`: `--concurrency` senders, each with its own pairs, send 1 KiB messages for
//!   `--duration` seconds while the outbox backlog is sampled; then it waits for the backlog
//!   to drain. Accepted rate = 201s / sending time; sustained rate = the same messages / time
//!   until their events were handled (backlog back to zero).

use std::time::{Duration, Instant};

use crate::backlog::Backlog;
use crate::client::{load_client, request};
use crate::scenarios::b64;
use crate::setup::related_pairs;
use crate::stats::{ms, percentile, sorted_latencies, Recorder};
use crate::Args;
use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::{json, Value};

const SEND: &str = "POST /Messages";

pub(crate) async fn send_setup(args: &Args) -> anyhow::Result<()> {
    let file = args
        .sessions_file
        .as_deref()
        .context("--sessions-file is required")?;
    let http = load_client(Duration::from_secs(args.timeout), args.setup_concurrency)?;
    let pairs = related_pairs(&http, args, args.setup_concurrency).await?;
    let saved: Vec<Value> = pairs
        .iter()
        .map(|p| {
            json!({
                "sender": p.requester.address,
                "token": p.requester.token,
                "recipient": p.owner.address,
            })
        })
        .collect();
    std::fs::write(file, serde_json::to_vec(&saved)?).with_context(|| format!("writing {file}"))?;
    if let Some(url) = &args.database_url {
        let backlog = Backlog::connect(url).await?;
        if backlog
            .wait_until(0, Duration::from_secs(args.drain_timeout))
            .await?
            .is_none()
        {
            bail!(
                "the set-up's events were not handled within {} s",
                args.drain_timeout
            );
        }
    }
    Ok(())
}

/// A sender with its share of the pairs and how many messages each pair may still take
/// (the recipient never fetches them, so the unreceived-message limit is the budget).
struct Sender {
    pairs: Vec<(String, String)>,
    left: Vec<usize>,
}

pub(crate) async fn send(args: &Args) -> anyhow::Result<()> {
    let file = args
        .sessions_file
        .as_deref()
        .context("--sessions-file is required")?;
    let url = args
        .database_url
        .as_deref()
        .context("--database-url is required")?;
    let saved: Vec<Value> = serde_json::from_slice(&std::fs::read(file)?)?;
    if saved.len() < args.concurrency {
        bail!(
            "{} pairs for {} senders: every sender needs its own",
            saved.len(),
            args.concurrency
        );
    }
    let backlog = Backlog::connect(url).await?;
    let senders = assign(&saved, args.concurrency, args.unreceived_limit);
    let http = load_client(Duration::from_secs(args.timeout), args.concurrency)?;
    let start_backlog = backlog.count().await?;
    let watch = backlog.watch();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let tasks: Vec<_> = senders
        .into_iter()
        .map(|sender| tokio::spawn(run_sender(http.clone(), args.base_url.clone(), sender, deadline)))
        .collect();
    let mut recorder = Recorder::default();
    let mut exhausted = 0;
    for task in tasks {
        let (sent, out_of_budget) = task.await?;
        recorder.merge(sent);
        exhausted += usize::from(out_of_budget);
    }
    let sending = started.elapsed();
    let end_backlog = backlog.count().await?;
    let drained = backlog
        .wait_until(start_backlog, Duration::from_secs(args.drain_timeout))
        .await?
        .map(|_| started.elapsed());
    let max_backlog = watch.stop().await.max(end_backlog);
    if exhausted > 0 {
        println!(
            "note: {exhausted} senders used up their pairs' unreceived-message budget before the time was up"
        );
    }
    let summary = Summary {
        args,
        recorder: &recorder,
        sending,
        drained,
    };
    summary.print(start_backlog, end_backlog, max_backlog);
    Ok(())
}

/// Pair *i* goes to sender *i* mod `senders` (pgbench client *i* likewise takes every
/// `senders`-th pair): no two senders share a recipient.
fn assign(saved: &[Value], senders: usize, budget: usize) -> Vec<Sender> {
    let mut assigned: Vec<Sender> = (0..senders)
        .map(|_| Sender {
            pairs: Vec::new(),
            left: Vec::new(),
        })
        .collect();
    for (i, pair) in saved.iter().enumerate() {
        let sender = &mut assigned[i % senders];
        let field = |name: &str| pair[name].as_str().unwrap_or_default().to_owned();
        sender.pairs.push((field("token"), field("recipient")));
        sender.left.push(budget);
    }
    assigned
}

/// Sends until the deadline or until every pair is out of budget; returns the latencies and
/// whether the budget ran out.
async fn run_sender(
    http: reqwest::Client,
    base_url: String,
    mut sender: Sender,
    deadline: Instant,
) -> (Recorder, bool) {
    let mut recorder = Recorder::default();
    let body = |to: &str| {
        json!({
            "recipients": [{ "address": to, "encryptedKey": b64(&[7; 64]) }],
            "body": b64(&[42; 1024]),
            "attachments": [],
        })
    };
    let mut next = 0;
    while Instant::now() < deadline {
        let Some(i) = (0..sender.pairs.len())
            .map(|k| (next + k) % sender.pairs.len())
            .find(|&i| sender.left[i] > 0)
        else {
            return (recorder, true);
        };
        next = i + 1;
        let (token, recipient) = &sender.pairs[i];
        let timer = Instant::now();
        let result = request(
            &http,
            &base_url,
            token,
            Method::POST,
            "/api/v2/Messages",
            Some(&body(recipient)),
        )
        .await;
        recorder.record(SEND, timer.elapsed(), &result);
        if result.is_ok() {
            sender.left[i] -= 1;
        }
    }
    (recorder, false)
}

struct Summary<'a> {
    args: &'a Args,
    recorder: &'a Recorder,
    sending: Duration,
    /// From the first send until the backlog drained.
    drained: Option<Duration>,
}

impl Summary<'_> {
    /// A readable report, then one `RESULT` line of key=value pairs for the script's table.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
    )]
    fn print(&self, start_backlog: i64, end_backlog: i64, max_backlog: i64) {
        let accepted = self.recorder.ok(SEND);
        let failed: u64 = self.recorder.failures().values().sum();
        let accepted_rate = accepted as f64 / self.sending.as_secs_f64();
        let sustained = self.drained.map(|d| accepted as f64 / d.as_secs_f64());
        let latencies = sorted_latencies(self.recorder, SEND);
        self.recorder.print(self.sending);
        let growth = (end_backlog - start_backlog) as f64 / self.sending.as_secs_f64();
        println!(
            "outbox backlog: {start_backlog} before, {end_backlog} when sending stopped ({growth:+.1} events/s), max {max_backlog}"
        );
        match self.drained {
            // How fast the worker goes once it has the database to itself.
            Some(d) => println!(
                "backlog drained {:.1} s after the first send; {:.1} events/s after sending stopped",
                d.as_secs_f64(),
                (end_backlog - start_backlog).max(0) as f64
                    / d.checked_sub(self.sending).unwrap().as_secs_f64().max(0.001)
            ),
            None => println!(
                "backlog NOT drained within {} s after sending",
                self.args.drain_timeout
            ),
        }
        let failures: Vec<String> = self
            .recorder
            .failures()
            .iter()
            .map(|(label, n)| format!("{n}x{}", label.replace(' ', "_")))
            .collect();
        println!(
            "RESULT clients={} accepted={accepted} failed={failed} send_s={:.1} accepted_per_s={accepted_rate:.1} \
             drained_s={} sustained_per_s={} p50_ms={:.1} p99_ms={:.1} backlog_max={max_backlog} failures={}",
            self.args.concurrency,
            self.sending.as_secs_f64(),
            self.drained.map_or("none".into(), |d| format!("{:.1}", d.as_secs_f64())),
            sustained.map_or("none".into(), |s| format!("{s:.1}")),
            ms(percentile(&latencies, 0.50)),
            ms(percentile(&latencies, 0.99)),
            if failures.is_empty() { "none".into() } else { failures.join(",") },
        );
    }
}
