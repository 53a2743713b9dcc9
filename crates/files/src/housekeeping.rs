//! Housekeeping (spec admin-and-services §4.7): files go 30 days after they expired, their
//! rows first and then their blobs.

use backbone_db::sweep::{is_last_batch, retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::FilesService;

const EXPIRED: Sweep = Sweep {
    select: "SELECT id FROM files WHERE expires_at <= $2 LIMIT $1",
    statements: &["DELETE FROM files WHERE id IN ({keys})"],
};

impl FilesService {
    /// Deletes the files that expired 30 days before `now` or earlier; returns how many. A blob
    /// that cannot be removed now is left to the orphaned-blob sweep.
    pub async fn delete_expired_files(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let cutoff = retention_cutoff(now);
        let mut deleted = 0;
        loop {
            let (count, ids) = EXPIRED.run_batch(self.store.db(), Some(cutoff)).await?;
            deleted += count;
            for id in &ids {
                if let Err(error) = self.blobs.delete(id).await {
                    tracing::warn!(file = %id, %error, "could not delete the blob of an expired file; the orphan sweep will");
                }
            }
            if is_last_batch(ids.len()) {
                return Ok(deleted);
            }
        }
    }
}
