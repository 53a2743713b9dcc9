//! Housekeeping (spec admin-and-services §4.7): sync runs finalized 30 days ago, and
//! datawallet modifications older than 30 days that a later one supersedes.

use backbone_db::sqlx;
use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::SynchronizationService;

/// A run goes with its sync errors and with the events delivered in it, as upstream's (its
/// external events cascade): events whose delivery failed were released from the run and
/// stay. Left in place, a delivered event would lose its run and be delivered again.
const FINALIZED_RUNS: Sweep = Sweep {
    select: "SELECT id FROM sync_runs WHERE finalized_at IS NOT NULL AND finalized_at <= $2 LIMIT $1",
    statements: &[
        "DELETE FROM sync_errors WHERE sync_run_id IN ({keys})",
        "DELETE FROM external_events WHERE sync_run_id IN ({keys})",
        "DELETE FROM sync_runs WHERE id IN ({keys})",
    ],
};

/// Upstream's `DatawalletModification.CanBeCleanedUp`: a later modification of the same object
/// in the same collection deletes it, or both are creates/updates of the same payload
/// category (NULL categories count as equal, as EF compares them).
const SUPERSEDED_MODIFICATIONS: Sweep = Sweep {
    select: "SELECT m.id FROM datawallet_modifications m WHERE m.created_at <= $2 AND EXISTS (\
        SELECT 1 FROM datawallet_modifications o WHERE o.datawallet_id = m.datawallet_id \
        AND o.object_identifier = m.object_identifier AND o.collection = m.collection \
        AND o.modification_index > m.modification_index AND (o.modification_type = 'Delete' \
        OR (o.modification_type IN ('Create', 'Update') AND m.modification_type IN ('Create', 'Update') \
        AND (o.payload_category = m.payload_category \
        OR (o.payload_category IS NULL AND m.payload_category IS NULL))))) LIMIT $1",
    statements: &["DELETE FROM datawallet_modifications WHERE id IN ({keys})"],
};

impl SynchronizationService {
    /// Deletes the sync runs finalized 30 days before `now` or earlier; returns how many.
    pub async fn delete_finalized_sync_runs(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        FINALIZED_RUNS
            .run(self.store.db(), Some(retention_cutoff(now)))
            .await
    }

    /// Deletes superseded datawallet modifications created 30 days before `now` or earlier;
    /// returns how many.
    pub async fn delete_superseded_modifications(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        SUPERSEDED_MODIFICATIONS
            .run(self.store.db(), Some(retention_cutoff(now)))
            .await
    }
}
