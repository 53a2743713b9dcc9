//! What this module does with other modules' events.

use async_trait::async_trait;
use backbone_core::ids::TierId;
use backbone_eventbus::{Event, EventHandler};
use serde::Deserialize;

use crate::store::QuotasStore;

const TIER_DELETED: &str = "Quotas.TierDeleted";

/// `TierDeleted` (Devices) -> the tier's quota definitions go too. A tier can only be deleted
/// while no identity is assigned to it, so no identity loses quotas that applied to it.
pub struct TierDeletedHandler {
    pub store: QuotasStore,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TierDeleted {
    id: String,
}

#[async_trait]
impl EventHandler for TierDeletedHandler {
    fn name(&self) -> &'static str {
        TIER_DELETED
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["TierDeleted"]
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let deleted: TierDeleted = event.payload_as()?;
        let tier =
            TierId::parse(&deleted.id).ok_or_else(|| anyhow::anyhow!("invalid tier ID {}", deleted.id))?;
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, TIER_DELETED, &event.id).await? {
            return Ok(());
        }
        self.store.delete_tier_quotas_of(&mut tx, &tier).await?;
        tx.commit().await?;
        Ok(())
    }
}
