//! Proof of scale-out: two `backbone consumer-api` replicas and two `backbone worker`
//! processes of the real binary on one PostgreSQL database and RabbitMQ (the machine's
//! broker, with an exchange and queues of this test's own), behind a round-robin TCP proxy.
//! The published client runs the interop flows' core through the proxy (every request may
//! land on the other replica); each event is handled once; and an SSE stream opened on
//! replica 1 receives the push caused by a request to replica 2.
//!
//! Needs PostgreSQL, RabbitMQ on 127.0.0.1:5672, Node.js and `npm ci` in tests/interop; a
//! missing one fails the test.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backbone::config::Settings;
use backbone_db::sqlx;
use support::api::{self, SseStream};
use support::proxy::Proxy;
use support::{
    free_port, process_env, unique, wait_for_health, wait_until, PostgresDatabase, Process, TempDir,
};

const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

struct Cluster {
    db: PostgresDatabase,
    data: TempDir,
    exchange: String,
    apis: Vec<(Process, SocketAddr)>,
    workers: Vec<Process>,
}

fn env(db: &PostgresDatabase, data: &TempDir, exchange: &str) -> Vec<(String, String)> {
    support::with(
        process_env(db, data, RABBITMQ.into(), "scale-out-admin-api-key"),
        &[
            ("BACKBONE_DATABASE__MAX_CONNECTIONS", "8".into()),
            ("BACKBONE_EVENT_BUS__RABBITMQ__EXCHANGE", exchange.into()),
            (
                "BACKBONE_EVENT_BUS__RABBITMQ__QUEUE_PREFIX",
                format!("{exchange}."),
            ),
            ("BACKBONE_WORKER__RELAY_INTERVAL_MILLISECONDS", "50".into()),
            ("BACKBONE_PUSH__DELIVERY__POLL_INTERVAL_MILLISECONDS", "50".into()),
        ],
    )
}

impl Cluster {
    async fn start() -> Self {
        let db = PostgresDatabase::new();
        let data = TempDir::new("scale-out");
        let exchange = format!("backbone-test-{}", unique());
        let env = env(&db, &data, &exchange);
        Process::run(&["migrate"], &env);
        let client = [
            "client",
            "create",
            "--clientId",
            api::CLIENT_ID,
            "--clientSecret",
            api::CLIENT_SECRET,
        ];
        Process::run(&[&client[..], &["--defaultTier", "Basic"]].concat(), &env);
        let mut apis = Vec::new();
        for replica in 1..=2 {
            let address: SocketAddr = ([127, 0, 0, 1], free_port()).into();
            let mut replica_env = env.clone();
            replica_env.push(("BACKBONE_CONSUMER_API__LISTEN".into(), address.to_string()));
            let mut process = Process::spawn(
                &format!("consumer-api-{replica}"),
                &["consumer-api"],
                &replica_env,
                &data.0,
            );
            wait_for_health(&format!("http://{address}"), &mut process).await;
            apis.push((process, address));
        }
        let workers = (1..=2)
            .map(|n| Process::spawn(&format!("worker-{n}"), &["worker"], &env, &data.0))
            .collect();
        Self {
            db,
            data,
            exchange,
            apis,
            workers,
        }
    }

    fn url(&self, replica: usize) -> String {
        format!("http://{}", self.apis[replica].1)
    }

    fn assert_running(&mut self) {
        for (process, _) in &mut self.apis {
            process.assert_running();
        }
        for process in &mut self.workers {
            process.assert_running();
        }
    }

    /// The configuration the processes run with, for an in-test view of the same database
    /// and broker.
    fn settings(&self) -> Settings {
        let mut settings = Settings {
            data_dir: self.data.0.join("inspector"),
            ..Settings::default()
        };
        settings.database.url = Some(self.db.url.clone());
        settings.event_bus.provider = backbone_eventbus::Provider::Rabbitmq;
        settings.event_bus.rabbitmq.url = RABBITMQ.into();
        settings.event_bus.rabbitmq.exchange.clone_from(&self.exchange);
        settings.event_bus.rabbitmq.queue_prefix = format!("{}.", self.exchange);
        settings
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

/// The published client's flows through `base`; panics with their output if a step fails.
fn run_client_flows(base: &str) -> serde_json::Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@nmshd/transport").exists(),
        "run `npm ci` in tests/interop first (the scale-out test drives the published client)"
    );
    let output = Command::new("node")
        .arg("scale-out/flows.mjs")
        .current_dir(&dir)
        .env("SCALE_OUT_BASE_URL", base)
        .env("SCALE_OUT_MESSAGES", "5")
        .output()
        .expect("node runs (Node.js >= 20 is needed)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client flows failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the flows print a summary")
}

