//! Usage figures of this module's tables for the Admin UI's dashboard.

use backbone_db::sqlx::{self};
use chrono::{DateTime, NaiveDate, Utc};

use crate::store::DevicesStore;

impl DevicesStore {
    /// Identities created per UTC day from `since` on (days without any left out).
    pub async fn identities_created_per_day(
        &self,
        since: DateTime<Utc>,
    ) -> sqlx::Result<Vec<(NaiveDate, i64)>> {
        backbone_db::statistics::count_per_day(self.db(), "identities", "created_at", since).await
    }

    /// Devices that logged in since `since`.
    pub async fn devices_logged_in_since(&self, since: DateTime<Utc>) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE last_login_at >= $1")
            .bind(since.timestamp_millis())
            .fetch_one(self.db().pool())
            .await
    }
}
