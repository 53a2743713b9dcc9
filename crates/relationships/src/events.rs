//! What this module does with other modules' domain events.

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::devices::{
    FeatureFlagsOfIdentityChanged, IdentityDeleted, IdentityDeletionCancelled, IdentityToBeDeleted,
};
use backbone_core::events::relationships::{
    PeerDeleted, PeerDeletionCancelled, PeerFeatureFlagsChanged, PeerToBeDeleted,
};
use backbone_core::events::DomainEvent;
use backbone_core::ids::RelationshipId;
use backbone_core::{IdentityAddress, SharedClock};
use backbone_eventbus::{Event, Subscriber};

use crate::store::RelationshipsStore;

/// `FeatureFlagsOfIdentityChanged` → one `PeerFeatureFlagsChanged` per identity that knows the
/// changer: peers of pending or active relationships and allocators of its templates.
pub struct FeatureFlagsHandler {
    pub store: RelationshipsStore,
    pub clock: SharedClock,
}

event_set! {
    pub enum FeatureFlagsEvents {
        Changed(FeatureFlagsOfIdentityChanged),
    }
}

#[async_trait]
impl Subscriber for FeatureFlagsHandler {
    const NAME: &'static str = "Relationships.FeatureFlagsOfIdentityChanged";
    type Events = FeatureFlagsEvents;

    async fn on_event(&self, event: &Event, decoded: FeatureFlagsEvents) -> anyhow::Result<()> {
        let FeatureFlagsEvents::Changed(changed) = decoded;
        let identity = changed.identity_address;
        let audience = self.store.feature_flag_audience(&identity).await?;
        let events: Vec<DomainEvent> = audience
            .into_iter()
            .map(|peer| {
                DomainEvent::from_event(&PeerFeatureFlagsChanged {
                    peer_address: identity.clone(),
                    notified_identity_address: peer,
                })
            })
            .collect();
        enqueue_once(&self.store, self.clock.now(), Self::NAME, &event.id, &events).await
    }
}

/// The identity deletion events of the Devices module → one `Peer…` event per relationship
/// that is pending, active or terminated, for the Synchronization module to notify the peer.
pub struct IdentityDeletionHandler {
    pub store: RelationshipsStore,
    pub clock: SharedClock,
}

event_set! {
    pub enum IdentityDeletionEvents {
        ToBeDeleted(IdentityToBeDeleted),
        Cancelled(IdentityDeletionCancelled),
        Deleted(IdentityDeleted),
    }
}

impl IdentityDeletionEvents {
    fn identity(&self) -> &IdentityAddress {
        match self {
            Self::ToBeDeleted(e) => &e.identity_address,
            Self::Cancelled(e) => &e.identity_address,
            Self::Deleted(e) => &e.identity_address,
        }
    }

    /// What the peer on `relationship` is told.
    fn for_peer(&self, relationship: RelationshipId, peer: IdentityAddress) -> DomainEvent {
        match self {
            Self::ToBeDeleted(e) => DomainEvent::from_event(&PeerToBeDeleted {
                peer_of_identity_to_be_deleted: peer,
                relationship_id: relationship,
                identity_to_be_deleted: e.identity_address.clone(),
                grace_period_ends_at: e.grace_period_ends_at,
            }),
            Self::Cancelled(e) => DomainEvent::from_event(&PeerDeletionCancelled {
                peer_of_identity_with_deletion_cancelled: peer,
                relationship_id: relationship,
                identity_with_deletion_cancelled: e.identity_address.clone(),
            }),
            Self::Deleted(e) => DomainEvent::from_event(&PeerDeleted {
                peer_of_deleted_identity: peer,
                relationship_id: relationship,
                deleted_identity: e.identity_address.clone(),
            }),
        }
    }
}

#[async_trait]
impl Subscriber for IdentityDeletionHandler {
    const NAME: &'static str = "Relationships.IdentityDeletion";
    type Events = IdentityDeletionEvents;

    async fn on_event(&self, event: &Event, decoded: IdentityDeletionEvents) -> anyhow::Result<()> {
        let relationships = self.store.open_relationships_of(decoded.identity()).await?;
        let events: Vec<DomainEvent> = relationships
            .into_iter()
            .map(|(id, peer)| decoded.for_peer(id, peer))
            .collect();
        enqueue_once(&self.store, self.clock.now(), Self::NAME, &event.id, &events).await
    }
}

/// Enqueues `events` unless `consumer` handled `event_id` before, in one transaction.
async fn enqueue_once(
    store: &RelationshipsStore,
    now: chrono::DateTime<chrono::Utc>,
    consumer: &str,
    event_id: &str,
    events: &[DomainEvent],
) -> anyhow::Result<()> {
    let mut tx = store.db().begin_write().await?;
    if !backbone_db::processed::mark_processed(&mut tx, consumer, event_id).await? {
        return Ok(());
    }
    store.enqueue_all(&mut tx, events, now).await?;
    tx.commit().await?;
    Ok(())
}
