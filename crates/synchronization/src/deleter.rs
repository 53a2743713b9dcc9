//! This module's step of identity deletion: one write transaction, owned here.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::SynchronizationService;

#[async_trait::async_trait]
impl IdentityDataDeleter for SynchronizationService {
    fn data_name(&self) -> &'static str {
        "ExternalEvents"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        _anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        let mut tx = self.store.db().begin_write().await?;
        self.store.delete_identity(&mut tx, identity).await?;
        tx.commit().await?;
        Ok(())
    }
}
