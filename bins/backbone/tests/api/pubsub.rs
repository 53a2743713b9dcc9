//! The event bus on Google Cloud Pub/Sub, against the emulator of the Google Cloud CLI
//! (`google-cloud-cli-pubsub-emulator`, Java 17), started by the test on a free port and
//! stopped by its PID: events published with the server's ack reach the handlers'
//! subscriptions, are handled once, and a poisoned event is set aside there too.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backbone_eventbus::Provider;
use serde_json::json;

use crate::dead_letters::{enqueue, external_events_of, status_changed};
use crate::helpers::{wait_for, Backend, TestApp};

/// How long the broker's consumers get for what a test waits for.
const WAIT: Duration = Duration::from_secs(30);

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
    // Names the peer, so the event behind it must wait for it; misses every other field.
    enqueue(&app, "RelationshipStatusChanged", json!({ "Peer": peer.address })).await;
    let relationship = backbone_core::ids::generate_id("REL");
    enqueue(
        &app,
        "RelationshipStatusChanged",
        status_changed(&peer.address, &initiator.address, &relationship),
    )
    .await;
    assert!(
        app.process_events().await >= 4,
        "acknowledged by the server, so published"
    );
    wait_for("the good event's external event", WAIT, async || {
        external_events_of(&app, &peer.address).await == 1
    })
    .await;
    wait_for("the poisoned event's dead letters", WAIT, async || {
        app.app.events.dead_letters.count().await.unwrap() == 2
    })
    .await;
    // What the handlers raised meanwhile is relayed as well; nothing is handled twice.
    app.process_events().await;
    assert_eq!(external_events_of(&app, &peer.address).await, 1);
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
