//! This module's step of identity deletion: one write transaction, owned here.

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
        let mut tx = self.store.db().begin_write().await?;
        self.store.delete_identity(&mut tx, identity, anonymous).await?;
        tx.commit().await?;
        Ok(())
    }
}
