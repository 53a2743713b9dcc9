//! Poison events: a handler that keeps failing on an event is retried a bounded number of
//! times, then the event is set aside in the dead letters and the events behind it go on.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backbone_core::events::DomainEvent;
use backbone_eventbus::{DeadLetterStore, Dispatcher, Event, EventHandler, RetryOutcome, RetryPolicy};
use serde_json::json;

use crate::helpers::{Backend, TestApp};

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    first_delay: Duration::from_millis(40),
    max_delay: Duration::from_millis(80),
};

macro_rules! on_both {
    ($($name:ident),*) => {
        $(mod $name {
            #[tokio::test]
            async fn sqlite() { super::$name(super::spawn(crate::helpers::Backend::Sqlite).await).await }
            #[tokio::test]
            async fn postgres() { super::$name(super::spawn(crate::helpers::Backend::Postgres).await).await }
        })*
    };
}

on_both!(
    a_poisoned_event_is_set_aside_and_the_events_behind_it_go_on,
    a_dead_letter_can_be_replayed_or_discarded,
    an_outage_is_not_held_against_the_event
);

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |settings| {
        settings.event_bus.max_attempts = POLICY.max_attempts;
        settings.event_bus.first_retry_delay_milliseconds = 40;
        settings.event_bus.max_retry_delay_milliseconds = 80;
    })
    .await
}

/// Writes an event to the outbox as a module would.
pub(crate) async fn enqueue(app: &TestApp, event_type: &'static str, payload: serde_json::Value) -> String {
    let event = DomainEvent {
        id: uuid::Uuid::new_v4().simple().to_string(),
        event_type,
        payload,
    };
    let mut connection = app.app.db.writer().acquire().await.unwrap();
    backbone_db::outbox::enqueue(&mut connection, &event, app.clock_now())
        .await
        .unwrap();
    event.id
}

pub(crate) fn status_changed(peer: &str, initiator: &str, relationship: &str) -> serde_json::Value {
    json!({
        "RelationshipId": relationship,
        "NewStatus": "Pending",
        "Initiator": initiator,
        "Peer": peer,
        "WasDueToIdentityDeletion": false,
    })
}

pub(crate) async fn external_events_of(app: &TestApp, owner: &str) -> i64 {
    backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM external_events WHERE owner = $1")
        .bind(owner)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap()
}

async fn a_poisoned_event_is_set_aside_and_the_events_behind_it_go_on(app: TestApp) {
    let peer = app.create_identity().await;
    let initiator = app.create_identity().await;
    app.process_events().await;
    // Names the peer, so the event behind it must wait for it; misses every other field.
    let poisoned = enqueue(&app, "RelationshipStatusChanged", json!({ "Peer": peer.address })).await;
    let relationship = backbone_core::ids::generate_id("REL");
    enqueue(
        &app,
        "RelationshipStatusChanged",
        status_changed(&peer.address, &initiator.address, &relationship),
    )
    .await;

    let started = Instant::now();
    // Both leave the outbox (and the ExternalEventCreated the second one raised).
    assert_eq!(app.process_events().await, 3);
    let took = started.elapsed();
    assert!(
        took >= POLICY.budget(),
        "the poisoned event was retried ({took:?})"
    );
    assert!(
        took < POLICY.budget() + Duration::from_secs(5),
        "held back for {took:?}, more than the retry budget"
    );
    assert_eq!(
        external_events_of(&app, &peer.address).await,
        1,
        "the later event was handled"
    );

    let letters = app.app.events.dead_letters.list().await.unwrap();
    let mut consumers: Vec<&str> = letters.iter().map(|l| l.consumer.as_str()).collect();
    consumers.sort_unstable();
    assert_eq!(
        consumers,
        [
            "Messages.RelationshipStatusChanged",
            "Synchronization.ExternalEvents"
        ]
    );
    for letter in &letters {
        assert_eq!(letter.event_id, poisoned);
        assert_eq!(letter.attempts, i64::from(POLICY.max_attempts));
        assert!(
            letter
                .error
                .contains("malformed RelationshipStatusChanged payload"),
            "{}",
            letter.error
        );
    }
    let health = app.get("/health", None).await;
    health.expect_status(200);
    assert_eq!(health.body["deadLetters"], 2);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.admin_base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line == "backbone_dead_letter_events 2"),
        "{metrics}"
    );
}

