//! Endpoints whose request body is optional upstream take a literal JSON `null` as no body, as
//! ASP.NET binds it (upstream's C# SDK sends `null`); where a body is required, `null` is still
//! refused.

use reqwest::Method;
use serde_json::Value;

use crate::admin::admin;
use crate::helpers::{TestApp, DATAWALLET_VERSION_HEADER};
use crate::on_both_databases;

on_both_databases!(
    starting_a_deletion_process_with_a_null_body,
    starting_a_sync_run_with_a_null_body,
    changing_a_client_secret_with_a_null_body,
    a_required_body_is_not_null,
);

/// Sends the four bytes `null` as an `application/json` body.
async fn null_body(app: &TestApp, method: Method, path: &str, token: &str) -> crate::helpers::Response {
    let request = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header(DATAWALLET_VERSION_HEADER.0, DATAWALLET_VERSION_HEADER.1)
        .body("null");
    app.raw(request).await
}

async fn starting_a_deletion_process_with_a_null_body(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v2/Identities/Self/DeletionProcesses";
    let started = null_body(&app, Method::POST, path, &identity.token).await;
    let process = started.expect_status(201).result().clone();
    assert_eq!(process["status"], "Active");
    // The configured grace period, as with no body at all.
    let ends: chrono::DateTime<chrono::Utc> = process["gracePeriodEndsAt"].as_str().unwrap().parse().unwrap();
    let expected = app.clock_now() + chrono::Duration::days(14);
    assert!((ends - expected).num_seconds().abs() < 1, "{ends} vs {expected}");
}

async fn starting_a_sync_run_with_a_null_body(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    app.add_external_event(&identity.address, "PeerDeleted").await;
    let started = null_body(&app, Method::POST, "/api/v2/SyncRuns", &identity.token).await;
    let run = &started.expect_status(201).result()["syncRun"];
    assert_eq!(run["type"], "ExternalEventSync");
    assert_eq!(run["eventCount"], 1);
}

async fn changing_a_client_secret_with_a_null_body(app: TestApp) {
    let path = "/api/v1/Clients/test/ChangeSecret";
    let changed = admin(&app, Method::PATCH, path, Some(Value::Null)).await;
    let secret = changed.expect_status(200).result()["clientSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    // A generated one, as with no body at all.
    assert_eq!(secret.len(), 30, "{secret}");
    assert_ne!(secret, crate::helpers::CLIENT_SECRET);
}

async fn a_required_body_is_not_null(app: TestApp) {
    let identity = app.create_identity().await;
    null_body(&app, Method::POST, "/api/v2/Relationships", &identity.token)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    null_body(&app, Method::POST, "/api/v2/Tokens", &identity.token)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
}
