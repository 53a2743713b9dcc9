//! The outbox relay and handler idempotency: no event is lost, none is handled twice.

use std::sync::Arc;

use backbone_eventbus::{Event, EventBus, EventHandler, InProcessBus};
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_databases;

on_both_databases!(
    relayed_events_are_published_once,
    redelivered_events_create_no_duplicates
);

async fn unpublished(app: &TestApp) -> i64 {
    backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE published_at IS NULL")
        .fetch_one(app.app.db.pool())
        .await
        .unwrap()
}

async fn relayed_events_are_published_once(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let pending = unpublished(&app).await;
    assert!(pending >= 1, "IdentityCreated at least");
    assert_eq!(i64::try_from(app.process_events().await).unwrap(), pending);
    assert_eq!(unpublished(&app).await, 0);
    assert_eq!(app.process_events().await, 0, "nothing is published twice");
}

/// Delivers one event to the Synchronization handler twice, as a broker may.
async fn redelivered_events_create_no_duplicates(app: TestApp) {
    let owner = app.create_identity().await;
    let peer = app.create_identity().await;
    let handler: Arc<dyn EventHandler> = Arc::new(backbone_synchronization::ExternalEventsHandler {
        store: app.app.synchronization.store.clone(),
        clock: app.app.clock.clone(),
    });
    let bus = InProcessBus::new(vec![handler]);
    let event = Event {
        id: "relationship-status-changed-1".into(),
        event_type: "RelationshipStatusChanged".into(),
        payload: json!({
            "RelationshipId": "RELaaaaaaaaaaaaaaaaa",
            "NewStatus": "Pending",
            "Initiator": peer.address,
            "Peer": owner.address,
            "WasDueToIdentityDeletion": false,
        }),
        created_at: app.clock_now(),
    };
    bus.publish(&event).await.unwrap();
    bus.publish(&event).await.unwrap();
    let events: i64 =
        backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM external_events WHERE owner = $1")
            .bind(&owner.address)
            .fetch_one(app.app.db.pool())
            .await
            .unwrap();
    assert_eq!(events, 1);

    // A malformed event fails, so the relay keeps it for a later attempt.
    let broken = Event {
        id: "broken".into(),
        payload: json!({ "NewStatus": "Active" }),
        ..event
    };
    assert!(bus.publish(&broken).await.is_err());
}

/// A bus that refuses everything until told otherwise, like a broker that is down.
struct FlakyBus {
    up: std::sync::atomic::AtomicBool,
    delivered: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl EventBus for FlakyBus {
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        if !self.up.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("broker unavailable");
        }
        self.delivered.lock().unwrap().push(event.id.clone());
        Ok(())
    }
}

#[tokio::test]
async fn events_survive_an_unavailable_bus() {
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    app.create_identity().await;
    let bus = Arc::new(FlakyBus {
        up: false.into(),
        delivered: std::sync::Mutex::default(),
    });
    let relay = backbone_eventbus::OutboxRelay::new(app.app.db.clone(), bus.clone(), app.app.clock.clone());
    assert!(relay.relay_batch(10).await.is_err());
    assert_eq!(unpublished(&app).await, 1, "the event stays in the outbox");
    bus.up.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(relay.relay_all().await.unwrap(), 1);
    assert_eq!(bus.delivered.lock().unwrap().len(), 1);
    assert_eq!(unpublished(&app).await, 0);
}
