//! What this module asks other modules. The binary implements these over the owning modules'
//! stores (bins/backbone/src/adapters.rs); every call runs on the connection it is given, so
//! the quota check sees exactly what the write transaction it runs in sees.

use async_trait::async_trait;
use backbone_core::ids::TierId;
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::AnyConnection;

use crate::domain::Window;

/// Tiers and the identity -> tier assignment belong to the Devices module.
#[async_trait]
pub trait TierDirectory: Send + Sync {
    /// The identity's tier, or `None` if the identity does not exist. With `lock` the
    /// identity's row stays locked for the rest of the transaction (PostgreSQL; SQLite's
    /// single writer serialises write transactions anyway): the quota check's lock.
    async fn tier_of(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        lock: bool,
    ) -> anyhow::Result<Option<TierId>>;

    /// The tier's name, or `None` if it does not exist. With `lock` the tier stays locked for
    /// the rest of the transaction, so it cannot be deleted while a quota is added to it.
    async fn tier_name(
        &self,
        conn: &mut AnyConnection,
        tier: &TierId,
        lock: bool,
    ) -> anyhow::Result<Option<String>>;
}

/// The usage of a metric is counted where the data lives.
#[async_trait]
pub trait UsageCounter: Send + Sync {
    /// §1.6's usage of `metric` by `identity` in `window` (bounds included);
    /// `UsedFileStorageSpace` in whole MiB.
    async fn usage(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metric: MetricKey,
        window: Window,
    ) -> anyhow::Result<u64>;
}
