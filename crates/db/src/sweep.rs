//! Housekeeping deletes in batches: each batch of at most [`BATCH_SIZE`] rows is deleted in
//! its own short transaction, so a sweep over a large backlog never holds its locks (or, on
//! SQLite, the single writer connection) for long and requests run between the batches.

use sqlx::Row;

use crate::{placeholders, Database};

/// Rows one batch deletes at most.
pub const BATCH_SIZE: i64 = 1_000;

/// How long upstream keeps what expired or finished before housekeeping removes it (the same
/// 30 days in every module).
pub const RETENTION: chrono::Duration = chrono::Duration::days(30);

/// The cutoff for data that expired or finished [`RETENTION`] ago, in milliseconds.
pub fn retention_cutoff(now: chrono::DateTime<chrono::Utc>) -> i64 {
    backbone_core::encoding::to_millis(&(now - RETENTION))
}

/// Whether a batch of `keys` keys was the last: it was not full.
pub fn is_last_batch(keys: usize) -> bool {
    usize::try_from(BATCH_SIZE).is_ok_and(|size| keys < size)
}

/// One housekeeping sweep over a table.
#[derive(Debug, Clone, Copy)]
pub struct Sweep<'a> {
    /// Selects the keys (first column) of the rows to delete: `$1` is the batch size, `$2` the
    /// cutoff in milliseconds if the sweep has one, e.g.
    /// `SELECT id FROM tokens WHERE expires_at <= $2 LIMIT $1`.
    pub select: &'a str,
    /// Run in order inside the batch's transaction, `{keys}` replaced by the batch's keys as
    /// parameters; the last one deletes the rows themselves and is what is counted.
    pub statements: &'a [&'a str],
}

impl Sweep<'_> {
    /// Deletes every row the sweep selects, batch after batch; returns how many.
    pub async fn run(&self, db: &Database, cutoff: Option<i64>) -> sqlx::Result<u64> {
        let mut deleted = 0;
        loop {
            let (batch, keys) = self.run_batch(db, cutoff).await?;
            deleted += batch;
            if is_last_batch(keys.len()) {
                return Ok(deleted);
            }
        }
    }

    /// Deletes one batch; returns how many rows the last statement deleted and the keys of
    /// the batch (fewer than [`BATCH_SIZE`] keys: nothing is left to delete).
    pub async fn run_batch(&self, db: &Database, cutoff: Option<i64>) -> sqlx::Result<(u64, Vec<String>)> {
        let mut tx = db.begin_write().await?;
        let mut select = sqlx::query(self.select).bind(BATCH_SIZE);
        if let Some(cutoff) = cutoff {
            select = select.bind(cutoff);
        }
        let keys = select
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<sqlx::Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Ok((0, keys));
        }
        let mut deleted = 0;
        for statement in self.statements {
            let sql = statement.replace("{keys}", &placeholders(1, keys.len()));
            let mut query = sqlx::query(&sql);
            for key in &keys {
                query = query.bind(key.as_str());
            }
            deleted = query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok((deleted, keys))
    }
}
