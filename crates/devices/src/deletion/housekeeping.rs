//! Housekeeping (spec admin-and-services §4.7): deletion processes cancelled more than 30 days
//! ago, and audit-log entries of completed deletions once their retention period is over.

use backbone_core::encoding::to_millis;
use backbone_db::sqlx;
use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Duration, Utc};

use crate::DevicesService;

/// The process goes; its audit entries stay (they outlive processes and identities) and no
/// longer point to it.
const CANCELLED_PROCESSES: Sweep = Sweep {
    select: "SELECT id FROM identity_deletion_processes WHERE status = 'Cancelled' \
        AND cancelled_at < $2 LIMIT $1",
    statements: &[
        "UPDATE identity_deletion_audit_log SET process_id = NULL WHERE process_id IN ({keys})",
        "DELETE FROM identity_deletion_processes WHERE id IN ({keys})",
    ],
};

/// Only entries of deleted identities: the username hashes are attached when a deletion
/// completes (upstream's marker for "belongs to a deleted identity").
const EXPIRED_AUDIT_LOG_ENTRIES: Sweep = Sweep {
    select: "SELECT id FROM identity_deletion_audit_log WHERE username_hashes IS NOT NULL \
        AND created_at <= $2 LIMIT $1",
    statements: &["DELETE FROM identity_deletion_audit_log WHERE id IN ({keys})"],
};

impl DevicesService {
    /// Deletes the deletion processes cancelled more than 30 days before `now`; returns how many.
    pub async fn delete_cancelled_deletion_processes(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        CANCELLED_PROCESSES
            .run(self.deletion.db(), Some(retention_cutoff(now)))
            .await
    }

    /// Deletes the audit-log entries of deleted identities that are `retention` old or older;
    /// returns how many.
    pub async fn delete_expired_deletion_audit_log(
        &self,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> sqlx::Result<u64> {
        EXPIRED_AUDIT_LOG_ENTRIES
            .run(self.deletion.db(), Some(to_millis(&(now - retention))))
            .await
    }
}
