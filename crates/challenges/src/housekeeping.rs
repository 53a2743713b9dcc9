//! Housekeeping (spec admin-and-services §4.7): challenges go 30 days after they expired.

use backbone_db::sqlx;
use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::ChallengeStore;

const EXPIRED: Sweep = Sweep {
    select: "SELECT id FROM challenges WHERE expires_at <= $2 LIMIT $1",
    statements: &["DELETE FROM challenges WHERE id IN ({keys})"],
};

/// Deletes the challenges that expired 30 days before `now` or earlier; returns how many.
pub async fn delete_expired_challenges(store: &ChallengeStore, now: DateTime<Utc>) -> sqlx::Result<u64> {
    EXPIRED.run(store.db(), Some(retention_cutoff(now))).await
}
