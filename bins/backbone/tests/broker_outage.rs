//! A broker outage delays events but loses none: with a RabbitMQ node of the test's own (free
//! ports, a temporary directory, stopped by its PID), 1,000 messages are sent under load
//! while the broker is stopped for 30 s and started again. Every request is answered, and
//! every recipient gets exactly one external event per message, none lost, none duplicated.
//!
//! Needs PostgreSQL and Debian's rabbitmq-server; a missing one fails the test.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backbone_db::sqlx;
use futures::future::join_all;
use support::api::{self, Session};
use support::rabbitmq::RabbitNode;
use support::{free_port, process_env, wait_for_health, wait_until, PostgresDatabase, Process, TempDir};

const PAIRS: usize = 20;
const OUTAGE: Duration = Duration::from_secs(30);
/// Messages per sender before, during and after the outage: 20 senders x 50 = 1,000.
const BEFORE: usize = 12;
const DURING: usize = 26;
const AFTER: usize = 12;

fn env(db: &PostgresDatabase, data: &TempDir, broker: &RabbitNode, listen: &str) -> Vec<(String, String)> {
    support::with(
        process_env(db, data, broker.url(), "outage-admin-api-key"),
        &[
            ("BACKBONE_CONSUMER_API__LISTEN", listen.into()),
            (
                "BACKBONE_MESSAGES__MAX_NUMBER_OF_UNRECEIVED_MESSAGES_FROM_ONE_SENDER",
                "100".into(),
            ),
            ("BACKBONE_WORKER__RELAY_INTERVAL_MILLISECONDS", "100".into()),
        ],
    )
}

/// Each sender sends `count` messages to its recipient, one every `pace` (none: at once);
/// returns the IDs per recipient and the failed requests.
async fn send_round(
    base: &str,
    pairs: &[(Session, Session)],
    count: usize,
    pace: Option<Duration>,
) -> (Vec<(String, String)>, Vec<String>) {
    let http = api::http();
    let results = join_all(pairs.iter().map(|(sender, recipient)| {
        let http = http.clone();
        async move {
            let mut sent = Vec::new();
            let mut failed = Vec::new();
            let mut ticks = pace.map(tokio::time::interval);
            for _ in 0..count {
                if let Some(ticks) = &mut ticks {
                    ticks.tick().await;
                }
                match api::send_message(&http, base, sender, recipient).await {
                    Ok(id) => sent.push((recipient.address.clone(), id)),
                    Err(error) => failed.push(format!("{error:#}")),
                }
            }
            (sent, failed)
        }
    }))
    .await;
    let mut all_sent = Vec::new();
    let mut all_failed = Vec::new();
    for (sent, failed) in results {
        all_sent.extend(sent);
        all_failed.extend(failed);
    }
    (all_sent, all_failed)
}

async fn bus_is_healthy(http: &reqwest::Client, base: &str) -> bool {
    let Ok(response) = http.get(format!("{base}/health")).send().await else {
        return false;
    };
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["checks"].as_array().is_some_and(|checks| {
        checks
            .iter()
            .any(|c| c["name"] == "eventBus" && c["healthy"] == true)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[expect(
    clippy::too_many_lines,
    reason = "one outage scenario: load, stop the broker, restart it, then count every event"
)]
async fn a_broker_outage_under_load_loses_and_duplicates_no_event() {
    let mut broker = RabbitNode::start().await;
    let db = PostgresDatabase::new();
    let data = TempDir::new("outage");
    let address = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{address}");
    let env = env(&db, &data, &broker, &address);
    Process::run(&["migrate"], &env);
    Process::run(
        &[
            "client",
            "create",
            "--clientId",
            api::CLIENT_ID,
            "--clientSecret",
            api::CLIENT_SECRET,
            "--defaultTier",
            "Basic",
        ],
        &env,
    );
    let mut consumer_api = Process::spawn("consumer-api", &["consumer-api"], &env, &data.0);
    let mut worker = Process::spawn("worker", &["worker"], &env, &data.0);
    wait_for_health(&base, &mut consumer_api).await;

    let http = api::http();
    let pairs: Vec<(Session, Session)> = join_all((0..PAIRS).map(|_| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let sender = api::session(&http, &base).await.unwrap();
            let recipient = api::session(&http, &base).await.unwrap();
            api::relate(&http, &base, &recipient, &sender).await.unwrap();
            (sender, recipient)
        }
    }))
    .await;
    let pairs = Arc::new(pairs);

    let (mut sent, mut failed) = send_round(&base, &pairs, BEFORE, None).await;

    broker.stop().await;
    let stopped = Instant::now();
    wait_until(
        "the health check to name the bus",
        Duration::from_secs(30),
        || async { !bus_is_healthy(&http, &base).await },
    )
    .await;
    // Spread over most of the outage, so requests keep coming while the broker is away.
    let pace = OUTAGE.saturating_sub(Duration::from_secs(6)) / u32::try_from(DURING).unwrap();
    let (during, failed_during) = send_round(&base, &pairs, DURING, Some(pace)).await;
    sent.extend(during);
    failed.extend(failed_during);
    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    broker.restart().await;

    let (after, failed_after) = send_round(&base, &pairs, AFTER, None).await;
    sent.extend(after);
    failed.extend(failed_after);
    assert!(
        failed.is_empty(),
        "{} requests failed, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(sent.len(), 1000);

    let db_view = backbone_db::Database::connect(&db.url, backbone_db::PoolOptions::default())
        .await
        .unwrap();
    wait_until(
        "every message's external event",
        Duration::from_secs(180),
        || async {
            let announced: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM external_events WHERE event_type = 'MessageReceived'",
            )
            .fetch_one(db_view.pool())
            .await
            .unwrap();
            announced >= 1000
        },
    )
    .await;
    wait_until("the bus to be healthy again", Duration::from_secs(30), || async {
        bus_is_healthy(&http, &base).await
    })
    .await;
    consumer_api.assert_running();
    worker.assert_running();

    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT owner, payload FROM external_events WHERE event_type = 'MessageReceived'")
            .fetch_all(db_view.pool())
            .await
            .unwrap();
    let mut announced: HashMap<(String, String), usize> = HashMap::new();
    for (owner, payload) in rows {
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let id = payload["id"].as_str().unwrap_or_default().to_owned();
        *announced.entry((owner, id)).or_default() += 1;
    }
    let duplicated = announced.values().filter(|&&n| n > 1).count();
    assert_eq!(duplicated, 0, "messages announced more than once");
    let missing = sent.iter().filter(|key| !announced.contains_key(*key)).count();
    assert_eq!(missing, 0, "messages never announced");
    assert_eq!(announced.len(), 1000);
    let dead: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter_events")
        .fetch_one(db_view.pool())
        .await
        .unwrap();
    assert_eq!(dead, 0, "no event was set aside");
}
