use std::sync::Arc;
use std::time::Duration;

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::SharedClock;
use backbone_db::sqlx::{self, Row};
use backbone_db::{placeholders, Database, Dialect};
use tokio::sync::Notify;

use crate::ordering::{publish_in_order, Outcome};
use crate::{Event, EventBus};

/// How long a relay may work on a claimed batch before another relay may take it over.
const CLAIM_SECONDS: i64 = 60;

/// The claim statement: takes the oldest unclaimed events and claims them in one round trip.
/// $1 = claimed until, $2 = now, $3 = batch size. On PostgreSQL concurrent relays skip each
/// other's rows and take different events.
pub fn claim_sql(dialect: Dialect) -> String {
    format!(
        "UPDATE outbox_events SET claimed_until = $1 WHERE sequence IN (\
         SELECT sequence FROM outbox_events \
         WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2) \
         ORDER BY sequence LIMIT $3{}) RETURNING sequence, event_id, event_type, payload, created_at",
        dialect.for_update_skip_locked()
    )
}

/// What [`OutboxRelay::backlog`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub pending: i64,
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
}

/// Moves events from the outbox to the bus.
#[derive(Clone)]
pub struct OutboxRelay {
    db: Database,
    bus: Arc<dyn EventBus>,
    clock: SharedClock,
    max_concurrent_events: usize,
}

impl OutboxRelay {
    pub fn new(db: Database, bus: Arc<dyn EventBus>, clock: SharedClock) -> Self {
        Self {
            db,
            bus,
            clock,
            max_concurrent_events: 1,
        }
    }

    /// Lets up to `max` events of a batch be handled at once (see [`publish_in_order`]).
    #[must_use]
    pub fn with_concurrency(mut self, max: usize) -> Self {
        self.max_concurrent_events = max.max(1);
        self
    }

    /// Publishes up to `limit` pending events; returns how many were published, or the first
    /// failure after the rest of the batch was dealt with.
    ///
    /// Events are first *claimed* (in one statement) so several relays can share the outbox;
    /// an event whose claim ran out (its relay died) is claimed again. The claim is not held in
    /// a transaction while handlers run, so in-process handlers can write freely. Events that
    /// share an identity or relationship are published in outbox order, others concurrently.
    /// A failed event, and every later one that shares a key with it, is released to be
    /// offered again; the published ones are marked in one statement.
    pub async fn relay_batch(&self, limit: i64) -> anyhow::Result<usize> {
        let events = self.claim(limit).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let batch: Vec<&Event> = events.iter().map(|(_, event)| event).collect();
        let outcomes = publish_in_order(self.bus.as_ref(), &batch, self.max_concurrent_events).await;
        let mut published = Vec::new();
        let mut released = Vec::new();
        let mut first_failure = None;
        for ((sequence, event), outcome) in events.iter().zip(outcomes) {
            match outcome {
                Outcome::Published => published.push(*sequence),
                Outcome::Failed(error) => {
                    tracing::warn!(event_id = %event.id, event_type = %event.event_type, error = %format!("{error:#}"), "publishing failed; will retry");
                    released.push(*sequence);
                    first_failure.get_or_insert(error);
                }
                Outcome::Held => released.push(*sequence),
            }
        }
        self.set_published(&published).await?;
        self.release(&released).await?;
        match first_failure {
            Some(error) => Err(anyhow::anyhow!("{error:#}")),
            None => Ok(published.len()),
        }
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

    /// The events not yet published: how many, and when the oldest was written (metrics:
    /// the outbox backlog and how far the relay lags behind).
    pub async fn backlog(&self) -> anyhow::Result<OutboxBacklog> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox_events WHERE published_at IS NULL",
        )
        .fetch_one(self.db.pool())
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(OutboxBacklog {
            pending: row.try_get("pending")?,
            oldest: oldest.map(from_millis),
        })
    }

    /// Claims the oldest unclaimed events in one statement.
    async fn claim(&self, limit: i64) -> anyhow::Result<Vec<(i64, Event)>> {
        let now = self.clock.now();
        let sql = claim_sql(self.db.dialect());
        let rows = sqlx::query(&sql)
            .bind(to_millis(&(now + chrono::Duration::seconds(CLAIM_SECONDS))))
            .bind(to_millis(&now))
            .bind(limit)
            .fetch_all(self.db.writer())
            .await?;
        let mut events = rows
            .iter()
            .map(|row| -> anyhow::Result<(i64, Event)> {
                let payload: String = row.try_get("payload")?;
                Ok((
                    row.try_get("sequence")?,
                    Event {
                        id: row.try_get("event_id")?,
                        event_type: row.try_get("event_type")?,
                        payload: serde_json::from_str(&payload)?,
                        created_at: from_millis(row.try_get("created_at")?),
                    },
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // RETURNING gives no order.
        events.sort_by_key(|(sequence, _)| *sequence);
        Ok(events)
    }

    async fn set_published(&self, sequences: &[i64]) -> anyhow::Result<()> {
        let published_at = to_millis(&self.clock.now());
        self.update_each(sequences, "published_at = $1", Some(published_at))
            .await
    }

    async fn release(&self, sequences: &[i64]) -> anyhow::Result<()> {
        self.update_each(sequences, "claimed_until = $1", None).await
    }

    async fn update_each(&self, sequences: &[i64], set: &str, value: Option<i64>) -> anyhow::Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE outbox_events SET {set} WHERE sequence IN ({})",
            placeholders(2, sequences.len())
        );
        let mut query = sqlx::query(&sql).bind(value);
        for sequence in sequences {
            query = query.bind(sequence);
        }
        query.execute(self.db.writer()).await?;
        Ok(())
    }
}

/// The longest the relay waits between attempts while publishing fails.
const MAX_PAUSE: Duration = Duration::from_secs(2);

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
            // Back off while the bus or the database is down, but not for long: events wait.
            let pause =
                (self.interval * 2u32.saturating_pow(failures.min(6))).min(MAX_PAUSE.max(self.interval));
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
