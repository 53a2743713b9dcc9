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
