//! This module's step of identity deletion.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::FilesService;

#[async_trait::async_trait]
impl IdentityDataDeleter for FilesService {
    fn data_name(&self) -> &'static str {
        "Files"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        self.delete_identity(identity, anonymous).await?;
        Ok(())
    }
}
