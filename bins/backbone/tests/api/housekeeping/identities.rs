//! Devices: cancelled deletion processes and the audit log of deleted identities.

use backbone_devices::deletion::audit;
use chrono::Duration;
use serde_json::json;

use super::{column, run};
use crate::helpers::{Backend, TestApp, TestIdentity};
use crate::on_both_backends;

on_both_backends!(cancelled_processes_and_old_audit_logs_of_deleted_identities_go);

const PROCESSES: &str = "/api/v2/Identities/Self/DeletionProcesses";
const AUDIT_LOG_RETENTION_DAYS: u32 = 100;

async fn start_and_cancel(app: &TestApp, identity: &TestIdentity) -> String {
    let started = app.post(PROCESSES, Some(&identity.token), json!({})).await;
    let id = started.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(
        &format!("{PROCESSES}/{id}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(200);
    id
}

async fn delete(app: &TestApp, identity: &TestIdentity) {
    app.post(
        PROCESSES,
        Some(&identity.token),
        json!({ "lengthOfGracePeriodInDays": 0 }),
    )
    .await
    .expect_status(201);
    app.process_events().await;
    app.clock.advance(Duration::seconds(1));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
}

async fn audit_entries(app: &TestApp, identity: &TestIdentity) -> usize {
    let sql = format!(
        "SELECT id FROM identity_deletion_audit_log WHERE identity_address_hash = '{}'",
        audit::hash(&identity.address)
    );
    column(app, &sql).await.len()
}

async fn processes(app: &TestApp) -> Vec<String> {
    column(app, "SELECT id FROM identity_deletion_processes").await
}

async fn cancelled_processes_and_old_audit_logs_of_deleted_identities_go(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.devices.audit_log_retention_days = AUDIT_LOG_RETENTION_DAYS;
    })
    .await;
    let early = app.create_identity().await;
    let early_process = start_and_cancel(&app, &early).await;
    let early_entries = audit_entries(&app, &early).await;
    assert!(early_entries > 0);
    app.clock.advance(Duration::days(30) + Duration::minutes(1));
    let late = app.create_identity().await;
    let late_process = start_and_cancel(&app, &late).await;
    let late_entries = audit_entries(&app, &late).await;
    let first_deleted = app.create_identity().await;
    delete(&app, &first_deleted).await;
    let first_deleted_entries = audit_entries(&app, &first_deleted).await;
    assert!(first_deleted_entries > 0);

    let report = run(&app).await;
    assert_eq!(report.count("cancelled deletion processes"), Some(1), "{report}");
    assert_eq!(report.count("deletion audit log entries"), Some(0), "{report}");
    assert_eq!(processes(&app).await, [late_process]);
    // The log of the deleted process stays, no longer linked to it.
    assert_eq!(audit_entries(&app, &early).await, early_entries);
    let linked = column(
        &app,
        &format!("SELECT id FROM identity_deletion_audit_log WHERE process_id = '{early_process}'"),
    )
    .await;
    assert!(linked.is_empty(), "{linked:?}");

    app.clock.advance(Duration::days(60));
    let second_deleted = app.create_identity().await;
    delete(&app, &second_deleted).await;
    app.clock.advance(Duration::days(40) + Duration::minutes(1));
    let report = run(&app).await;
    // Only the first deletion's log is past the retention; logs of identities that still
    // exist are never deleted.
    assert_eq!(
        report.count("deletion audit log entries"),
        Some(first_deleted_entries as u64),
        "{report}"
    );
    assert_eq!(report.count("cancelled deletion processes"), Some(1), "{report}");
    assert_eq!(audit_entries(&app, &first_deleted).await, 0);
    assert!(audit_entries(&app, &second_deleted).await > 0);
    assert_eq!(audit_entries(&app, &early).await, early_entries);
    assert_eq!(audit_entries(&app, &late).await, late_entries);
    assert!(processes(&app).await.is_empty());
}
