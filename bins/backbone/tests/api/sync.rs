//! Spec consumer-api-identity §10: sync runs (S1–S6), external events and the datawallet (W1–W3).

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_date, assert_keys, TestApp, TestIdentity, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    datawallet_version_upgrade_creates_the_datawallet,
    starting_a_run_checks_header_datawallet_and_identity_status,
    external_events_are_delivered_and_results_recorded,
    only_one_sync_run_at_a_time_and_expired_runs_are_cancelled,
    runs_belong_to_the_device_that_started_them,
    events_are_given_up_after_three_errors,
    datawallet_modifications_are_pushed_and_read_back,
    datawallet_rules_refuse_bad_pushes_without_writing,
    datawallet_versions_only_go_up,
);

fn modification(object: &str, kind: &str, category: Option<&str>) -> Value {
    json!({
        "type": kind,
        "objectIdentifier": object,
        "collection": "Attributes",
        "payloadCategory": category,
        "encryptedPayload": "AQID",
        "datawalletVersion": 1,
    })
}

async fn start_run(app: &TestApp, identity: &TestIdentity) -> crate::helpers::Response {
    app.sync_request(
        Method::POST,
        "/api/v2/SyncRuns",
        &identity.token,
        Some(json!({ "type": "ExternalEventSync" })),
    )
    .await
}

async fn finalize(
    app: &TestApp,
    identity: &TestIdentity,
    run: &str,
    body: Value,
) -> crate::helpers::Response {
    let path = format!("/api/v2/SyncRuns/{run}/FinalizeExternalEventSync");
    app.sync_request(Method::PUT, &path, &identity.token, Some(body))
        .await
}

