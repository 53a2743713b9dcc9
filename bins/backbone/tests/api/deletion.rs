//! Identity deletion (spec consumer-api-identity §7, admin-and-services §4.8): processes, the
//! events peers receive, the deletion job and what it leaves behind.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_keys, standard_base64, TestApp, TestIdentity, PASSWORD};
use crate::on_both_databases;
use crate::relationships::{external_events_of, request};
use crate::templates::create_template;

on_both_databases!(
    starting_listing_and_cancelling_a_process,
    processes_follow_the_upstream_rules,
    peers_learn_of_deletion_and_its_cancellation,
    the_deletion_job_removes_every_trace_but_the_anonymous_audit_log,
    reminders_are_due_by_days_left,
);

const PROCESSES: &str = "/api/v2/Identities/Self/DeletionProcesses";

async fn start(app: &TestApp, identity: &TestIdentity, body: Value) -> crate::helpers::Response {
    app.post(PROCESSES, Some(&identity.token), body).await
}

async fn related(app: &TestApp) -> (TestIdentity, TestIdentity) {
    let owner = app.create_identity().await;
    let requester = app.create_identity().await;
    let template = create_template(app, &owner, json!({})).await;
    let id = request(app, &requester, &template).await;
    app.put(
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    (owner, requester)
}

async fn starting_listing_and_cancelling_a_process(app: TestApp) {
    let identity = app.create_identity().await;
    let started = start(&app, &identity, json!({})).await;
    started.expect_status(201);
    let process = started.result().clone();
    assert_keys(
        &process,
        &[
            "id",
            "status",
            "createdAt",
            "createdByDevice",
            "approvedAt",
            "approvedByDevice",
            "gracePeriodEndsAt",
            "gracePeriodReminder1SentAt",
            "gracePeriodReminder2SentAt",
            "gracePeriodReminder3SentAt",
        ],
    );
    assert_eq!(process["status"], "Active");
    assert_eq!(process["approvedAt"], process["createdAt"]);
    let ends = chrono::DateTime::parse_from_rfc3339(process["gracePeriodEndsAt"].as_str().unwrap()).unwrap();
    assert_close(
        ends.with_timezone(&chrono::Utc) - app.clock_now(),
        Duration::days(14),
    );

    let me = app.get("/api/v2/Identities/Self", Some(&identity.token)).await;
    assert_eq!(me.result()["status"], "ToBeDeleted");
    assert_eq!(me.result()["tierId"], "TIR00000000000000001");
    assert_eq!(
        me.result()["deletionGracePeriodEndsAt"],
        process["gracePeriodEndsAt"]
    );

    let id = process["id"].as_str().unwrap();
    let list = app.get(PROCESSES, Some(&identity.token)).await;
    assert_eq!(list.result().as_array().unwrap().len(), 1);
    let one = app.get(&format!("{PROCESSES}/{id}"), Some(&identity.token)).await;
    assert_eq!(one.result(), &process);

    let cancelled = app
        .put(
            &format!("{PROCESSES}/{id}/Cancel"),
            Some(&identity.token),
            json!({}),
        )
        .await;
    cancelled.expect_status(200);
    assert_eq!(cancelled.result()["status"], "Cancelled");
    assert!(cancelled.result()["gracePeriodEndsAt"].is_null());
    assert!(cancelled.result()["cancelledAt"].is_string());
    assert_eq!(
        cancelled.result()["cancelledByDevice"],
        identity.device_id.as_str()
    );
    let me = app.get("/api/v2/Identities/Self", Some(&identity.token)).await;
    assert_eq!(me.result()["status"], "Active");
    assert_eq!(me.result()["tierId"], "TIRBasic000000000000");
    assert!(me.result()["deletionGracePeriodEndsAt"].is_null());
    // A new one may start after a cancellation; the grace period may be overridden.
    let again = start(&app, &identity, json!({ "lengthOfGracePeriodInDays": 1 })).await;
    let ends =
        chrono::DateTime::parse_from_rfc3339(again.result()["gracePeriodEndsAt"].as_str().unwrap()).unwrap();
    assert_close(
        ends.with_timezone(&chrono::Utc) - app.clock_now(),
        Duration::days(1),
    );
}

/// Dates on the wire have millisecond precision; the clock has more.
#[track_caller]
fn assert_close(actual: Duration, expected: Duration) {
    assert!(
        (actual - expected).num_milliseconds().abs() <= 1,
        "{actual} vs {expected}"
    );
}

async fn processes_follow_the_upstream_rules(app: TestApp) {
    let identity = app.create_identity().await;
    app.create_datawallet(&identity).await;
    let id = start(&app, &identity, json!({})).await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    start(&app, &identity, json!({})).await.expect_error(
        400,
        "error.platform.validation.device.onlyOneActiveDeletionProcessAllowed",
    );
    app.get(
        &format!("{PROCESSES}/IDPthisisnonexisting"),
        Some(&identity.token),
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    app.get(&format!("{PROCESSES}/not-an-id"), Some(&identity.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let other = app.create_identity().await;
    app.put(&format!("{PROCESSES}/{id}/Cancel"), Some(&other.token), json!({}))
        .await
        .expect_error(404, "error.platform.recordNotFound");

    // While to be deleted, sync runs are refused.
    let sync = app
        .sync_request(
            Method::POST,
            "/api/v2/SyncRuns",
            &identity.token,
            Some(json!({ "type": "ExternalEventSync" })),
        )
        .await;
    sync.expect_error(
        400,
        "error.platform.validation.syncRun.cannotStartSyncRunWhileIdentityIsToBeDeleted",
    );

    // Past the grace period: no cancelling, no login.
    app.clock.advance(Duration::days(15));
    let login = app.login(&identity.username, PASSWORD).await;
    assert_eq!(
        (login.status.as_u16(), login.body["error"].as_str()),
        (400, Some("invalid_grant")),
        "no login after the grace period"
    );
    let cancelled = app
        .put(
            &format!("{PROCESSES}/{id}/Cancel"),
            Some(&identity.token),
            json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 401, "the old token expired meanwhile");
    app.clock.advance(Duration::days(-15));
    let identity = app.relogin(&identity).await;
    app.put(
        &format!("{PROCESSES}/{id}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.put(
        &format!("{PROCESSES}/{id}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.device.deletionProcessIsNotInRequiredStatus",
    );
}

async fn peers_learn_of_deletion_and_its_cancellation(app: TestApp) {
    let (owner, requester) = related(&app).await;
    // Before the deletion starts: a deleting identity can no longer create templates (quotas).
    let template = create_template(&app, &requester, json!({})).await;
    app.process_events().await;
    external_events_of(&app, &owner).await;
    let process = start(&app, &requester, json!({})).await.result().clone();
    app.process_events().await;
    let events = external_events_of(&app, &owner).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "PeerToBeDeleted");
    let deletion_date = events[0]["payload"]["deletionDate"].as_str().unwrap();
    let expected =
        chrono::DateTime::parse_from_rfc3339(process["gracePeriodEndsAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(deletion_date)
            .unwrap()
            .timestamp_millis(),
        expected.timestamp_millis()
    );
    assert!(events[0]["payload"]["relationshipId"]
        .as_str()
        .unwrap()
        .starts_with("REL"));

    // New relationships to an identity to be deleted are refused.
    let newcomer = app.create_identity().await;
    app.post(
        "/api/v2/Relationships",
        Some(&newcomer.token),
        json!({ "relationshipTemplateId": template }),
    )
    .await
    .expect_error(400, "error.platform.validation.relationship.peerIsToBeDeleted");

    let id = process["id"].as_str().unwrap();
    app.put(
        &format!("{PROCESSES}/{id}/Cancel"),
        Some(&requester.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    let events = external_events_of(&app, &owner).await;
    assert_eq!(events[0]["type"], "PeerDeletionCancelled");
    assert_eq!(
        events[0]["payload"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["relationshipId"]
    );
}

/// Every text column of every table, searched for the address (the audit log holds hashes).
async fn tables_mentioning(app: &TestApp, needle: &str) -> Vec<String> {
    let tables = [
        ("identities", "address"),
        ("devices", "identity_address"),
        ("feature_flags", "identity_address"),
        ("identity_deletion_processes", "identity_address"),
        ("challenges", "created_by"),
        ("relationship_templates", "created_by"),
        ("relationship_templates", "for_identity"),
        ("relationship_template_allocations", "allocated_by"),
        ("relationships", "from_address"),
        ("relationships", "to_address"),
        ("relationships", "pair_key"),
        ("relationship_audit_log", "created_by"),
        ("messages", "created_by"),
        ("message_recipients", "address"),
        ("tokens", "created_by"),
        ("tokens", "for_identity"),
        ("token_allocations", "allocated_by"),
        ("files", "created_by"),
        ("files", "owner"),
        ("external_events", "owner"),
        ("sync_runs", "owner"),
        ("datawallets", "owner"),
        ("datawallet_modifications", "created_by"),
        ("identity_deletion_audit_log", "additional_data"),
    ];
    let mut found = Vec::new();
    for (table, column) in tables {
        let count: i64 =
            backbone_db::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE $1"))
                .bind(format!("%{needle}%"))
                .fetch_one(app.app.db.pool())
                .await
                .unwrap();
        if count > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

async fn the_deletion_job_removes_every_trace_but_the_anonymous_audit_log(app: TestApp) {
    let (owner, doomed) = related(&app).await;
    // Data of the identity in every module.
    app.create_datawallet(&doomed).await;
    let template = create_template(&app, &doomed, json!({})).await;
    app.get(
        &format!("/api/v2/RelationshipTemplates/{template}"),
        Some(&owner.token),
    )
    .await
    .expect_status(200);
    let message = json!({
        "recipients": [{ "address": owner.address, "encryptedKey": standard_base64(&[7; 32]) }],
        "body": standard_base64(b"bye"),
    });
    app.post("/api/v2/Messages", Some(&doomed.token), message)
        .await
        .expect_status(201);
    let token = json!({ "content": standard_base64(b"t"), "expiresAt": (app.clock_now() + Duration::days(1)).to_rfc3339() });
    app.post("/api/v2/Tokens", Some(&doomed.token), token)
        .await
        .expect_status(201);
    app.challenge(Some(&doomed.token)).await;
    app.request(
        Method::PATCH,
        "/api/v2/Identities/Self/FeatureFlags",
        Some(&doomed.token),
        Some(json!({ "x": true })),
    )
    .await
    .expect_status(204);
    app.process_events().await;
    external_events_of(&app, &owner).await;

    start(&app, &doomed, json!({ "lengthOfGracePeriodInDays": 0 }))
        .await
        .expect_status(201);
    app.process_events().await;
    app.clock.advance(Duration::seconds(1));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
    app.process_events().await;

    assert_eq!(
        tables_mentioning(&app, &doomed.address).await,
        Vec::<String>::new()
    );
    let audit = app
        .app
        .devices
        .deletion
        .audit_log_of(&backbone_core::IdentityAddress::parse(&doomed.address).unwrap())
        .await
        .unwrap();
    let keys: Vec<&str> = audit.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys.first(), Some(&"StartedByOwner"));
    assert!(keys.contains(&"DeletionStarted"));
    assert!(keys.contains(&"DataDeleted"));
    assert!(keys.contains(&"DeletionCompleted"));
    let aggregates: Vec<&str> = audit.iter().filter_map(|(_, data)| data.as_deref()).collect();
    assert!(
        aggregates.iter().any(|d| d.contains("Relationships"))
            && aggregates.iter().any(|d| d.contains("Identities"))
    );

    // The peer learns it, and sees the relationship decomposed by the deleted side.
    let events = external_events_of(&app, &owner).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"PeerToBeDeleted") && types.contains(&"PeerDeleted"),
        "{types:?}"
    );
    assert!(types.contains(&"RelationshipStatusChanged"), "{types:?}");

    // The deleted identity cannot log in, and IsDeleted says since when.
    assert_eq!(app.login(&doomed.username, PASSWORD).await.status, 400);
    let is_deleted = app
        .get(
            &format!("/api/v2/Identities/IsDeleted?username={}", doomed.username),
            None,
        )
        .await;
    assert_eq!(is_deleted.result()["isDeleted"], true);
    assert!(is_deleted.result()["deletionDate"].is_string());

    // Running the job again finds nothing to do.
    let again = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert!(again.deleted.is_empty() && again.failed.is_empty());
}

async fn reminders_are_due_by_days_left(app: TestApp) {
    let identity = app.create_identity().await;
    start(&app, &identity, json!({})).await.expect_status(201);
    assert!(
        app.app
            .devices
            .send_grace_period_reminders()
            .await
            .unwrap()
            .is_empty(),
        "14 days left"
    );
    app.clock.advance(Duration::days(2));
    let due = app.app.devices.send_grace_period_reminders().await.unwrap();
    assert_eq!((due[0].reminder, due[0].days_until_deletion), (1, 12));
    assert!(
        app.app
            .devices
            .send_grace_period_reminders()
            .await
            .unwrap()
            .is_empty(),
        "sent once"
    );
    app.clock.advance(Duration::days(8));
    let due = app.app.devices.send_grace_period_reminders().await.unwrap();
    assert_eq!(due[0].reminder, 3, "the most urgent one");
    let identity = app.relogin(&identity).await;
    let process = app.get(PROCESSES, Some(&identity.token)).await.result()[0].clone();
    assert!(process["gracePeriodReminder1SentAt"].is_string());
    assert!(process["gracePeriodReminder2SentAt"].is_null());
    assert!(process["gracePeriodReminder3SentAt"].is_string());
}

/// Two workers racing for the same identity: only one deletes it.
#[tokio::test]
async fn two_workers_never_delete_the_same_identity() {
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let identity = app.create_identity().await;
    start(&app, &identity, json!({ "lengthOfGracePeriodInDays": 0 }))
        .await
        .expect_status(201);
    app.clock.advance(Duration::seconds(1));
    let (a, b) = tokio::join!(
        backbone::jobs::delete_identities(&app.app),
        backbone::jobs::delete_identities(&app.app)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.deleted.len() + b.deleted.len(), 1, "{a:?} {b:?}");
    assert_eq!(a.failed.len() + b.failed.len(), 0);
}

/// Four starts of one identity's deletion at once, then two cancels at once, with the pool at
/// its default size: exactly one start and one cancel take effect, the others are refused as
/// the upstream rules say, and one cancelled process is left.
async fn parallel_starts_and_cancels_take_effect_once(backend: crate::helpers::Backend) {
    let defaults = backbone::config::Settings::default().database;
    let app = TestApp::spawn_with(backend, |settings| {
        settings.database.max_connections = defaults.max_connections;
    })
    .await;
    let identity = app.create_identity().await;
    let starts = futures::future::join_all((0..4).map(|_| start(&app, &identity, json!({})))).await;
    let (created, refused): (Vec<_>, Vec<_>) = starts.into_iter().partition(|r| r.status == 201);
    let bodies: Vec<&Value> = refused.iter().map(|r| &r.body).collect();
    assert_eq!(created.len(), 1, "{bodies:?}");
    for response in refused {
        response.expect_error(
            400,
            "error.platform.validation.device.onlyOneActiveDeletionProcessAllowed",
        );
    }
    let id = created[0].result()["id"].as_str().unwrap().to_owned();
    let path = format!("{PROCESSES}/{id}/Cancel");
    let cancel = || app.put(&path, Some(&identity.token), json!({}));
    let (a, b) = tokio::join!(cancel(), cancel());
    let (ok, refused) = if a.status == 200 { (a, b) } else { (b, a) };
    ok.expect_status(200);
    refused.expect_error(
        400,
        "error.platform.validation.device.deletionProcessIsNotInRequiredStatus",
    );
    let processes = app.get(PROCESSES, Some(&identity.token)).await;
    let processes = processes.result().as_array().unwrap().clone();
    assert_eq!(processes.len(), 1);
    assert_eq!(processes[0]["status"], "Cancelled");
}

#[tokio::test]
async fn parallel_starts_and_cancels_take_effect_once_on_sqlite() {
    parallel_starts_and_cancels_take_effect_once(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn parallel_starts_and_cancels_take_effect_once_on_postgres() {
    parallel_starts_and_cancels_take_effect_once(crate::helpers::Backend::Postgres).await;
}
