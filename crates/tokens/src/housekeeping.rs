//! Housekeeping (spec admin-and-services §4.7): tokens go 30 days after they expired, with
//! their allocations.

use backbone_db::sqlx;
use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::TokensService;

const EXPIRED: Sweep = Sweep {
    select: "SELECT id FROM tokens WHERE expires_at <= $2 LIMIT $1",
    statements: &[
        "DELETE FROM token_allocations WHERE token_id IN ({keys})",
        "DELETE FROM tokens WHERE id IN ({keys})",
    ],
};

impl TokensService {
    /// Deletes the tokens that expired 30 days before `now` or earlier; returns how many.
    pub async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        EXPIRED.run(self.store.db(), Some(retention_cutoff(now))).await
    }
}
