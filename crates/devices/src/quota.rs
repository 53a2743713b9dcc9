//! This module and the Quotas module: the port through which devices and deletion processes
//! are limited (upstream does not enforce these two metrics; see crates/quotas), and what the
//! Quotas module reads here through its ports: usage counts and the tier of an identity.
//! Everything runs on the connection of the caller's transaction.

use backbone_core::ids::TierId;
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, AnyConnection};
use backbone_db::Dialect;
use chrono::{DateTime, Utc};

use crate::deletion::DeletionStore;
use crate::{DevicesError, DevicesService, DevicesStore};

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
    /// PostgreSQL's row lock for a quota check: `NO KEY UPDATE` does not conflict with the
    /// key-share locks that inserts referencing the identity take.
    pub const LOCK_SUFFIX: &str = " FOR NO KEY UPDATE";
}

impl DevicesService {
    /// 429 unless `identity` may use one more of `metric`.
    pub(crate) async fn check_quota(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metric: MetricKey,
        now: DateTime<Utc>,
    ) -> Result<(), DevicesError> {
        self.quotas
            .check(conn, identity, &[metric], now)
            .await?
            .map_err(DevicesError::QuotaExhausted)
    }
}

impl DevicesStore {
    /// The identity's tier; `None` if the identity does not exist. With `lock` (PostgreSQL)
    /// the identity's row stays locked until the transaction ends: the quota check's lock.
    pub async fn tier_of(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        lock: bool,
    ) -> sqlx::Result<Option<TierId>> {
        let suffix = if lock && self.db().dialect() == Dialect::Postgres {
            sql::LOCK_SUFFIX
        } else {
            ""
        };
        let tier: Option<String> = sqlx::query_scalar(&format!("{}{suffix}", sql::TIER_OF))
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
