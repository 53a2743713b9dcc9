use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{ChallengeId, DeviceId};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::Database;
use chrono::{DateTime, Utc};

use crate::domain::LIFETIME;
use crate::Challenge;

/// Challenges $1 created whose expiry lies in `[$2, $3]` (the creation window shifted by the
/// lifetime): the `NumberOfCreatedChallenges` quota.
pub const COUNT_CREATED: &str =
    "SELECT COUNT(*) FROM challenges WHERE created_by = $1 AND expires_at BETWEEN $2 AND $3";

/// Owns the `challenges` table.
#[derive(Debug, Clone)]
pub struct ChallengeStore {
    db: Database,
}

impl ChallengeStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts on the caller's write transaction.
    pub async fn insert(&self, conn: &mut AnyConnection, challenge: &Challenge) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO challenges (id, expires_at, created_by, created_by_device) VALUES ($1, $2, $3, $4)",
        )
        .bind(challenge.id.as_str())
        .bind(to_millis(&challenge.expires_at))
        .bind(challenge.created_by.as_ref().map(|a| a.as_str().to_owned()))
        .bind(
            challenge
                .created_by_device
                .as_ref()
                .map(|d| d.as_str().to_owned()),
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// `NumberOfCreatedChallenges`: challenges `identity` created with `from <= created at <= to`.
    /// Challenges keep no creation time, but all live exactly [`LIFETIME`]: the window is one of
    /// expiry times. Expired challenges are removed by housekeeping and then no longer count
    /// (as upstream).
    pub async fn count_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        let lifetime = LIFETIME.num_milliseconds();
        sqlx::query_scalar(COUNT_CREATED)
            .bind(identity.as_str())
            .bind(to_millis(&from) + lifetime)
            .bind(to_millis(&to) + lifetime)
            .fetch_one(conn)
            .await
    }

    /// Deletes the challenges an identity created (identity deletion).
    pub async fn delete_created_by(&self, identity: &IdentityAddress) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM challenges WHERE created_by = $1")
            .bind(identity.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    pub async fn find(&self, id: &ChallengeId) -> sqlx::Result<Option<Challenge>> {
        let row =
            sqlx::query("SELECT id, expires_at, created_by, created_by_device FROM challenges WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        row.map(|row| {
            Ok(Challenge {
                id: ChallengeId::from_trusted(row.try_get("id")?),
                expires_at: from_millis(row.try_get("expires_at")?),
                created_by: row
                    .try_get::<Option<String>, _>("created_by")?
                    .map(IdentityAddress::from_trusted),
                created_by_device: row
                    .try_get::<Option<String>, _>("created_by_device")?
                    .map(DeviceId::from_trusted),
            })
        })
        .transpose()
    }
}
