//! The event bus on the machine's RabbitMQ (127.0.0.1:5672, as a normal client), each test
//! with its own exchange and queues: events published with confirms reach the handlers'
//! queues, are handled once, and a poisoned event is set aside there too.

use std::time::Duration;

use backbone_eventbus::Provider;
use serde_json::json;

use crate::dead_letters::{enqueue, external_events_of, status_changed};
use crate::helpers::{wait_for, Backend, TestApp};

/// How long the broker's consumers get for what a test waits for.
const WAIT: Duration = Duration::from_secs(20);

const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

async fn spawn(backend: Backend) -> TestApp {
    let name = format!("backbone-test-{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(backend, |settings| {
        settings.event_bus.provider = Provider::Rabbitmq;
        settings.event_bus.rabbitmq.url = RABBITMQ.into();
        settings.event_bus.rabbitmq.exchange.clone_from(&name);
        settings.event_bus.rabbitmq.queue_prefix = format!("{name}.");
        settings.event_bus.max_attempts = 2;
        settings.event_bus.first_retry_delay_milliseconds = 10;
        settings.event_bus.max_retry_delay_milliseconds = 10;
    })
    .await;
    let bus = app.app.events.rabbitmq().expect("the RabbitMQ bus");
    assert!(
        bus.connected(Duration::from_secs(20)).await,
        "RabbitMQ at {RABBITMQ} is needed for this test"
    );
    app.app.events.start_consumers();
    app
}

async fn events_travel_through_the_broker_and_poison_is_set_aside(app: TestApp) {
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
    // Published once the broker confirmed them: the outbox is empty afterwards.
    assert!(app.process_events().await >= 4);
    let unpublished: i64 =
        backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
            .fetch_one(app.app.db.pool())
            .await
            .unwrap();
    assert_eq!(unpublished, 0);

    wait_for("the good event's external event", WAIT, async || {
        external_events_of(&app, &peer.address).await == 1
    })
    .await;
    wait_for("the poisoned event's dead letters", WAIT, async || {
        app.app.events.dead_letters.count().await.unwrap() == 2
    })
    .await;
    let bus = app.app.events.rabbitmq().unwrap();
    wait_for("empty queues", WAIT, async || {
        bus.queue_depths()
            .await
            .unwrap()
            .iter()
            .all(|(_, depth)| *depth == 0)
    })
    .await;
    // The pushes' events the handlers raised are relayed too; nothing is handled twice.
    app.process_events().await;
    assert_eq!(external_events_of(&app, &peer.address).await, 1);
    let health = app.get("/health", None).await;
    health.expect_status(200);
    assert!(
        health.body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "eventBus" && c["healthy"] == true),
        "{}",
        health.text
    );
    bus.delete_topology().await.unwrap();
}

#[tokio::test]
async fn events_travel_through_rabbitmq_on_postgres() {
    events_travel_through_the_broker_and_poison_is_set_aside(spawn(Backend::Postgres).await).await;
}

#[tokio::test]
async fn events_travel_through_rabbitmq_on_sqlite() {
    events_travel_through_the_broker_and_poison_is_set_aside(spawn(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn an_unreachable_broker_is_named_by_health_and_events_wait_in_the_outbox() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.event_bus.provider = Provider::Rabbitmq;
        // Nothing listens on the discard port.
        settings.event_bus.rabbitmq.url = "amqp://guest:guest@127.0.0.1:9/%2f".into();
    })
    .await;
    app.create_identity().await;
    assert!(app.app.relay.relay_batch(10).await.is_err());
    let unpublished: i64 =
        backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
            .fetch_one(app.app.db.pool())
            .await
            .unwrap();
    assert!(unpublished >= 1, "the event stays in the outbox");
    let health = app.get("/health", None).await;
    health.expect_status(503);
    let bus = health.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "eventBus")
        .cloned()
        .unwrap();
    assert_eq!(bus["healthy"], false);
    assert!(bus["error"].as_str().unwrap().starts_with("rabbitmq: "), "{bus}");
}
