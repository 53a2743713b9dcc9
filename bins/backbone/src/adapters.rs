//! Ports between modules. A module that needs a fact another module owns declares a small
//! trait; the binary implements it here over the owning module's store, so no module reads
//! another module's tables and no module crate depends on another.

use async_trait::async_trait;
use backbone_challenges::ChallengeStore;
use backbone_core::ids::ChallengeId;
use backbone_core::IdentityAddress;
use backbone_devices::domain::IdentityStatus;
use backbone_devices::{AcquaintanceLookup, ChallengeLookup, DevicesStore};
use backbone_relationships::store::RelationshipsStore;
use backbone_relationships::IdentityDirectory;
use backbone_synchronization::IdentityStatusLookup;
use chrono::{DateTime, Utc};

/// Devices asks Challenges whether a signed challenge exists and when it expires.
pub struct ChallengesForDevices(pub ChallengeStore);

#[async_trait]
impl ChallengeLookup for ChallengesForDevices {
    async fn expires_at(&self, id: &ChallengeId) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(self.0.find(id).await?.map(|c| c.expires_at))
    }
}

/// Devices asks Relationships whether two identities know each other (feature flags).
pub struct RelationshipsForDevices(pub RelationshipsStore);

#[async_trait]
impl AcquaintanceLookup for RelationshipsForDevices {
    async fn are_acquainted(
        &self,
        caller: &IdentityAddress,
        target: &IdentityAddress,
    ) -> anyhow::Result<bool> {
        Ok(self.0.are_acquainted(caller, target).await?)
    }
}

/// Messages asks Relationships for the relationship a message travels on.
pub struct RelationshipsForMessages(pub RelationshipsStore);

#[async_trait]
impl backbone_messages::RelationshipLookup for RelationshipsForMessages {
    async fn youngest_between(
        &self,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> anyhow::Result<Option<(String, String)>> {
        let youngest = self.0.youngest_between(a, b).await?;
        Ok(youngest.map(|(id, status)| (id.into_string(), status.as_str().to_owned())))
    }
}

/// Synchronization and Relationships ask Devices about an identity's status.
pub struct IdentitiesFromDevices(pub DevicesStore);

impl IdentitiesFromDevices {
    async fn status(&self, address: &IdentityAddress) -> anyhow::Result<Option<IdentityStatus>> {
        Ok(self
            .0
            .find_identity(address)
            .await?
            .map(|identity| identity.status))
    }
}

#[async_trait]
impl IdentityStatusLookup for IdentitiesFromDevices {
    async fn is_active(&self, address: &IdentityAddress) -> anyhow::Result<bool> {
        Ok(self.status(address).await? == Some(IdentityStatus::Active))
    }
}

#[async_trait]
impl IdentityDirectory for IdentitiesFromDevices {
    async fn is_active(&self, address: &IdentityAddress) -> anyhow::Result<Option<bool>> {
        Ok(self
            .status(address)
            .await?
            .map(|status| status == IdentityStatus::Active))
    }
}
