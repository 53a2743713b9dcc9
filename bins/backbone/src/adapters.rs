//! Ports between modules. A module that needs a fact another module owns declares a small
//! trait; the binary implements it here over the owning module's store, so no module reads
//! another module's tables and no module crate depends on another.

use async_trait::async_trait;
use backbone_challenges::ChallengeStore;
use backbone_core::ids::{ChallengeId, TierId};
use backbone_core::quotas::{MetricKey, QuotaVerdict};
use backbone_core::IdentityAddress;
use backbone_core::SharedClock;
use backbone_db::sqlx::AnyConnection;
use backbone_db::Database;
use backbone_devices::deletion::DeletionStore;
use backbone_devices::domain::IdentityStatus;
use backbone_devices::{AcquaintanceLookup, ChallengeLookup, DevicesStore};
use backbone_files::FilesStore;
use backbone_messages::store::MessagesStore;
use backbone_quotas::domain::Window;
use backbone_quotas::{QuotasError, QuotasService, QuotasStore};
use backbone_relationships::store::RelationshipsStore;
use backbone_relationships::IdentityDirectory;
use backbone_synchronization::{IdentityStatusLookup, SynchronizationStore};
use backbone_tokens::TokensStore;
use chrono::{DateTime, Utc};
use std::sync::Arc;

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
        conn: &mut AnyConnection,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> anyhow::Result<Option<(String, String)>> {
        let youngest = self.0.youngest_between(conn, a, b).await?;
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

/// Push asks Devices for the devices (with their languages) and the status of identities.
pub struct DevicesForPush(pub DevicesStore);

#[async_trait]
impl backbone_push::DeviceDirectory for DevicesForPush {
    async fn devices_of(
        &self,
        identities: &[IdentityAddress],
    ) -> anyhow::Result<Vec<backbone_push::DeviceLanguage>> {
        let mut devices = Vec::new();
        for identity in identities {
            for number in 1.. {
                let page = backbone_core::paging::PageRequest { number, size: 200 };
                let listed = self.0.list_devices(identity, &[], page).await?;
                let done = u64::from(number) * u64::from(page.size) >= listed.total_records;
                devices.extend(listed.items.into_iter().map(|d| backbone_push::DeviceLanguage {
                    device_id: d.id,
                    communication_language: d.communication_language,
                }));
                if done {
                    break;
                }
            }
        }
        Ok(devices)
    }

    async fn is_active(&self, identity: &IdentityAddress) -> anyhow::Result<bool> {
        let identity = self.0.find_identity(identity).await?;
        Ok(identity.is_some_and(|i| i.status == IdentityStatus::Active))
    }
}

/// Push asks Relationships whether identities may notify each other (N4).
pub struct RelationshipsForPush(pub RelationshipsStore);

#[async_trait]
impl backbone_push::RelationshipStatuses for RelationshipsForPush {
    async fn youngest_status(
        &self,
        a: &IdentityAddress,
        b: &IdentityAddress,
    ) -> anyhow::Result<Option<String>> {
        let mut conn = self.0.db().pool().acquire().await?;
        let youngest = self.0.youngest_between(&mut conn, a, b).await?;
        Ok(youngest.map(|(_, status)| status.as_str().to_owned()))
    }
}

/// The authentication layer asks Devices whether a token's identity may still act.
#[async_trait]
impl backbone_web::IdentityGate for IdentitiesFromDevices {
    async fn may_act(&self, address: &IdentityAddress) -> anyhow::Result<bool> {
        Ok(self
            .status(address)
            .await?
            .is_some_and(|status| status != IdentityStatus::Deleting))
    }
}

// Quotas -------------------------------------------------------------------------------------

/// The quota check, for every module whose writes quotas limit. Each module declares its own
/// `QuotaGate` port; all are answered by [`QuotasService::check`] on the caller's transaction.
#[derive(Clone)]
pub struct QuotasGate(pub QuotasService);

impl QuotasGate {
    async fn verdict(
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

macro_rules! quota_gates {
    ($($port:path),* $(,)?) => {
        $(
            #[async_trait]
            impl $port for QuotasGate {
                async fn check(
                    &self,
                    conn: &mut AnyConnection,
                    identity: &IdentityAddress,
                    metrics: &[MetricKey],
                    now: DateTime<Utc>,
                ) -> anyhow::Result<QuotaVerdict> {
                    self.verdict(conn, identity, metrics, now).await
                }
            }
        )*
    };
}

quota_gates!(
    backbone_challenges::QuotaGate,
    backbone_devices::QuotaGate,
    backbone_files::QuotaGate,
    backbone_messages::QuotaGate,
    backbone_relationships::QuotaGate,
    backbone_synchronization::QuotaGate,
    backbone_tokens::QuotaGate,
);

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
    ) -> anyhow::Result<Option<TierId>> {
        Ok(self.0.tier_of(conn, identity).await?)
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
