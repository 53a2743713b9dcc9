//! Background jobs: identity deletion, grace-period reminders and housekeeping. The worker
//! role runs them on the configured schedule; `backbone job run <name>` runs one once.
//!
//! Every job can be run again after a failure and finishes the work: each step is idempotent,
//! and an identity being deleted is leased, so two workers never delete it at the same time.

use backbone_devices::deletion::DeletionJobReport;
use chrono::Duration;

use crate::app::Application;

mod housekeeping;

pub use housekeeping::{housekeeping, HousekeepingReport};

/// How long one worker may hold an identity it is deleting before another may take over.
const DELETION_LEASE_MINUTES: i64 = 30;

/// The names `backbone job run` accepts.
pub const JOBS: &[&str] = &["identity-deletion", "grace-period-reminders", "housekeeping"];

/// Runs one job by name; returns a human-readable summary. Counted in
/// `backbone_job_runs_total{job,result}` (scraped from the worker; a one-off `backbone job run`
/// process ends before any scrape, Kubernetes records those CronJob runs itself).
pub async fn run(app: &Application, name: &str) -> anyhow::Result<String> {
    let result = run_job(app, name).await;
    let outcome = if result.is_ok() { "succeeded" } else { "failed" };
    metrics::counter!("backbone_job_runs_total", "job" => name.to_owned(), "result" => outcome).increment(1);
    result
}

async fn run_job(app: &Application, name: &str) -> anyhow::Result<String> {
    match name {
        "identity-deletion" => {
            let report = delete_identities(app).await?;
            Ok(format!(
                "started: {}, deleted: {}, failed: {}",
                report.started.len(),
                report.deleted.len(),
                report.failed.len()
            ))
        }
        "grace-period-reminders" => {
            let reminders = app.devices.send_grace_period_reminders().await?;
            Ok(format!("reminders sent: {}", reminders.len()))
        }
        "housekeeping" => Ok(housekeeping(app).await?.to_string()),
        other => anyhow::bail!("unknown job {other:?}; jobs: {}", JOBS.join(", ")),
    }
}

/// Starts the deletion of identities whose grace period is over and deletes the data of every
/// identity being deleted ([`backbone_devices::deletion::IdentityDataDeletion`]: module by
/// module, the identity itself last, so a failed run can be resumed from its process).
pub async fn delete_identities(app: &Application) -> anyhow::Result<DeletionJobReport> {
    let (started, deleting) = app.devices.start_due_deletions().await?;
    if !started.is_empty() {
        // Peers are told through the identity's relationships (`IdentityDeleted` → `PeerDeleted`),
        // so those events must be handled before the relationships are anonymised below.
        app.relay.relay_all().await?;
    }
    let mut report = DeletionJobReport {
        started,
        ..Default::default()
    };
    for address in deleting {
        if !app
            .devices
            .claim_for_deletion(&address, Duration::minutes(DELETION_LEASE_MINUTES))
            .await?
        {
            continue;
        }
        match app.identity_deletion.delete(&address).await {
            Ok(()) => report.deleted.push(address),
            Err(error) => {
                let message = format!("{error:#}");
                tracing::error!(identity = %address, error = %message, "identity deletion failed; it is retried next run");
                app.devices.audit_deletion_error(&address, &message).await?;
                app.devices.release_deletion_claim(&address).await?;
                report.failed.push((address, message));
            }
        }
    }
    Ok(report)
}
