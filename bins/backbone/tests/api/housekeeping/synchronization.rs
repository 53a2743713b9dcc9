//! Synchronization: finalized sync runs and superseded datawallet modifications.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use super::{column, run};
use crate::helpers::{TestApp, TestIdentity};
use crate::on_both_databases;

on_both_databases!(
    sync_runs_finalized_30_days_ago_go_with_their_errors_and_events,
    superseded_datawallet_modifications_older_than_30_days_go,
);

/// Starts a run and finalizes it, reporting `failed` as failed and every other event as
/// processed; returns the run's ID.
async fn sync(app: &TestApp, identity: &TestIdentity, failed: Option<&str>) -> String {
    let start = app
        .sync_request(
            Method::POST,
            "/api/v2/SyncRuns",
            &identity.token,
            Some(json!({ "type": "ExternalEventSync" })),
        )
        .await;
    let id = start.expect_status(201).result()["syncRun"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{id}/ExternalEvents"),
            &identity.token,
            None,
        )
        .await;
    let results: Vec<Value> = events
        .expect_status(200)
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            let error = (event["id"].as_str() == failed).then_some("error.transport.unknown");
            json!({ "externalEventId": event["id"], "errorCode": error })
        })
        .collect();
    app.sync_request(
        Method::PUT,
        &format!("/api/v2/SyncRuns/{id}/FinalizeExternalEventSync"),
        &identity.token,
        Some(json!({ "externalEventResults": results })),
    )
    .await
    .expect_status(200);
    id
}

async fn sync_runs_finalized_30_days_ago_go_with_their_errors_and_events(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let delivered = app
        .add_external_event(&identity.address, "RelationshipStatusChanged")
        .await;
    let failed = app.add_external_event(&identity.address, "PeerDeleted").await;
    let old_run = sync(&app, &identity, Some(&failed)).await;
    app.clock.advance(Duration::days(1));
    let identity = app.relogin(&identity).await;
    let young_run = sync(&app, &identity, None).await;
    app.clock.advance(Duration::days(29) + Duration::minutes(1));

    let report = run(&app).await;
    // The datawallet upgrade run and the old run.
    assert_eq!(report.count("sync runs"), Some(2), "{report}");
    assert_eq!(column(&app, "SELECT id FROM sync_runs").await, [young_run]);
    assert!(column(&app, "SELECT id FROM sync_errors").await.is_empty());
    // What the old run delivered went with it; the event that failed there and was
    // delivered later stays with the young run.
    assert_eq!(column(&app, "SELECT id FROM external_events").await, [failed]);
    assert!(!delivered.is_empty());

    let identity = app.relogin(&identity).await;
    app.sync_request(
        Method::GET,
        &format!("/api/v2/SyncRuns/{old_run}"),
        &identity.token,
        None,
    )
    .await
    .expect_status(404);
    // Nothing comes back to be delivered again.
    let next = app
        .sync_request(
            Method::POST,
            "/api/v2/SyncRuns",
            &identity.token,
            Some(json!({ "type": "ExternalEventSync" })),
        )
        .await;
    assert_eq!(next.result()["status"], "NoNewEvents", "{}", next.text);
}

fn modification(object: &str, collection: &str, kind: &str, category: Option<&str>) -> Value {
    json!({
        "type": kind,
        "objectIdentifier": object,
        "collection": collection,
        "payloadCategory": category,
        "encryptedPayload": "AQID",
        "datawalletVersion": 1,
    })
}

async fn push(app: &TestApp, identity: &TestIdentity, local_index: i64, modifications: Vec<Value>) {
    let body = json!({ "localIndex": local_index, "modifications": modifications });
    app.sync_request(
        Method::POST,
        "/api/v2/Datawallet/Modifications",
        &identity.token,
        Some(body),
    )
    .await
    .expect_status(201);
}

async fn indices(app: &TestApp) -> Vec<i64> {
    let mut indices: Vec<i64> =
        backbone_db::sqlx::query_scalar("SELECT modification_index FROM datawallet_modifications")
            .fetch_all(app.app.db.pool())
            .await
            .unwrap();
    indices.sort_unstable();
    indices
}

async fn superseded_datawallet_modifications_older_than_30_days_go(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let old = vec![
        modification("a", "Attributes", "Create", Some("Content")), // 0: updated by 1
        modification("a", "Attributes", "Update", Some("Content")), // 1: updated by 8 (young)
        modification("b", "Attributes", "Create", None),            // 2: deleted by 3
        modification("b", "Attributes", "Delete", None),            // 3: newest of b
        modification("c", "Attributes", "Create", Some("Content")), // 4: other category in 5
        modification("c", "Attributes", "Update", Some("Metadata")), // 5
        modification("d", "Attributes", "Create", None),            // 6: other collection in 7
        modification("d", "Relationships", "Delete", None),         // 7
    ];
    push(&app, &identity, -1, old).await;
    app.clock.advance(Duration::days(1));
    let identity = app.relogin(&identity).await;
    let young = vec![
        modification("a", "Attributes", "Update", Some("Content")), // 8
        modification("e", "Attributes", "Create", None),            // 9: updated by 10, too young
        modification("e", "Attributes", "Update", None),            // 10
    ];
    push(&app, &identity, 7, young).await;
    app.clock.advance(Duration::days(29) + Duration::minutes(1));

    let report = run(&app).await;
    assert_eq!(report.count("datawallet modifications"), Some(3), "{report}");
    assert_eq!(indices(&app).await, [3, 4, 5, 6, 7, 8, 9, 10]);
}
