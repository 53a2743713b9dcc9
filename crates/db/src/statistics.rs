//! Counting for the Admin UI's dashboard: rows per UTC day, over a table's creation times.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use crate::Database;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// How many rows `table` has per UTC day of `column` (epoch milliseconds, as every table
/// here stores times) from `since` on. Days without rows are left out. Integer division
/// groups the same way on SQLite and PostgreSQL, so the work stays in the database.
pub async fn count_per_day(
    db: &Database,
    table: &'static str,
    column: &'static str,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<(NaiveDate, i64)>> {
    let sql = format!(
        "SELECT {column} / {MILLIS_PER_DAY} AS day, COUNT(*) AS n FROM {table} \
         WHERE {column} >= $1 GROUP BY {column} / {MILLIS_PER_DAY} ORDER BY day"
    );
    let rows = sqlx::query(&sql)
        .bind(since.timestamp_millis())
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let day: i64 = row.try_get("day")?;
            let count: i64 = row.try_get("n")?;
            let date = DateTime::from_timestamp_millis(day * MILLIS_PER_DAY)
                .ok_or_else(|| sqlx::Error::Decode(format!("day {day} is out of range").into()))?
                .date_naive();
            Ok((date, count))
        })
        .collect()
}
