//! This module and the Quotas module: the port through which devices and deletion processes
//! are limited (upstream does not enforce these two metrics; see crates/quotas), and what the
//! Quotas module reads here through its ports: usage counts and the tier of an identity.
//! Everything runs on the connection of the caller's transaction.

use backbone_core::ids::TierId;
use backbone_core::quotas::MetricKey;
use backbone_core::{ApiError, ApiResult, IdentityAddress};
use backbone_db::sqlx::{self, AnyConnection};
use chrono::{DateTime, Utc};

use crate::deletion::DeletionStore;
use crate::{DevicesService, DevicesStore};

pub use backbone_core::ports::QuotaGate;

/// The counting queries, for the query-plan test.
pub mod sql {
    /// Devices of $1 created with `$2 <= created_at <= $3`.
    pub const COUNT_DEVICES_CREATED: &str =
        "SELECT COUNT(*) FROM devices WHERE identity_address = $1 AND created_at BETWEEN $2 AND $3";
    /// Deletion processes $1 started with `$2 <= created_at <= $3`, in any status.
    pub const COUNT_PROCESSES_STARTED: &str =
        "SELECT COUNT(*) FROM identity_deletion_processes WHERE identity_address = $1 AND created_at BETWEEN $2 AND $3";
    pub const TIER_OF: &str = "SELECT tier_id FROM identities WHERE address = $1";
}

impl DevicesService {
    /// 429 unless `identity` may use one more of `metric`.
    pub(crate) async fn check_quota(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metric: MetricKey,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        self.quotas
            .check(conn, identity, &[metric], now)
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::QuotaExhausted)
    }
}

impl DevicesStore {
    /// The identity's tier; `None` if the identity does not exist.
    pub async fn tier_of(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
    ) -> sqlx::Result<Option<TierId>> {
        let tier: Option<String> = sqlx::query_scalar(sql::TIER_OF)
            .bind(identity.as_str())
            .fetch_optional(conn)
            .await?;
        Ok(tier.map(TierId::from_trusted))
    }

    /// The tier's name; with `lock` the tier row stays locked until the transaction ends.
    pub async fn tier_name(
        &self,
        conn: &mut AnyConnection,
        tier: &TierId,
        lock: bool,
    ) -> sqlx::Result<Option<String>> {
        let lock = if lock {
            self.db().dialect().for_update()
        } else {
            ""
        };
        sqlx::query_scalar(&format!("SELECT name FROM tiers WHERE id = $1{lock}"))
            .bind(tier.as_str())
            .fetch_optional(conn)
            .await
    }

    /// `NumberOfCreatedDevices`: devices of `identity` created with `from <= created_at <= to`.
    pub async fn count_devices_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNT_DEVICES_CREATED, identity, from, to).await
    }
}

impl DeletionStore {
    /// `NumberOfStartedDeletionProcesses`: processes `identity` started in the window, in any
    /// status.
    pub async fn count_processes_started(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNT_PROCESSES_STARTED, identity, from, to).await
    }
}
