//! This module's step of identity deletion.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::AnnouncementsService;

#[async_trait::async_trait]
impl IdentityDataDeleter for AnnouncementsService {
    fn data_name(&self) -> &'static str {
        "AnnouncementRecipients"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        _anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        self.delete_identity(identity).await?;
        Ok(())
    }
}
