//! This module's step of identity deletion.

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
        self.store.delete_identity(identity).await?;
        Ok(())
    }
}
