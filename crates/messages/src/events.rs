//! What this module does with other modules' domain events: decomposing a relationship hides
//! and anonymises the messages exchanged on it (spec exchange §5.6).

use async_trait::async_trait;
use backbone_core::IdentityAddress;
use backbone_eventbus::{Event, EventHandler};
use serde::Deserialize;

use crate::store::MessagesStore;

pub struct DecompositionHandler {
    pub store: MessagesStore,
    pub anonymous_address: IdentityAddress,
}

const CONSUMER: &str = "Messages.RelationshipStatusChanged";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelationshipStatusChanged {
    new_status: String,
    initiator: String,
    peer: String,
}

fn address(value: &str) -> anyhow::Result<IdentityAddress> {
    IdentityAddress::parse(value).ok_or_else(|| anyhow::anyhow!("invalid identity address in event: {value}"))
}

#[async_trait]
impl EventHandler for DecompositionHandler {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn event_types(&self) -> &'static [&'static str] {
        &["RelationshipStatusChanged"]
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        let changed: RelationshipStatusChanged = event.payload_as()?;
        if changed.new_status != "DeletionProposed" && changed.new_status != "ReadyForDeletion" {
            return Ok(());
        }
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, CONSUMER, &event.id).await? {
            return Ok(());
        }
        self.store
            .decompose(
                &mut tx,
                &address(&changed.initiator)?,
                &address(&changed.peer)?,
                &self.anonymous_address,
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
