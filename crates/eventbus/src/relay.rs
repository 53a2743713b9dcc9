use std::sync::Arc;
use std::time::Duration;

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::SharedClock;
use backbone_db::sqlx::{self, Row};
use backbone_db::Database;
use tokio::sync::Notify;

use crate::{Event, EventBus};

/// How long a relay may work on a claimed batch before another relay may take it over.
const CLAIM_SECONDS: i64 = 60;

/// The relay's claim of unpublished events ($1 now, $2 the batch size), public for the
/// query-plan test; PostgreSQL appends `FOR UPDATE SKIP LOCKED`.
pub const CLAIM_SQL: &str = "SELECT sequence, event_id, event_type, payload, created_at FROM outbox_events \
    WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY sequence LIMIT $2";

/// Moves events from the outbox to the bus.
#[derive(Clone)]
pub struct OutboxRelay {
    db: Database,
    bus: Arc<dyn EventBus>,
    clock: SharedClock,
}

impl OutboxRelay {
    pub fn new(db: Database, bus: Arc<dyn EventBus>, clock: SharedClock) -> Self {
        Self { db, bus, clock }
    }

    /// Publishes up to `limit` pending events in outbox order; returns how many were published.
    ///
    /// Events are first *claimed* (in a short transaction) so several relays can share the
    /// outbox; an event whose claim ran out (its relay died) is claimed again. The claim is not
    /// held in a transaction while handlers run, so in-process handlers can write freely.
    pub async fn relay_batch(&self, limit: i64) -> anyhow::Result<usize> {
        let events = self.claim(limit).await?;
        let mut published = 0;
        for (sequence, event) in events {
            if let Err(error) = self.bus.publish(&event).await {
                tracing::warn!(event_id = %event.id, event_type = %event.event_type, error = %format!("{error:#}"), "publishing failed; will retry");
                self.release(sequence).await?;
                return Err(error);
            }
            sqlx::query("UPDATE outbox_events SET published_at = $1 WHERE sequence = $2")
                .bind(to_millis(&self.clock.now()))
                .bind(sequence)
                .execute(self.db.pool())
                .await?;
            published += 1;
        }
        Ok(published)
    }

    /// Publishes until the outbox is empty (tests and one-off runs).
    pub async fn relay_all(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let published = self.relay_batch(100).await?;
            if published == 0 {
                return Ok(total);
            }
            total += published;
        }
    }

    async fn claim(&self, limit: i64) -> anyhow::Result<Vec<(i64, Event)>> {
        let now = self.clock.now();
        let mut tx = self.db.begin_write().await?;
        let skip_locked = match self.db.dialect() {
            backbone_db::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            backbone_db::Dialect::Sqlite => "",
        };
        let rows = sqlx::query(&format!("{CLAIM_SQL}{skip_locked}"))
            .bind(to_millis(&now))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let sequence: i64 = row.try_get("sequence")?;
            sqlx::query("UPDATE outbox_events SET claimed_until = $1 WHERE sequence = $2")
                .bind(to_millis(&(now + chrono::Duration::seconds(CLAIM_SECONDS))))
                .bind(sequence)
                .execute(&mut *tx)
                .await?;
            let payload: String = row.try_get("payload")?;
            events.push((
                sequence,
                Event {
                    id: row.try_get("event_id")?,
                    event_type: row.try_get("event_type")?,
                    payload: serde_json::from_str(&payload)?,
                    created_at: from_millis(row.try_get("created_at")?),
                },
            ));
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn release(&self, sequence: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE outbox_events SET claimed_until = NULL WHERE sequence = $1")
            .bind(sequence)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

/// The worker role's loop: relay whenever woken (after a write in this process) or every
/// `interval` (writes by other processes), backing off after failures.
pub struct RelayWorker {
    pub relay: OutboxRelay,
    pub wake: Arc<Notify>,
    pub interval: Duration,
}

impl RelayWorker {
    pub async fn run(self) {
        let mut failures = 0u32;
        loop {
            match self.relay.relay_batch(100).await {
                Ok(published) if published > 0 => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::error!(error = %format!("{error:#}"), "outbox relay failed");
                }
            }
            let pause = self.interval * 2u32.saturating_pow(failures.min(6));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
