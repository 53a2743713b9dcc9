//! What this module does with other modules' events.

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::devices::TierDeleted;
use backbone_eventbus::{Event, Subscriber};

use crate::store::QuotasStore;

/// `TierDeleted` (Devices) -> the tier's quota definitions go too. A tier can only be deleted
/// while no identity is assigned to it, so no identity loses quotas that applied to it.
pub struct TierDeletedHandler {
    pub store: QuotasStore,
}

event_set! {
    pub enum TierEvents {
        Deleted(TierDeleted),
    }
}

#[async_trait]
impl Subscriber for TierDeletedHandler {
    const NAME: &'static str = "Quotas.TierDeleted";
    type Events = TierEvents;

    async fn on_event(&self, event: &Event, decoded: TierEvents) -> anyhow::Result<()> {
        let TierEvents::Deleted(deleted) = decoded;
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, Self::NAME, &event.id).await? {
            return Ok(());
        }
        self.store.delete_tier_quotas_of(&mut tx, &deleted.id).await?;
        tx.commit().await?;
        Ok(())
    }
}
