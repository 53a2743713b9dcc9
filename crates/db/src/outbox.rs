//! The transactional outbox: domain events are written here in the same transaction as the
//! change that raised them, so an event is never lost and never published for a rolled-back
//! change. A relay (the worker role) hands them to the event bus afterwards.

use backbone_core::encoding::to_millis;
use backbone_core::events::DomainEvent;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

pub async fn enqueue(
    connection: &mut AnyConnection,
    event: &DomainEvent,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outbox_events (event_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&event.id)
    .bind(event.event_type)
    .bind(event.payload.to_string())
    .bind(to_millis(&now))
    .execute(connection)
    .await?;
    Ok(())
}

/// Published events are kept for a while for diagnosis; those naming a deleted identity go at
/// once (identity deletion).
pub async fn forget_published_naming(
    db: &crate::Database,
    identity: &backbone_core::IdentityAddress,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM outbox_events WHERE published_at IS NOT NULL AND payload LIKE $1")
        .bind(format!("%{identity}%"))
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Housekeeping: forgets the events published before `before`, in batches; returns how many.
pub async fn forget_published_before(db: &crate::Database, before: DateTime<Utc>) -> sqlx::Result<u64> {
    crate::Sweep {
        select: "SELECT event_id FROM outbox_events WHERE published_at IS NOT NULL AND published_at < $2 LIMIT $1",
        statements: &["DELETE FROM outbox_events WHERE event_id IN ({keys})"],
    }
    .run(db, Some(to_millis(&before)))
    .await
}
