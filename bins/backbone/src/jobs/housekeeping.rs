//! The housekeeping job (spec admin-and-services §4.7): every module removes what it no longer
//! needs, in upstream's module order. Each sweep deletes in batches of
//! [`backbone_db::sweep::BATCH_SIZE`] rows, each batch its own transaction, and is logged with
//! its count and duration.

use std::fmt;
use std::future::Future;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::app::Application;

/// Uploads in progress have their blob written before their row: blobs younger than this are
/// never taken for orphans.
const ORPHANED_BLOB_MIN_AGE: Duration = Duration::hours(1);

/// Published outbox events are kept this long for diagnosis.
const PUBLISHED_EVENT_RETENTION: Duration = Duration::days(7);

/// What one run deleted, sweep by sweep, in the order the sweeps ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub sweeps: Vec<(&'static str, u64)>,
}

impl HousekeepingReport {
    /// How many rows (or blobs) the sweep named `name` deleted.
    pub fn count(&self, name: &str) -> Option<u64> {
        self.sweeps
            .iter()
            .find(|(sweep, _)| *sweep == name)
            .map(|(_, count)| *count)
    }

    async fn record<E>(
        &mut self,
        name: &'static str,
        sweep: impl Future<Output = Result<u64, E>>,
    ) -> anyhow::Result<()>
    where
        anyhow::Error: From<E>,
    {
        let started = Instant::now();
        let deleted = sweep.await.map_err(anyhow::Error::from)?;
        tracing::info!(
            sweep = name,
            deleted,
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "housekeeping deleted data"
        );
        self.sweeps.push((name, deleted));
        Ok(())
    }
}

impl fmt::Display for HousekeepingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .sweeps
            .iter()
            .map(|(name, count)| format!("{name}: {count}"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Runs every sweep once, at the application clock's current time.
pub async fn housekeeping(app: &Application) -> anyhow::Result<HousekeepingReport> {
    let now = app.clock.now();
    let mut report = HousekeepingReport::default();
    sweep_accounts(&mut report, app, now).await?;
    sweep_exchange(&mut report, app, now).await?;
    sweep_delivery(&mut report, app, now).await?;
    Ok(report)
}

/// Announcements, Challenges, Devices.
async fn sweep_accounts(
    report: &mut HousekeepingReport,
    app: &Application,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    report
        .record(
            "announcements",
            app.announcements.delete_expired_announcements(now),
        )
        .await?;
    report
        .record(
            "challenges",
            backbone_challenges::housekeeping::delete_expired_challenges(&app.challenges, now),
        )
        .await?;
    let devices = &app.devices;
    report
        .record(
            "cancelled deletion processes",
            devices.delete_cancelled_deletion_processes(now),
        )
        .await?;
    report
        .record(
            "deletion audit log entries",
            devices.delete_expired_deletion_audit_log(now, app.settings.devices.audit_log_retention()),
        )
        .await?;
    Ok(())
}

/// Files, Relationships, Synchronization, Tokens.
async fn sweep_exchange(
    report: &mut HousekeepingReport,
    app: &Application,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    report
        .record("files", app.files.delete_expired_files(now))
        .await?;
    report
        .record("orphaned blobs", async {
            let swept = app
                .files
                .sweep_orphaned_blobs(now - ORPHANED_BLOB_MIN_AGE)
                .await?;
            anyhow::Ok(swept.deleted)
        })
        .await?;
    let relationships = &app.relationships;
    report
        .record(
            "relationship templates",
            relationships.delete_expired_templates(now),
        )
        .await?;
    report
        .record(
            "relationships",
            relationships.delete_relationships_ready_for_deletion(now),
        )
        .await?;
    let synchronization = &app.synchronization;
    report
        .record("sync runs", synchronization.delete_finalized_sync_runs(now))
        .await?;
    report
        .record(
            "datawallet modifications",
            synchronization.delete_superseded_modifications(now),
        )
        .await?;
    report
        .record("tokens", app.tokens.delete_expired_tokens(now))
        .await?;
    Ok(())
}

/// Push and the outbox.
async fn sweep_delivery(
    report: &mut HousekeepingReport,
    app: &Application,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    report
        .record(
            "push deliveries",
            app.push.drop_deliveries_of_deleted_identities(),
        )
        .await?;
    report
        .record(
            "outbox events",
            backbone_db::outbox::forget_published_before(&app.db, now - PUBLISHED_EVENT_RETENTION),
        )
        .await?;
    Ok(())
}
