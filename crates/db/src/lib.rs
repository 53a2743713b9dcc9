//! The storage layer shared by all modules.
//!
//! We talk to SQLite (the embedded default) and PostgreSQL (production) through sqlx's `Any`
//! driver, so every store has a single code path. The price is a smaller type set: dates are
//! stored as milliseconds since the epoch (`BIGINT`), integers as `BIGINT`, bytes as
//! `BYTEA`/`BLOB`, booleans as 0/1 `BIGINT`s. Where the dialects differ (row locks, upserts) stores branch on [`Dialect`].
//! The shared pieces of every store live here too: [`fetch_page`] for list endpoints,
//! [`Allocations`], the outbox and idempotent event handling.

pub mod allocations;
pub mod anonymise;
mod connect;
mod files;
pub mod outbox;
pub mod paged;
pub mod statistics;
pub mod sweep;

pub use allocations::Allocations;
pub use connect::{Database, Dialect, PoolOptions};
pub use files::{create_private_dir, create_private_sqlite_file, sqlite_path};
pub use paged::{fetch_page, with_ids, PagedSql, Param};
pub use sqlx;
pub use sweep::Sweep;

/// Whether the error is a unique-constraint violation (a lost race against another writer).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether an error means the database is unreachable or saturated for now (no connection
/// in time, connection lost, server shutting down, SQLite busy) rather than a bug: such a
/// request is answered 503 and may be retried.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if cause.is::<std::io::Error>() {
            return true;
        }
        let Some(error) = cause.downcast_ref::<sqlx::Error>() else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // PostgreSQL: connection exceptions (08…), shutdown/cannot connect now (57P…),
                // too many connections (53300). SQLite: SQLITE_BUSY and its extended codes.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
                    || code == "5"
                    || code == "517"
            }),
            _ => false,
        }
    })
}

/// Reads a boolean stored as a 0/1 `BIGINT` (the `Any` driver cannot map SQLite booleans).
pub fn get_flag(row: &sqlx::any::AnyRow, column: &str) -> sqlx::Result<bool> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// Idempotent event handling: records that `consumer` handled `event_id`, inside the
/// handler's transaction. `false` means it was handled before and the handler should stop.
pub mod processed {
    use sqlx::AnyConnection;

    pub const MARK_PROCESSED: &str =
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

    pub async fn mark_processed(
        conn: &mut AnyConnection,
        consumer: &str,
        event_id: &str,
    ) -> sqlx::Result<bool> {
        let result = sqlx::query(MARK_PROCESSED)
            .bind(consumer)
            .bind(event_id)
            .execute(conn)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

/// Runs a counting query `sql` whose parameters are an identity ($1) and a window
/// `$2 <= created_at <= $3` (milliseconds), on the caller's connection: the quota usage every
/// module reports for the data it owns.
pub async fn count_in_window(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    identity: &backbone_core::IdentityAddress,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<i64> {
    use backbone_core::encoding::to_millis;
    sqlx::query_scalar(sql)
        .bind(identity.as_str())
        .bind(to_millis(&from))
        .bind(to_millis(&to))
        .fetch_one(conn)
        .await
}

/// `$first, $first+1, …` for `count` positional parameters, e.g. an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The outcome of an insert that may lose a race: `false` if a unique constraint refused it.
pub fn inserted<T>(result: sqlx::Result<T>) -> sqlx::Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_count_from_the_first() {
        assert_eq!(super::placeholders(2, 3), "$2, $3, $4");
        assert_eq!(super::placeholders(1, 0), "");
    }
}
