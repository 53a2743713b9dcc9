//! The dead-letter store: events a handler kept failing on, set aside with the last error so
//! that the events behind them go on. An operator lists them, replays them once the cause is
//! fixed, or discards them (`backbone events dead-letters list|retry|discard`).
//!
//! One row per (consumer, event): a replayed event that fails again updates its row.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::generate_id;
use backbone_db::sqlx::{self, Row};
use backbone_db::Database;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Event;

/// An event one consumer gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// `DLE…`, what the CLI takes.
    pub id: String,
    /// The handler that failed (`<Module>.<Purpose>`).
    pub consumer: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub event_created_at: DateTime<Utc>,
    /// The last error, with its causes.
    pub error: String,
    /// Deliveries tried, over every round (retries from the CLI included).
    pub attempts: i64,
    pub failed_at: DateTime<Utc>,
}

impl DeadLetter {
    pub fn event(&self) -> Event {
        Event {
            id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            payload: self.payload.clone(),
            created_at: self.event_created_at,
        }
    }
}

const COLUMNS: &str =
    "id, consumer, event_id, event_type, payload, event_created_at, error, attempts, failed_at";

/// The upsert: a second failure of the same consumer on the same event adds its attempts.
const STORE_SQL: &str = "INSERT INTO dead_letter_events \
     (id, consumer, event_id, event_type, payload, event_created_at, error, attempts, failed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error, \
     attempts = dead_letter_events.attempts + excluded.attempts, failed_at = excluded.failed_at";

#[derive(Debug, Clone)]
pub struct DeadLetterStore {
    db: Database,
}

impl DeadLetterStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Sets `event` aside for `consumer` after `attempts` failed deliveries.
    pub async fn store(
        &self,
        consumer: &str,
        event: &Event,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(STORE_SQL)
            .bind(generate_id("DLE"))
            .bind(consumer)
            .bind(&event.id)
            .bind(&event.event_type)
            .bind(event.payload.to_string())
            .bind(to_millis(&event.created_at))
            .bind(error)
            .bind(i64::from(attempts))
            .bind(to_millis(&now))
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Every dead letter, oldest failure first.
    pub async fn list(&self) -> sqlx::Result<Vec<DeadLetter>> {
        let sql = format!("SELECT {COLUMNS} FROM dead_letter_events ORDER BY failed_at, id");
        let rows = sqlx::query(&sql).fetch_all(self.db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn find(&self, id: &str) -> sqlx::Result<Option<DeadLetter>> {
        let sql = format!("SELECT {COLUMNS} FROM dead_letter_events WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.db.pool()).await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Removes a dead letter; `false` if there was none with this ID.
    pub async fn delete(&self, id: &str) -> sqlx::Result<bool> {
        let result = sqlx::query("DELETE FROM dead_letter_events WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// How many events are set aside (health and metrics).
    pub async fn count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter_events")
            .fetch_one(self.db.pool())
            .await
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<DeadLetter> {
    let payload: String = row.try_get("payload")?;
    Ok(DeadLetter {
        id: row.try_get("id")?,
        consumer: row.try_get("consumer")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        payload: serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        event_created_at: from_millis(row.try_get("event_created_at")?),
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        failed_at: from_millis(row.try_get("failed_at")?),
    })
}
