//! Housekeeping (spec admin-and-services §4.7): announcements go 30 days after they expired,
//! with their texts, actions and recipient lists.

use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::{AnnouncementsError, AnnouncementsService};

const EXPIRED: Sweep = Sweep {
    select: "SELECT id FROM announcements WHERE expires_at <= $2 LIMIT $1",
    statements: &[
        "DELETE FROM announcement_texts WHERE announcement_id IN ({keys})",
        "DELETE FROM announcement_actions WHERE announcement_id IN ({keys})",
        "DELETE FROM announcement_recipients WHERE announcement_id IN ({keys})",
        "DELETE FROM announcements WHERE id IN ({keys})",
    ],
};

impl AnnouncementsService {
    /// Deletes the announcements that expired 30 days before `now` or earlier; returns how many.
    pub async fn delete_expired_announcements(&self, now: DateTime<Utc>) -> Result<u64, AnnouncementsError> {
        Ok(EXPIRED.run(self.store.db(), Some(retention_cutoff(now))).await?)
    }
}
