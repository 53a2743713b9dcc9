//! The ports between modules (`backbone_core::ports`), each implemented once here over the
//! owning module's store, so no module reads another module's tables and no module crate
//! depends on another.

use async_trait::async_trait;
use backbone_challenges::ChallengeStore;
use backbone_core::ids::{ChallengeId, TierId};
use backbone_core::ports::{
    ChallengeDirectory, DeviceDirectory, DeviceLanguage, IdentityDirectory, RelationshipBetween,
    RelationshipDirectory,
};
use backbone_core::quotas::{MetricKey, QuotaVerdict};
use backbone_core::status::IdentityStatus;
use backbone_core::IdentityAddress;
use backbone_core::SharedClock;
use backbone_db::sqlx::AnyConnection;
use backbone_db::Database;
use backbone_devices::deletion::DeletionStore;
use backbone_devices::DevicesStore;
use backbone_files::FilesStore;
use backbone_messages::store::MessagesStore;
use backbone_quotas::domain::Window;
use backbone_quotas::{QuotasError, QuotasService, QuotasStore};
use backbone_relationships::store::RelationshipsStore;
use backbone_synchronization::SynchronizationStore;
use backbone_tokens::TokensStore;
use chrono::{DateTime, Utc};
use std::sync::Arc;

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

// Quotas -------------------------------------------------------------------------------------

/// The quota check, for every module whose writes quotas limit (the `QuotaGate` port of
/// core); answered by [`QuotasService::check`] on the caller's transaction.
#[derive(Clone)]
pub struct QuotasGate(pub QuotasService);

#[async_trait]
impl backbone_core::ports::QuotaGate for QuotasGate {
    async fn check(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metrics: &[MetricKey],
        now: DateTime<Utc>,
    ) -> anyhow::Result<QuotaVerdict> {
        match self.0.check(conn, identity, metrics, now).await {
            Ok(()) => Ok(Ok(())),
            Err(QuotasError::Exhausted(exhausted)) => Ok(Err(exhausted)),
            Err(other) => Err(other.into()),
        }
    }
}

/// The Quotas module counts usage in the other modules' stores, on the checked write's
/// connection, and reads tiers from Devices.
pub fn quotas_service(db: &Database, clock: &SharedClock) -> QuotasService {
    let usage = UsageFromModules {
        challenges: ChallengeStore::new(db.clone()),
        devices: DevicesStore::new(db.clone()),
        deletion: backbone_devices::deletion::DeletionStore::new(db.clone()),
        files: FilesStore::new(db.clone()),
        messages: MessagesStore::new(db.clone()),
        relationships: RelationshipsStore::new(db.clone()),
        synchronization: SynchronizationStore::new(db.clone()),
        tokens: TokensStore::new(db.clone()),
    };
    QuotasService {
        store: QuotasStore::new(db.clone()),
        tiers: Arc::new(TiersFromDevices(DevicesStore::new(db.clone()))),
        usage: Arc::new(usage),
        clock: clock.clone(),
    }
}

/// Quotas asks Devices for tiers and the tier of an identity.
pub struct TiersFromDevices(pub DevicesStore);

#[async_trait]
impl backbone_quotas::ports::TierDirectory for TiersFromDevices {
    async fn tier_of(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        lock: bool,
    ) -> anyhow::Result<Option<TierId>> {
        Ok(self.0.tier_of(conn, identity, lock).await?)
    }

    async fn tier_name(
        &self,
        conn: &mut AnyConnection,
        tier: &TierId,
        lock: bool,
    ) -> anyhow::Result<Option<String>> {
        Ok(self.0.tier_name(conn, tier, lock).await?)
    }
}

/// Quotas asks the module that owns each metric's data for the usage.
pub struct UsageFromModules {
    pub challenges: ChallengeStore,
    pub devices: DevicesStore,
    pub deletion: DeletionStore,
    pub files: FilesStore,
    pub messages: MessagesStore,
    pub relationships: RelationshipsStore,
    pub synchronization: SynchronizationStore,
    pub tokens: TokensStore,
}

#[async_trait]
impl backbone_quotas::ports::UsageCounter for UsageFromModules {
    async fn usage(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metric: MetricKey,
        window: Window,
    ) -> anyhow::Result<u64> {
        let (from, to) = (window.from, window.to);
        let count = match metric {
            MetricKey::NumberOfSentMessages => self.messages.count_sent(conn, identity, from, to).await?,
            MetricKey::NumberOfRelationships => {
                let relationships = &self.relationships;
                relationships
                    .count_relationships_for_quota(conn, identity, from, to)
                    .await?
            }
            MetricKey::NumberOfRelationshipTemplates => {
                let relationships = &self.relationships;
                relationships
                    .count_templates_created(conn, identity, from, to)
                    .await?
            }
            MetricKey::NumberOfFiles => self.files.count_created(conn, identity, from, to).await?.0,
            // Whole MiB, truncated (upstream).
            MetricKey::UsedFileStorageSpace => {
                self.files.count_created(conn, identity, from, to).await?.1 / (1024 * 1024)
            }
            MetricKey::NumberOfTokens => self.tokens.count_created(conn, identity, from, to).await?,
            MetricKey::NumberOfStartedDeletionProcesses => {
                self.deletion
                    .count_processes_started(conn, identity, from, to)
                    .await?
            }
            MetricKey::NumberOfCreatedChallenges => {
                self.challenges.count_created(conn, identity, from, to).await?
            }
            MetricKey::NumberOfCreatedDatawalletModifications => {
                let synchronization = &self.synchronization;
                synchronization
                    .count_modifications_created(conn, identity, from, to)
                    .await?
            }
            MetricKey::NumberOfCreatedDevices => {
                self.devices
                    .count_devices_created(conn, identity, from, to)
                    .await?
            }
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