async fn datawallet_version_upgrade_creates_the_datawallet(app: TestApp) {
    let identity = app.create_identity().await;
    app.sync_request(Method::GET, "/api/v2/Datawallet", &identity.token, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let start = app
        .sync_request(
            Method::POST,
            "/api/v2/SyncRuns",
            &identity.token,
            Some(json!({ "type": "DatawalletVersionUpgrade" })),
        )
        .await;
    start.expect_status(201);
    assert_eq!(start.result()["status"], "Created");
    let run = &start.result()["syncRun"];
    assert_keys(
        run,
        &[
            "id",
            "type",
            "expiresAt",
            "index",
            "createdAt",
            "createdBy",
            "createdByDevice",
            "eventCount",
        ],
    );
    assert_eq!(run["type"], "DatawalletVersionUpgrade");
    assert_eq!(run["index"], 0);
    assert_eq!(run["eventCount"], 0);
    assert_eq!(run["createdBy"], identity.address.as_str());
    assert_eq!(run["createdByDevice"], identity.device_id.as_str());
    assert_date(&run["expiresAt"]);
    let id = run["id"].as_str().unwrap();

    let read = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{id}"),
            &identity.token,
            None,
        )
        .await;
    assert_eq!(read.result(), run);

    let path = format!("/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade");
    app.sync_request(
        Method::PUT,
        &path,
        &identity.token,
        Some(json!({ "newDatawalletVersion": 0 })),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let body =
        json!({ "newDatawalletVersion": 1, "datawalletModifications": [modification("a", "Create", None)] });
    let finalized = app
        .sync_request(Method::PUT, &path, &identity.token, Some(body.clone()))
        .await;
    finalized.expect_status(200);
    assert_keys(
        finalized.result(),
        &["newDatawalletModificationIndex", "datawalletModifications"],
    );
    assert_eq!(finalized.result()["newDatawalletModificationIndex"], 0);
    assert_keys(
        &finalized.result()["datawalletModifications"][0],
        &["id", "index", "createdAt"],
    );
    app.sync_request(Method::PUT, &path, &identity.token, Some(body))
        .await
        .expect_error(400, "error.platform.validation.syncRun.syncRunAlreadyFinalized");

    let datawallet = app
        .sync_request(Method::GET, "/api/v2/Datawallet", &identity.token, None)
        .await;
    assert_eq!(datawallet.body, json!({ "result": { "version": 1 } }));
}

async fn starting_a_run_checks_header_datawallet_and_identity_status(app: TestApp) {
    let identity = app.create_identity().await;
    let without_header = app
        .post(
            "/api/v2/SyncRuns",
            Some(&identity.token),
            json!({ "type": "DatawalletVersionUpgrade" }),
        )
        .await;
    without_header.expect_error(400, "error.platform.validation.invalidPropertyValue");
    start_run(&app, &identity)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.create_datawallet(&identity).await;

    // No events: 200 without a run, and nothing is created.
    let none = start_run(&app, &identity).await;
    none.expect_status(200);
    assert_eq!(
        none.body,
        json!({ "result": { "status": "NoNewEvents", "syncRun": null } })
    );
    assert_eq!(app.count("sync_runs").await, 1);

    // An empty body means an external event sync.
    let empty = app
        .raw(
            app.http
                .post(format!("{}/api/v2/SyncRuns", app.base))
                .bearer_auth(&identity.token)
                .header("x-supported-datawallet-version", "1"),
        )
        .await;
    assert_eq!(empty.result()["status"], "NoNewEvents");

    app.sync_request(
        Method::POST,
        "/api/v2/SyncRuns",
        &identity.token,
        Some(json!({ "type": "Sideways" })),
    )
    .await
    .expect_error(400, "error.platform.inputCannotBeParsed");

    backbone_db::sqlx::query("UPDATE identities SET status = 'ToBeDeleted'")
        .execute(app.app.db.writer())
        .await
        .unwrap();
    start_run(&app, &identity).await.expect_error(
        400,
        "error.platform.validation.syncRun.cannotStartSyncRunWhileIdentityIsToBeDeleted",
    );
}

#[expect(
    clippy::too_many_lines,
    reason = "one sync run's life, step by step; each step starts from the state the previous one left"
)]
async fn external_events_are_delivered_and_results_recorded(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let ok = app
        .add_external_event(&identity.address, "RelationshipStatusChanged")
        .await;
    let failed = app
        .add_external_event(&identity.address, "RelationshipStatusChanged")
        .await;
    let forgotten = app.add_external_event(&identity.address, "PeerDeleted").await;

    let start = start_run(&app, &identity).await;
    start.expect_status(201);
    let run = start.result()["syncRun"].clone();
    assert_eq!(run["eventCount"], 3);
    assert_eq!(run["index"], 1, "the upgrade run was index 0");
    let id = run["id"].as_str().unwrap();

    let events = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{id}/ExternalEvents"),
            &identity.token,
            None,
        )
        .await;
    events.expect_status(200);
    let list = events.result().as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_keys(
        &list[0],
        &["id", "type", "index", "createdAt", "syncErrorCount", "payload"],
    );
    assert_eq!(list[0]["id"], ok.as_str());
    assert_eq!(list[0]["index"], 0);
    assert_eq!(list[2]["index"], 2);
    assert_eq!(
        list[0]["payload"],
        json!({ "relationshipId": "RELaaaaaaaaaaaaaaaaa" })
    );

    let body = json!({
        "externalEventResults": [
            { "externalEventId": ok, "errorCode": null },
            { "externalEventId": failed, "errorCode": "error.transport.unknown" },
            { "externalEventId": "SYIthisisnotinthisru" },
        ],
        "datawalletModifications": [modification("obj", "Update", Some("Content"))],
    });
    let finalized = finalize(&app, &identity, id, body).await;
    finalized.expect_status(200);
    assert_keys(
        finalized.result(),
        &[
            "newDatawalletModificationIndex",
            "datawalletModifications",
            "newUnsyncedExternalEventsExist",
        ],
    );
    assert_eq!(finalized.result()["newDatawalletModificationIndex"], 0);
    // Both remaining events already failed once, so they do not count as new.
    assert_eq!(finalized.result()["newUnsyncedExternalEventsExist"], false);
    let errors: Vec<(String, String)> = backbone_db::sqlx::query_as(
        "SELECT external_event_id, error_code FROM sync_errors ORDER BY error_code",
    )
    .fetch_all(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        errors,
        [
            (failed.clone(), "error.transport.unknown".into()),
            (forgotten.clone(), "notProcessed".into())
        ]
    );

    // A new event arrives: now there is something new; the next run brings all undelivered events.
    app.add_external_event(&identity.address, "MessageReceived").await;
    let next = start_run(&app, &identity).await;
    let next_id = next.result()["syncRun"]["id"].as_str().unwrap().to_owned();
    assert_eq!(next.result()["syncRun"]["eventCount"], 3);
    let events = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{next_id}/ExternalEvents"),
            &identity.token,
            None,
        )
        .await;
    let ids: Vec<&str> = events
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(&ids[..2], [failed.as_str(), forgotten.as_str()]);
    assert_eq!(events.result()[0]["syncErrorCount"], 1);

    finalize(
        &app,
        &identity,
        &next_id,
        json!({ "externalEventResults": [{ "externalEventId": "not-an-id" }] }),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let upgrade_path = format!("/api/v2/SyncRuns/{next_id}/FinalizeDatawalletVersionUpgrade");
    app.sync_request(
        Method::PUT,
        &upgrade_path,
        &identity.token,
        Some(json!({ "newDatawalletVersion": 1 })),
    )
    .await
    .expect_error(400, "error.platform.validation.syncRun.unexpectedSyncRunType");
}

