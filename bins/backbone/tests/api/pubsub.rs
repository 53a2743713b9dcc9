//! The event bus on Google Cloud Pub/Sub, against the emulator of the Google Cloud CLI
//! (`google-cloud-cli-pubsub-emulator`, Java 17), started by the test on a free port and
//! stopped by its PID: events published with the server's ack reach the handlers'
//! subscriptions, are handled once, and a poisoned event is set aside there too.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backbone_core::events::DomainEvent;
use backbone_eventbus::Provider;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

const EMULATOR_DIR: &str = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib";

/// The Pub/Sub emulator on a port of its own; killed when dropped.
struct Emulator {
    port: u16,
    child: Child,
}

impl Emulator {
    async fn start() -> Self {
        let jar: PathBuf = std::fs::read_dir(EMULATOR_DIR)
            .ok()
            .and_then(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|e| e == "jar") && p.to_string_lossy().contains("pubsub-emulator"))
            })
            .unwrap_or_else(|| panic!("the Pub/Sub emulator is not installed ({EMULATOR_DIR}): install google-cloud-cli-pubsub-emulator"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("java")
            .arg("-jar")
            .arg(&jar)
            .args(["--host=127.0.0.1", &format!("--port={port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs (the emulator needs Java 17)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "the Pub/Sub emulator did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { port, child }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn events_travel_through_pubsub(backend: Backend) {
    let emulator = Emulator::start().await;
    let app = TestApp::spawn_with(backend, |settings| {
        settings.event_bus.provider = Provider::GooglePubsub;
        settings.event_bus.google_pubsub.endpoint = format!("127.0.0.1:{}", emulator.port);
        settings.event_bus.max_attempts = 2;
        settings.event_bus.first_retry_delay_milliseconds = 10;
        settings.event_bus.max_retry_delay_milliseconds = 10;
    })
    .await;
    let bus = app.app.events.pubsub().expect("the Pub/Sub bus");
    assert!(
        bus.connected(Duration::from_secs(30)).await,
        "the emulator answers"
    );
    app.app.events.start_consumers();

    let peer = app.create_identity().await;
    let initiator = app.create_identity().await;
    let mut connection = app.app.db.writer().acquire().await.unwrap();
    for payload in [
        json!({ "Peer": peer.address }),
        json!({
            "RelationshipId": backbone_core::ids::generate_id("REL"),
            "NewStatus": "Pending",
            "Initiator": initiator.address,
            "Peer": peer.address,
            "WasDueToIdentityDeletion": false,
        }),
    ] {
        let event = DomainEvent {
            id: uuid::Uuid::new_v4().simple().to_string(),
            event_type: "RelationshipStatusChanged",
            payload,
        };
        backbone_db::outbox::enqueue(&mut connection, &event, app.clock_now())
            .await
            .unwrap();
    }
    drop(connection);
    assert!(
        app.process_events().await >= 4,
        "acknowledged by the server, so published"
    );
    let external_events = async || -> i64 {
        backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM external_events WHERE owner = $1")
            .bind(&peer.address)
            .fetch_one(app.app.db.pool())
            .await
            .unwrap()
    };
    wait_for("the good event's external event", async || {
        external_events().await == 1
    })
    .await;
    wait_for("the poisoned event's dead letters", async || {
        app.app.events.dead_letters.count().await.unwrap() == 2
    })
    .await;
    // What the handlers raised meanwhile is relayed as well; nothing is handled twice.
    app.process_events().await;
    assert_eq!(external_events().await, 1);
    let health = app.get("/health", None).await;
    health.expect_status(200);
    bus.delete_topology().await.unwrap();
}

#[tokio::test]
async fn events_travel_through_pubsub_on_postgres() {
    events_travel_through_pubsub(Backend::Postgres).await;
}

#[tokio::test]
async fn events_travel_through_pubsub_on_sqlite() {
    events_travel_through_pubsub(Backend::Sqlite).await;
}
