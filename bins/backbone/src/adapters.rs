//! The ports between modules (`backbone_core::ports`), each implemented once here over the
//! owning module's store, so no module reads another module's tables and no module crate
//! depends on another.

use async_trait::async_trait;
use backbone_challenges::ChallengeStore;
use backbone_core::ids::ChallengeId;
use backbone_core::ports::{
    ChallengeDirectory, DeviceDirectory, DeviceLanguage, IdentityDirectory, RelationshipBetween,
    RelationshipDirectory,
};
use backbone_core::status::IdentityStatus;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::AnyConnection;
use backbone_devices::DevicesStore;
use backbone_relationships::store::RelationshipsStore;
use chrono::{DateTime, Utc};

/// The Challenges module answers when a challenge expires (Devices asks, for signed
/// challenges).
pub struct ChallengesForDevices(pub ChallengeStore);

#[async_trait]
impl ChallengeDirectory for ChallengesForDevices {
    async fn expires_at(&self, id: &ChallengeId) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(self.0.find(id).await?.map(|c| c.expires_at))
    }
}

/// The Relationships module answers how two identities are connected (Messages and Push ask
/// for the youngest relationship, Devices whether they know each other).
pub struct FromRelationships(pub RelationshipsStore);

#[async_trait]
impl RelationshipDirectory for FromRelationships {
    async fn youngest_between(
        &self,
        conn: &mut AnyConnection,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> anyhow::Result<Option<RelationshipBetween>> {
        let youngest = self.0.youngest_between(conn, a, b).await?;
        Ok(youngest.map(|(id, status)| RelationshipBetween { id, status }))
    }

    async fn are_acquainted(&self, a: &IdentityAddress, b: &IdentityAddress) -> anyhow::Result<bool> {
        Ok(self.0.are_acquainted(a, b).await?)
    }
}

/// The Devices module answers about identities (Synchronization, Relationships, Push and the
/// authentication layer ask for their status) and their devices (Push).
pub struct IdentitiesFromDevices(pub DevicesStore);

#[async_trait]
impl IdentityDirectory for IdentitiesFromDevices {
    async fn status_of(&self, identity: &IdentityAddress) -> anyhow::Result<Option<IdentityStatus>> {
        let identity = self.0.find_identity(identity).await?;
        Ok(identity.map(|identity| identity.status))
    }
}

#[async_trait]
impl DeviceDirectory for IdentitiesFromDevices {
    async fn devices_of(&self, identities: &[IdentityAddress]) -> anyhow::Result<Vec<DeviceLanguage>> {
        Ok(self.0.device_languages(identities).await?)
    }
}