async fn only_one_sync_run_at_a_time_and_expired_runs_are_cancelled(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let event = app.add_external_event(&identity.address, "PeerDeleted").await;
    let first = start_run(&app, &identity).await.result()["syncRun"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = start_run(&app, &identity).await;
    second.expect_error(
        400,
        "error.platform.validation.syncRun.cannotStartSyncRunWhenAnotherSyncRunIsRunning",
    );
    assert!(second.body["error"]["message"].as_str().unwrap().contains(&first));

    // Refreshing extends the run by ten seconds from now.
    app.clock.advance(Duration::seconds(5));
    let refreshed = app
        .sync_request(
            Method::PUT,
            &format!("/api/v2/SyncRuns/{first}/RefreshExpirationTime"),
            &identity.token,
            None,
        )
        .await;
    refreshed.expect_status(200);
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(refreshed.result()["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires_at.timestamp_millis(),
        (app.clock_now() + Duration::seconds(10)).timestamp_millis()
    );

    // Once expired, a new start cancels the old run and hands its events out again.
    app.clock.advance(Duration::seconds(11));
    let token = app.token(&identity.username, PASSWORD).await;
    let identity = TestIdentity { token, ..identity };
    let third = start_run(&app, &identity).await;
    third.expect_status(201);
    let third_id = third.result()["syncRun"]["id"].as_str().unwrap();
    let events = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{third_id}/ExternalEvents"),
            &identity.token,
            None,
        )
        .await;
    assert_eq!(events.result()[0]["id"], event.as_str());
    assert_eq!(events.result()[0]["syncErrorCount"], 1);
    let code: String = backbone_db::sqlx::query_scalar("SELECT error_code FROM sync_errors")
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
    assert_eq!(code, "syncRunCanceled");
    app.sync_request(
        Method::GET,
        &format!("/api/v2/SyncRuns/{first}/ExternalEvents"),
        &identity.token,
        None,
    )
    .await
    .expect_error(400, "error.platform.validation.syncRun.syncRunAlreadyFinalized");
}

async fn runs_belong_to_the_device_that_started_them(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    app.add_external_event(&identity.address, "PeerDeleted").await;
    let run = start_run(&app, &identity).await.result()["syncRun"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = app.register_device(&identity, false).await.result().clone();
    let other_token = app.token(device["username"].as_str().unwrap(), PASSWORD).await;

    // Any device of the identity may read the run …
    app.sync_request(
        Method::GET,
        &format!("/api/v2/SyncRuns/{run}"),
        &other_token,
        None,
    )
    .await
    .expect_status(200);
    // … but only the starting device may work with it.
    app.sync_request(
        Method::GET,
        &format!("/api/v2/SyncRuns/{run}/ExternalEvents"),
        &other_token,
        None,
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.syncRun.cannotReadExternalEventsOfASyncRunStartedByAnotherDevice",
    );
    app.sync_request(
        Method::PUT,
        &format!("/api/v2/SyncRuns/{run}/RefreshExpirationTime"),
        &other_token,
        None,
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.syncRun.cannotRefreshExpirationTimeOfSyncRunStartedByAnotherDevice",
    );
    let other = TestIdentity {
        token: other_token,
        ..identity.clone()
    };
    finalize(&app, &other, &run, json!({})).await.expect_error(
        400,
        "error.platform.validation.syncRun.cannotFinalizeSyncRunStartedByAnotherDevice",
    );

    // Other identities do not see it at all.
    let stranger = app.create_identity().await;
    app.sync_request(
        Method::GET,
        &format!("/api/v2/SyncRuns/{run}"),
        &stranger.token,
        None,
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    app.sync_request(
        Method::GET,
        "/api/v2/SyncRuns/not-a-run-id",
        &stranger.token,
        None,
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    finalize(&app, &identity, &run, json!({}))
        .await
        .expect_status(200);
}

async fn events_are_given_up_after_three_errors(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    app.add_external_event(&identity.address, "TokenLocked").await;
    for _ in 0..3 {
        let run = start_run(&app, &identity).await;
        let id = run.expect_status(201).result()["syncRun"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        finalize(&app, &identity, &id, json!({})).await.expect_status(200);
    }
    assert_eq!(start_run(&app, &identity).await.result()["status"], "NoNewEvents");
}

async fn datawallet_modifications_are_pushed_and_read_back(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let path = "/api/v2/Datawallet/Modifications";
    let body = json!({
        "localIndex": -1,
        "modifications": [
            modification("a", "Create", Some("Content")),
            modification("a", "Update", Some("Content")),
            modification("a", "Update", Some("Content")),
            modification("a", "Update", None),
            modification("b", "Create", None),
        ],
    });
    let pushed = app
        .sync_request(Method::POST, path, &identity.token, Some(body))
        .await;
    pushed.expect_status(201);
    assert_keys(pushed.result(), &["newIndex", "modifications"]);
    assert_eq!(pushed.result()["newIndex"], 4);
    let indices: Vec<i64> = pushed.result()["modifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_i64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1, 2, 3, 4]);

    let read = app.sync_request(Method::GET, path, &identity.token, None).await;
    read.expect_status(200);
    let items = read.result().as_array().unwrap();
    // The first Update of "a"/Content is superseded by the second.
    let indices: Vec<i64> = items.iter().map(|m| m["index"].as_i64().unwrap()).collect();
    assert_eq!(indices, [0, 2, 3, 4]);
    assert_keys(
        &items[0],
        &[
            "id",
            "datawalletVersion",
            "index",
            "objectIdentifier",
            "payloadCategory",
            "createdAt",
            "createdByDevice",
            "collection",
            "type",
            "encryptedPayload",
        ],
    );
    assert_eq!(items[0]["encryptedPayload"], "AQID");
    assert_eq!(items[0]["createdByDevice"], identity.device_id.as_str());
    assert!(items[2]["payloadCategory"].is_null());

    let after = app
        .sync_request(
            Method::GET,
            &format!("{path}?localIndex=2"),
            &identity.token,
            None,
        )
        .await;
    let indices: Vec<i64> = after
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_i64().unwrap())
        .collect();
    assert_eq!(indices, [3, 4]);
    let paged = app
        .sync_request(Method::GET, &format!("{path}?pageSize=3"), &identity.token, None)
        .await;
    assert_eq!(paged.body["pagination"]["totalRecords"], 4);

    let next = json!({ "localIndex": 4, "modifications": [modification("c", "Delete", None)] });
    let pushed = app
        .sync_request(Method::POST, path, &identity.token, Some(next))
        .await;
    assert_eq!(pushed.result()["newIndex"], 5);
    let events: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'DatawalletModified'",
    )
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        events, 2,
        "one event per push; the version upgrade pushed nothing"
    );
}

async fn datawallet_rules_refuse_bad_pushes_without_writing(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v2/Datawallet/Modifications";
    let push = |body: Value| app.sync_request(Method::POST, path, &identity.token, Some(body));
    let one =
        |local: i64| json!({ "localIndex": local, "modifications": [modification("a", "Create", None)] });
    push(one(-1))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.create_datawallet(&identity).await;
    push(one(-1)).await.expect_status(201);

    push(one(-1))
        .await
        .expect_error(400, "error.platform.validation.datawallet.datawalletNotUpToDate");
    push(json!({ "localIndex": 0, "modifications": [] }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let mut too_long = modification(&"x".repeat(101), "Create", None);
    push(json!({ "localIndex": 0, "modifications": [too_long.clone()] }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    too_long["objectIdentifier"] = json!("ok");
    too_long["datawalletVersion"] = json!(2);
    push(json!({ "localIndex": 0, "modifications": [too_long] }))
        .await
        .expect_error(
            400,
            "error.platform.datawallet.datawalletVersionOfModificationTooHigh",
        );
    push(json!({ "localIndex": 0, "modifications": [modification("a", "Rename", None)] }))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let without_header = app.post(path, Some(&identity.token), one(0)).await;
    without_header.expect_error(400, "error.platform.validation.invalidPropertyValue");

    app.add_external_event(&identity.address, "PeerDeleted").await;
    start_run(&app, &identity).await.expect_status(201);
    push(one(0)).await.expect_error(
        400,
        "error.platform.validation.datawallet.cannotPushDatawalletModificationsDuringActiveSyncRun",
    );
    assert_eq!(app.count("datawallet_modifications").await, 1);
}

async fn datawallet_versions_only_go_up(app: TestApp) {
    let identity = app.create_identity().await;
    let upgrade = |version: i64| {
        let token = identity.token.clone();
        let app = &app;
        async move {
            let start = app
                .sync_request(
                    Method::POST,
                    "/api/v2/SyncRuns",
                    &token,
                    Some(json!({ "type": 1 })),
                )
                .await;
            let id = start.expect_status(201).result()["syncRun"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let path = format!("/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade");
            app.sync_request(
                Method::PUT,
                &path,
                &token,
                Some(json!({ "newDatawalletVersion": version })),
            )
            .await
        }
    };
    upgrade(1).await.expect_status(200);
    // The client supports version 1 only, so a version 2 datawallet locks it out of syncing.
    upgrade(2).await.expect_status(200);
    app.sync_request(
        Method::GET,
        "/api/v2/Datawallet/Modifications",
        &identity.token,
        None,
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.datawallet.insufficientSupportedDatawalletVersion",
    );
    let start = app
        .raw(
            app.http
                .post(format!("{}/api/v2/SyncRuns", app.base))
                .bearer_auth(&identity.token)
                .header("x-supported-datawallet-version", "3")
                .json(&json!({ "type": "DatawalletVersionUpgrade" })),
        )
        .await;
    let id = start.expect_status(201).result()["syncRun"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let downgrade = app
        .raw(
            app.http
                .put(format!(
                    "{}/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade",
                    app.base
                ))
                .bearer_auth(&identity.token)
                .header("x-supported-datawallet-version", "3")
                .json(&json!({ "newDatawalletVersion": 1 })),
        )
        .await;
    downgrade.expect_error(400, "error.platform.datawallet.cannotDowngrade");
}

/// Two devices racing: exactly one run starts, and exactly one of two pushes on the same index wins.
#[tokio::test]
async fn concurrent_starts_and_pushes_end_in_one_valid_state() {
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    app.add_external_event(&identity.address, "PeerDeleted").await;
    let (a, b) = tokio::join!(start_run(&app, &identity), start_run(&app, &identity));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400]);
    assert_eq!(app.count("sync_runs").await, 2);
    let run = if a.status == 201 { &a } else { &b };
    let id = run.result()["syncRun"]["id"].as_str().unwrap().to_owned();
    finalize(&app, &identity, &id, json!({})).await.expect_status(200);

    let path = "/api/v2/Datawallet/Modifications";
    let body = json!({ "localIndex": -1, "modifications": [modification("a", "Create", None)] });
    let (a, b) = tokio::join!(
        app.sync_request(Method::POST, path, &identity.token, Some(body.clone())),
        app.sync_request(Method::POST, path, &identity.token, Some(body.clone()))
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400]);
    assert_eq!(app.count("datawallet_modifications").await, 1);
}