async fn scalar(db: &backbone_db::Database, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[expect(
    clippy::too_many_lines,
    reason = "one cluster scenario: the processes start once and every step uses them"
)]
async fn replicas_and_workers_share_one_database_and_rabbitmq() {
    let mut cluster = Cluster::start().await;
    let proxy = Proxy::start(cluster.apis.iter().map(|(_, address)| *address).collect()).await;

    // The client derives identity addresses from the host name, which must be the DID domain.
    let summary = run_client_flows(&format!("http://localhost:{}", proxy.address.port()));
    cluster.assert_running();
    let served: Vec<usize> = proxy
        .connections
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    assert!(
        served.iter().all(|&n| n > 0),
        "both replicas answered: {served:?}"
    );

    // SSE: B's stream is held by replica 1; A's message goes to replica 2.
    let http = api::http();
    let (a, b) = (
        api::session(&http, &proxy.url()).await.unwrap(),
        api::session(&http, &proxy.url()).await.unwrap(),
    );
    api::relate(&http, &proxy.url(), &a, &b).await.unwrap();
    let mut stream = SseStream::open(&cluster.url(0), &b.token).await.unwrap();
    assert_eq!(
        stream.next(Duration::from_secs(10)).await.as_deref(),
        Some("ConnectionOpened")
    );
    // Pushes for the relationship's own events may still arrive; wait for the message's.
    let db = backbone_db::Database::connect(&cluster.db.url, backbone_db::PoolOptions::default())
        .await
        .unwrap();
    let relationship_events = format!(
        "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL OR event_type = 'ExternalEventCreated' AND payload LIKE '%{}%'",
        b.address
    );
    wait_until(
        "the relationship's events to be relayed",
        Duration::from_secs(30),
        || async {
            scalar(
                &db,
                "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL",
            )
            .await
                == 0
                && scalar(&db, &relationship_events).await >= 1
        },
    )
    .await;
    while stream.next(Duration::from_millis(500)).await.is_some() {}
    api::send_message(&http, &cluster.url(1), &a, &b).await.unwrap();
    let mut pushed = Vec::new();
    while let Some(name) = stream.next(Duration::from_secs(30)).await {
        pushed.push(name.clone());
        if name == "ExternalEventCreated" {
            break;
        }
    }
    assert_eq!(
        pushed.last().map(String::as_str),
        Some("ExternalEventCreated"),
        "got {pushed:?}"
    );

    // Each event handled once: every outbox event is published, nothing is left in a queue
    // or set aside, and each message reached its recipient as exactly one external event.
    wait_until("an empty outbox", Duration::from_secs(30), || async {
        scalar(
            &db,
            "SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL",
        )
        .await
            == 0
    })
    .await;
    let inspector = backbone::Application::build(cluster.settings(), None)
        .await
        .unwrap();
    let bus = inspector.events.rabbitmq().unwrap();
    wait_until("empty queues", Duration::from_secs(30), || async {
        bus.queue_depths()
            .await
            .unwrap()
            .iter()
            .all(|(_, depth)| *depth == 0)
    })
    .await;
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM dead_letter_events").await, 0);
    let messages = scalar(&db, "SELECT COUNT(*) FROM messages").await;
    assert_eq!(messages, summary["messages"].as_i64().unwrap() + 1);
    let duplicates = "SELECT COUNT(*) FROM (SELECT owner, payload FROM external_events \
        WHERE event_type = 'MessageReceived' GROUP BY owner, payload HAVING COUNT(*) > 1) d";
    assert_eq!(scalar(&db, duplicates).await, 0, "no message announced twice");
    let announced = scalar(
        &db,
        "SELECT COUNT(*) FROM external_events WHERE event_type = 'MessageReceived'",
    )
    .await;
    assert_eq!(
        announced, messages,
        "every message announced to its recipient once"
    );
    let created_events = scalar(
        &db,
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'MessageCreated'",
    )
    .await;
    let handled = scalar(
        &db,
        "SELECT COUNT(*) FROM processed_events p JOIN outbox_events o ON o.event_id = p.event_id \
         WHERE o.event_type = 'MessageCreated' AND p.consumer = 'Synchronization.ExternalEvents'",
    )
    .await;
    assert_eq!(
        handled, created_events,
        "each MessageCreated handled once by Synchronization"
    );
    cluster.assert_running();
    // Stopped first: a connected worker would declare the queues again.
    cluster.apis.clear();
    cluster.workers.clear();
    bus.delete_topology().await.unwrap();
}
