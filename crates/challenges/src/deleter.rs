//! This module's step of identity deletion.

use backbone_core::ports::IdentityDataDeleter;
use backbone_core::IdentityAddress;

use crate::ChallengeStore;

#[async_trait::async_trait]
impl IdentityDataDeleter for ChallengeStore {
    fn data_name(&self) -> &'static str {
        "Challenges"
    }

    async fn delete_identity_data(
        &self,
        identity: &IdentityAddress,
        _anonymous: &IdentityAddress,
    ) -> anyhow::Result<()> {
        self.delete_created_by(identity).await?;
        Ok(())
    }
}
