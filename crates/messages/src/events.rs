//! What this module does with other modules' domain events: decomposing a relationship hides
//! and anonymises the messages exchanged on it (spec exchange §5.6).

use async_trait::async_trait;
use backbone_core::event_set;
use backbone_core::events::relationships::RelationshipStatusChanged;
use backbone_core::status::RelationshipStatus;
use backbone_core::IdentityAddress;
use backbone_eventbus::{Event, Subscriber};

use crate::store::MessagesStore;

pub struct DecompositionHandler {
    pub store: MessagesStore,
    pub anonymous_address: IdentityAddress,
}

event_set! {
    pub enum DecompositionEvents {
        StatusChanged(RelationshipStatusChanged),
    }
}

#[async_trait]
impl Subscriber for DecompositionHandler {
    const NAME: &'static str = "Messages.RelationshipStatusChanged";
    type Events = DecompositionEvents;

    async fn on_event(&self, event: &Event, decoded: DecompositionEvents) -> anyhow::Result<()> {
        let DecompositionEvents::StatusChanged(changed) = decoded;
        if !matches!(
            changed.new_status,
            RelationshipStatus::DeletionProposed | RelationshipStatus::ReadyForDeletion
        ) {
            return Ok(());
        }
        let mut tx = self.store.db().begin_write().await?;
        if !backbone_db::processed::mark_processed(&mut tx, Self::NAME, &event.id).await? {
            return Ok(());
        }
        self.store
            .decompose(
                &mut tx,
                &changed.initiator,
                &changed.peer,
                &self.anonymous_address,
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
