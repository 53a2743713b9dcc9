//! The `NumberOfCreatedDatawalletModifications` quota: the port this module asks, and what the
//! Quotas module counts here. Upstream does not enforce this metric; see crates/quotas.

use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, AnyConnection};
use chrono::{DateTime, Utc};

use crate::{SyncError, SynchronizationService, SynchronizationStore};

pub use backbone_core::ports::QuotaGate;

/// The counting query, for the query-plan test: modifications $1 created with
/// `$2 <= created_at <= $3`.
pub const COUNT_MODIFICATIONS_CREATED: &str =
    "SELECT COUNT(*) FROM datawallet_modifications WHERE created_by = $1 AND created_at BETWEEN $2 AND $3";

impl SynchronizationService {
    /// 429 unless `identity` may create datawallet modifications now.
    pub(crate) async fn check_modifications_quota(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        self.quotas
            .check(
                conn,
                identity,
                &[MetricKey::NumberOfCreatedDatawalletModifications],
                now,
            )
            .await?
            .map_err(SyncError::QuotaExhausted)
    }
}

impl SynchronizationStore {
    /// Modifications `identity` created with `from <= created_at <= to`.
    pub async fn count_modifications_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, COUNT_MODIFICATIONS_CREATED, identity, from, to).await
    }
}