async fn a_dead_letter_can_be_replayed_or_discarded(app: TestApp) {
    let peer = app.create_identity().await;
    let initiator = app.create_identity().await;
    app.process_events().await;
    enqueue(&app, "RelationshipStatusChanged", json!({ "Peer": peer.address })).await;
    app.process_events().await;
    let letters = app.app.events.dead_letters.list().await.unwrap();
    let sync = letters
        .iter()
        .find(|l| l.consumer == "Synchronization.ExternalEvents")
        .unwrap();
    let messages = letters.iter().find(|l| l.consumer != sync.consumer).unwrap();
    let dispatcher = &app.app.events.dispatcher;

    // Still broken: the retry fails and the letter stays, with one more attempt counted.
    let outcome = dispatcher.retry_dead_letter(&sync.id).await.unwrap();
    assert!(
        matches!(outcome, RetryOutcome::FailedAgain(ref e) if e.contains("malformed")),
        "{outcome:?}"
    );
    let kept = app.app.events.dead_letters.find(&sync.id).await.unwrap().unwrap();
    assert_eq!(kept.attempts, sync.attempts + 1);

    // The cause is fixed (here: the payload repaired); the retry handles it and removes it.
    let relationship = backbone_core::ids::generate_id("REL");
    backbone_db::sqlx::query("UPDATE dead_letter_events SET payload = $1 WHERE id = $2")
        .bind(status_changed(&peer.address, &initiator.address, &relationship).to_string())
        .bind(&sync.id)
        .execute(app.app.db.writer())
        .await
        .unwrap();
    assert_eq!(
        dispatcher.retry_dead_letter(&sync.id).await.unwrap(),
        RetryOutcome::Handled
    );
    assert_eq!(external_events_of(&app, &peer.address).await, 1);
    assert_eq!(app.app.events.dead_letters.find(&sync.id).await.unwrap(), None);
    assert_eq!(
        dispatcher.retry_dead_letter(&sync.id).await.unwrap(),
        RetryOutcome::NotFound
    );

    assert!(app.app.events.dead_letters.delete(&messages.id).await.unwrap());
    assert!(!app.app.events.dead_letters.delete(&messages.id).await.unwrap());
    assert_eq!(app.app.events.dead_letters.count().await.unwrap(), 0);
}

/// Fails like a lost database connection for the first `outages` deliveries.
struct FlakyHandler {
    outages: u32,
    calls: AtomicU32,
}

#[async_trait::async_trait]
impl EventHandler for FlakyHandler {
    fn name(&self) -> &'static str {
        "Test.Flaky"
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["Test"]
    }

    async fn handle(&self, _event: &Event) -> anyhow::Result<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.outages {
            return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into());
        }
        Ok(())
    }
}

async fn an_outage_is_not_held_against_the_event(app: TestApp) {
    let handler = Arc::new(FlakyHandler {
        outages: 10,
        calls: AtomicU32::new(0),
    });
    let dispatcher = Dispatcher::new(vec![handler.clone()]).with_dead_letters(
        DeadLetterStore::new(app.app.db.clone()),
        POLICY,
        app.app.clock.clone(),
    );
    let event = Event {
        id: "outage-1".into(),
        event_type: "Test".into(),
        payload: json!({}),
        created_at: app.clock_now(),
    };
    for _ in 0..10 {
        assert!(dispatcher.dispatch(&event).await.is_err(), "offered again later");
    }
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        10,
        "no retries used up on an outage"
    );
    dispatcher.dispatch(&event).await.unwrap();
    assert_eq!(app.app.events.dead_letters.count().await.unwrap(), 0);
}
