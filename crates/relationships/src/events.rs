//! What this module does with other modules' domain events.

use async_trait::async_trait;
use backbone_core::events::DomainEvent;
use backbone_core::{IdentityAddress, SharedClock};
use backbone_eventbus::{Event, EventHandler};
use serde::{Deserialize, Serialize};

use crate::store::RelationshipsStore;

/// `FeatureFlagsOfIdentityChanged` → one `PeerFeatureFlagsChanged` per identity that knows the
/// changer: peers of pending or active relationships and allocators of its templates.
pub struct FeatureFlagsHandler {
    pub store: RelationshipsStore,
    pub clock: SharedClock,
}

const CONSUMER: &str = "Relationships.FeatureFlagsOfIdentityChanged";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeatureFlagsOfIdentityChanged {
    identity_address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PeerFeatureFlagsChanged<'a> {
    peer_address: &'a str,
    notified_identity_address: &'a str,
}

#[async_trait]
impl EventHandler for FeatureFlagsHandler {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["FeatureFlagsOfIdentityChanged"]
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let changed: FeatureFlagsOfIdentityChanged = event.payload_as()?;
        let identity = IdentityAddress::parse(&changed.identity_address)
            .ok_or_else(|| anyhow::anyhow!("invalid address {}", changed.identity_address))?;
        let audience = self.store.feature_flag_audience(&identity).await?;
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, CONSUMER, &event.id).await? {
            return Ok(());
        }
        let events: Vec<DomainEvent> = audience
            .iter()
            .map(|peer| {
                DomainEvent::new(
                    "PeerFeatureFlagsChanged",
                    &PeerFeatureFlagsChanged {
                        peer_address: identity.as_str(),
                        notified_identity_address: peer.as_str(),
                    },
                )
            })
            .collect();
        self.store.enqueue_all(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The identity deletion events of the Devices module → one `Peer…` event per relationship
/// that is pending, active or terminated, for the Synchronization module to notify the peer.
pub struct IdentityDeletionHandler {
    pub store: RelationshipsStore,
    pub clock: SharedClock,
}

const DELETION_CONSUMER: &str = "Relationships.IdentityDeletion";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdentityDeletionEvent {
    identity_address: String,
    grace_period_ends_at: Option<serde_json::Value>,
}

#[async_trait]
impl EventHandler for IdentityDeletionHandler {
    fn name(&self) -> &'static str {
        DELETION_CONSUMER
    }

    fn event_types(&self) -> &'static [&'static str] {
        &[
            "IdentityToBeDeleted",
            "IdentityDeletionCancelled",
            "IdentityDeleted",
        ]
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let e: IdentityDeletionEvent = event.payload_as()?;
        let identity = IdentityAddress::parse(&e.identity_address)
            .ok_or_else(|| anyhow::anyhow!("invalid address {}", e.identity_address))?;
        let relationships = self.store.open_relationships_of(&identity).await?;
        let events: Vec<DomainEvent> = relationships
            .iter()
            .map(|(id, peer)| match event.event_type.as_str() {
                "IdentityToBeDeleted" => DomainEvent::new(
                    "PeerToBeDeleted",
                    &serde_json::json!({
                        "PeerOfIdentityToBeDeleted": peer,
                        "RelationshipId": id,
                        "IdentityToBeDeleted": identity,
                        "GracePeriodEndsAt": e.grace_period_ends_at,
                    }),
                ),
                "IdentityDeletionCancelled" => DomainEvent::new(
                    "PeerDeletionCancelled",
                    &serde_json::json!({
                        "PeerOfIdentityWithDeletionCancelled": peer,
                        "RelationshipId": id,
                        "IdentityWithDeletionCancelled": identity,
                    }),
                ),
                _ => DomainEvent::new(
                    "PeerDeleted",
                    &serde_json::json!({ "PeerOfDeletedIdentity": peer, "RelationshipId": id, "DeletedIdentity": identity }),
                ),
            })
            .collect();
        let now = self.clock.now();
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, DELETION_CONSUMER, &event.id).await? {
            return Ok(());
        }
        self.store.enqueue_all(&mut tx, &events, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
