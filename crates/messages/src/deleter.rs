//! This module's step of identity deletion.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::MessagesService;

#[async_trait::async_trait]
impl IdentityDataDeleter for MessagesService {
    fn data_name(&self) -> &'static str {
        "Messages"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        self.store.anonymise_identity(identity, anonymous).await?;
        Ok(())
    }
}
