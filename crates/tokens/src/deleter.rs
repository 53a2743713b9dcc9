//! This module's step of identity deletion.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::TokensService;

#[async_trait::async_trait]
impl IdentityDataDeleter for TokensService {
    fn data_name(&self) -> &'static str {
        "Tokens"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        self.store.delete_identity(identity, anonymous).await?;
        Ok(())
    }
}
