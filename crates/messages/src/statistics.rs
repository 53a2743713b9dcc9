//! Usage figures of this module's tables for the Admin UI's dashboard.

use backbone_db::sqlx;
use chrono::{DateTime, NaiveDate, Utc};

use crate::store::MessagesStore;

impl MessagesStore {
    /// Messages sent per UTC day from `since` on (days without any left out).
    pub async fn sent_per_day(&self, since: DateTime<Utc>) -> sqlx::Result<Vec<(NaiveDate, i64)>> {
        backbone_db::statistics::count_per_day(self.db(), "messages", "created_at", since).await
    }
}
