//! Operator use cases on tiers and identities (admin-and-services §1.3/1.4): deleting a tier,
//! changing an identity's tier, and an identity with all its devices. Each write locks the
//! rows its rules read, so concurrent changes cannot slip past them.

use backbone_core::events::devices::{TierDeleted, TierOfIdentityChanged};
use backbone_core::events::DomainEvent;
use backbone_core::ids::TierId;
use backbone_core::IdentityAddress;
use backbone_db::outbox;
use backbone_db::sqlx::{self, AnyConnection, Row};

use crate::domain::{Device, Identity, Tier};
use crate::store::{device_from_row, identity_from_row, tier_from_row, DEVICE_COLUMNS};
use crate::{DevicesError, DevicesService, DevicesStore};

/// What the operator use cases written for the Admin API return; `http::admin` maps it to the
/// error envelope once.
#[derive(Debug, thiserror::Error)]
pub enum AdministrationError {
    /// 404 for the named entity.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 400 `invalidPropertyValue` with the message.
    #[error("{0}")]
    InvalidProperty(String),
    #[error("The passed tier ID is not valid or the tier does not exist or cannot be a default tier.")]
    TierIdInvalidOrDoesNotExist,
    #[error(
        "The requested maximum number of identities {requested} is less than the current number of identities {current}."
    )]
    MaxIdentitiesLessThanCurrentIdentities { requested: i64, current: i64 },
    /// A failure of a use case shared with the Consumer API.
    #[error(transparent)]
    Devices(#[from] DevicesError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl AdministrationError {
    /// The code of a rule only the Admin API has; `None` for the other failures.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::TierIdInvalidOrDoesNotExist => {
                "error.platform.validation.device.tierIdInvalidOrDoesNotExist"
            }
            Self::MaxIdentitiesLessThanCurrentIdentities { .. } => {
                "error.platform.validation.device.maxIdentitiesLessThanCurrentIdentities"
            }
            _ => return None,
        })
    }
}

impl DevicesService {
    /// `DELETE /api/v1/Tiers/{id}`; the Quotas module drops the tier's quotas on `TierDeleted`.
    pub async fn delete_tier(&self, id: &str) -> Result<(), DevicesError> {
        let id = TierId::parse(id).ok_or(DevicesError::InvalidTierId)?;
        let mut tx = self.store.db().begin_write().await?;
        let tier = self.store.locked_tier(&mut tx, &id).await?;
        let tier = tier.ok_or(DevicesError::NotFound("Tier"))?;
        let (clients, identities) = self.store.tier_usage(&mut tx, &id).await?;
        tier.check_deletable(clients, identities)?;
        self.store.delete_tier(&mut tx, &id).await?;
        let event = DomainEvent::from_event(&TierDeleted { id: id.clone() });
        outbox::enqueue(&mut tx, &event, self.clock.now()).await?;
        Ok(tx.commit().await?)
    }

    /// `PUT /api/v1/Identities/{address}`: an operator moves an identity to another tier.
    pub async fn change_tier(&self, address: &str, tier: &str) -> Result<(), DevicesError> {
        let new_tier = TierId::parse(tier).ok_or(DevicesError::InvalidTierId)?;
        let address = IdentityAddress::parse(address).ok_or(DevicesError::NotFound("Identity"))?;
        let mut tx = self.store.db().begin_write().await?;
        let identity = self.store.locked_identity(&mut tx, &address).await?;
        let mut identity = identity.ok_or(DevicesError::NotFound("Identity"))?;
        // Locked, so that the tier cannot be deleted before the identity is assigned to it.
        let new_tier = self.store.locked_tier(&mut tx, &new_tier).await?;
        let new_tier = new_tier.ok_or(DevicesError::NotFound("Tier"))?;
        let old_tier = identity.change_tier(&new_tier)?;
        self.store.set_tier(&mut tx, &address, &identity.tier_id).await?;
        let event = DomainEvent::from_event(&TierOfIdentityChanged {
            old_tier_id: old_tier,
            new_tier_id: new_tier.id.clone(),
            identity_address: address.clone(),
        });
        outbox::enqueue(&mut tx, &event, self.clock.now()).await?;
        Ok(tx.commit().await?)
    }

    /// The identity with all its devices (oldest first), for the Admin API's details.
    pub async fn identity_with_devices(
        &self,
        address: &str,
    ) -> Result<(Identity, Vec<Device>), DevicesError> {
        let address = IdentityAddress::parse(address).ok_or(DevicesError::NotFound("Identity"))?;
        let identity = self.identity(&address).await?;
        let devices = self.store.all_devices(&address).await?;
        Ok((identity, devices))
    }
}

impl DevicesStore {
    async fn locked_tier(&self, conn: &mut AnyConnection, id: &TierId) -> sqlx::Result<Option<Tier>> {
        let row = sqlx::query(&format!(
            "SELECT id, name, can_be_used_as_default_for_client, can_be_manually_assigned FROM tiers \
             WHERE id = $1{}",
            self.db().dialect().for_update()
        ))
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(tier_from_row).transpose()
    }

    /// How many clients have the tier as default, and how many identities are assigned to it.
    async fn tier_usage(&self, conn: &mut AnyConnection, id: &TierId) -> sqlx::Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM oauth_clients WHERE default_tier = $1) AS clients, \
             (SELECT COUNT(*) FROM identities WHERE tier_id = $1) AS identities",
        )
        .bind(id.as_str())
        .fetch_one(conn)
        .await?;
        Ok((row.try_get("clients")?, row.try_get("identities")?))
    }

    async fn delete_tier(&self, conn: &mut AnyConnection, id: &TierId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM tiers WHERE id = $1")
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn locked_identity(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
    ) -> sqlx::Result<Option<Identity>> {
        let row = sqlx::query(&format!(
            "SELECT address, client_id, public_key, tier_id, created_at, identity_version, status, \
             deletion_grace_period_ends_at FROM identities WHERE address = $1{}",
            self.db().dialect().for_update()
        ))
        .bind(address.as_str())
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    async fn set_tier(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
        tier: &TierId,
    ) -> sqlx::Result<()> {
        sqlx::query("UPDATE identities SET tier_id = $1 WHERE address = $2")
            .bind(tier.as_str())
            .bind(address.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn all_devices(&self, address: &IdentityAddress) -> sqlx::Result<Vec<Device>> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE identity_address = $1 ORDER BY created_at, id"
        ))
        .bind(address.as_str())
        .fetch_all(self.db().pool())
        .await?;
        rows.iter().map(device_from_row).collect()
    }
}
