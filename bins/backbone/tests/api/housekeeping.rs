//! The housekeeping job (spec admin-and-services §4.7): each sweep deletes what is past its
//! retention and keeps what is not, on both databases. Time moves on the test clock.

use backbone_core::encoding::{encode_bytes, format_date};
use chrono::Duration;
use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::helpers::{standard_base64, TestApp, TestIdentity};
use crate::on_both_databases;
use crate::relationships::request;
use crate::templates::create_template;

mod identities;
mod synchronization;

on_both_databases!(
    challenges_tokens_and_files_go_30_days_after_expiry,
    templates_and_relationships_go_30_days_after_they_are_done,
    queued_pushes_of_deleted_identities_are_dropped,
    overlapping_runs_delete_each_row_once,
);

/// The first column of every row `sql` selects, sorted.
pub async fn column(app: &TestApp, sql: &str) -> Vec<String> {
    let mut values: Vec<String> = backbone_db::sqlx::query_scalar(sql)
        .fetch_all(app.app.db.pool())
        .await
        .unwrap();
    values.sort();
    values
}

pub async fn run(app: &TestApp) -> backbone::jobs::HousekeepingReport {
    backbone::jobs::housekeeping(&app.app)
        .await
        .expect("housekeeping runs")
}

fn in_an_hour(app: &TestApp) -> String {
    format_date(&(app.clock_now() + Duration::hours(1)))
}

async fn create_token(app: &TestApp, owner: &TestIdentity) -> String {
    let body = json!({ "content": standard_base64(b"token"), "expiresAt": in_an_hour(app) });
    app.post("/api/v2/Tokens", Some(&owner.token), body)
        .await
        .expect_status(201)
        .result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn upload_file(app: &TestApp, owner: &TestIdentity) -> String {
    let form = Form::new()
        .part("content", Part::bytes(b"cipher".to_vec()).file_name("cipher.bin"))
        .text("cipherHash", encode_bytes(b"hash"))
        .text("owner", owner.address.clone())
        .text("ownerSignature", standard_base64(b"signature"))
        .text("expiresAt", in_an_hour(app))
        .text("encryptedProperties", standard_base64(b"properties"));
    let request = app
        .http
        .post(format!("{}/api/v2/Files", app.base))
        .bearer_auth(&owner.token)
        .multipart(form);
    app.raw(request).await.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn blob_names(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = app
        .app
        .files
        .blobs
        .list()
        .map(|blob| blob.unwrap().name)
        .collect()
        .await;
    names.sort();
    names
}

/// Old ones expired a little more than 30 days ago, young ones a day later.
async fn challenges_tokens_and_files_go_30_days_after_expiry(app: TestApp) {
    let owner = app.create_identity().await;
    let old_challenge = app.challenge(None).await["id"].as_str().unwrap().to_owned();
    let old_token = create_token(&app, &owner).await;
    let old_file = upload_file(&app, &owner).await;
    app.clock.advance(Duration::days(1));
    let owner = app.relogin(&owner).await;
    let young_challenge = app.challenge(None).await["id"].as_str().unwrap().to_owned();
    let young_token = create_token(&app, &owner).await;
    let young_file = upload_file(&app, &owner).await;
    app.clock
        .advance(Duration::days(29) + Duration::hours(1) + Duration::minutes(1));

    let report = run(&app).await;
    // The challenge the owner's identity was created with is as old as the old one.
    assert_eq!(report.count("challenges"), Some(2), "{report}");
    assert_eq!(report.count("tokens"), Some(1), "{report}");
    assert_eq!(report.count("files"), Some(1), "{report}");
    assert_eq!(column(&app, "SELECT id FROM challenges").await, [young_challenge]);
    assert!(!old_challenge.is_empty());
    assert_eq!(column(&app, "SELECT id FROM tokens").await, [young_token]);
    assert_eq!(
        column(&app, "SELECT id FROM files").await,
        std::slice::from_ref(&young_file)
    );
    assert_eq!(blob_names(&app).await, [young_file]);
    assert!(!old_file.is_empty() && !old_token.is_empty());

    let again = run(&app).await;
    assert!(again.sweeps.iter().all(|(_, count)| *count == 0), "{again}");
}

/// `count` copies of the token `id` (same owner and expiry), written straight to the table.
async fn copy_token(app: &TestApp, id: &str, count: usize) {
    let mut tx = app.app.db.begin_write().await.unwrap();
    for copy in 0..count {
        backbone_db::sqlx::query(
            "INSERT INTO tokens (id, created_by, created_by_device, created_at, expires_at, for_identity, \
             password, content, access_failed_count) SELECT $1, created_by, created_by_device, created_at, \
             expires_at, for_identity, password, content, access_failed_count FROM tokens WHERE id = $2",
        )
        .bind(format!("TOKcopy{copy:013}"))
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Two runs at once (the CronJob and an operator's `backbone job run housekeeping`): both
/// finish, between them they delete every expired row exactly once (2,500 tokens take three
/// batches each), and what has not expired stays.
async fn overlapping_runs_delete_each_row_once(app: TestApp) {
    let owner = app.create_identity().await;
    let old_token = create_token(&app, &owner).await;
    copy_token(&app, &old_token, 2_499).await;
    for _ in 0..3 {
        upload_file(&app, &owner).await;
    }
    app.clock.advance(Duration::days(1));
    let owner = app.relogin(&owner).await;
    let young_token = create_token(&app, &owner).await;
    let young_file = upload_file(&app, &owner).await;
    app.clock
        .advance(Duration::days(29) + Duration::hours(1) + Duration::minutes(1));

    let (first, second) = tokio::join!(run(&app), run(&app));
    let deleted = |sweep: &str| first.count(sweep).unwrap() + second.count(sweep).unwrap();
    assert_eq!(deleted("tokens"), 2_500, "{first} | {second}");
    assert_eq!(deleted("files"), 3, "{first} | {second}");
    assert_eq!(column(&app, "SELECT id FROM tokens").await, [young_token]);
    assert_eq!(
        column(&app, "SELECT id FROM files").await,
        std::slice::from_ref(&young_file)
    );
    assert_eq!(blob_names(&app).await, [young_file]);
    let again = run(&app).await;
    assert!(again.sweeps.iter().all(|(_, count)| *count == 0), "{again}");
}

async fn act(app: &TestApp, who: &TestIdentity, id: &str, action: &str) {
    app.put(
        &format!("/api/v2/Relationships/{id}/{action}"),
        Some(&who.token),
        json!({}),
    )
    .await
    .expect_status(200);
}

/// A relationship from a new template of `owner` that both sides decompose.
async fn ready_for_deletion(
    app: &TestApp,
    owner: &TestIdentity,
    requester: &TestIdentity,
    template: &str,
) -> String {
    let id = request(app, requester, template).await;
    act(app, owner, &id, "Accept").await;
    act(app, owner, &id, "Terminate").await;
    act(app, owner, &id, "Decompose").await;
    act(app, requester, &id, "Decompose").await;
    id
}

async fn templates_and_relationships_go_30_days_after_they_are_done(app: TestApp) {
    let (owner, requester) = (app.create_identity().await, app.create_identity().await);
    let expiring = json!({ "expiresAt": in_an_hour(&app) });
    let unused_template = create_template(&app, &owner, expiring.clone()).await;
    let used_template = create_template(&app, &owner, expiring).await;
    let old_relationship = ready_for_deletion(&app, &owner, &requester, &used_template).await;
    app.clock.advance(Duration::days(1));
    let (owner, requester) = (app.relogin(&owner).await, app.relogin(&requester).await);
    let young_template = create_template(&app, &owner, json!({ "expiresAt": in_an_hour(&app) })).await;
    let lasting_template = create_template(&app, &owner, json!({})).await;
    let young_relationship = ready_for_deletion(&app, &owner, &requester, &lasting_template).await;
    app.clock.advance(Duration::days(29) + Duration::hours(2));

    let report = run(&app).await;
    // The used template still had its relationship when templates were swept.
    assert_eq!(report.count("relationship templates"), Some(1), "{report}");
    assert_eq!(report.count("relationships"), Some(1), "{report}");
    let mut templates = vec![used_template.clone(), young_template, lasting_template];
    templates.sort();
    assert_eq!(
        column(&app, "SELECT id FROM relationship_templates").await,
        templates
    );
    assert!(!templates.contains(&unused_template));
    assert_eq!(
        column(&app, "SELECT id FROM relationships").await,
        std::slice::from_ref(&young_relationship)
    );
    let audited = column(
        &app,
        "SELECT DISTINCT relationship_id FROM relationship_audit_log",
    )
    .await;
    assert_eq!(audited, [young_relationship]);
    assert!(!old_relationship.is_empty());

    let second = run(&app).await;
    assert_eq!(second.count("relationship templates"), Some(1), "{second}");
    assert!(!column(&app, "SELECT id FROM relationship_templates")
        .await
        .contains(&used_template));
}

async fn queued_pushes_of_deleted_identities_are_dropped(app: TestApp) {
    let (leaving, staying) = (app.create_identity().await, app.create_identity().await);
    for identity in [&leaving, &staying] {
        let body = json!({ "platform": "dummy", "handle": "dummy-handle", "appId": "any" });
        app.put(
            "/api/v2/Devices/Self/PushNotifications",
            Some(&identity.token),
            body,
        )
        .await
        .expect_status(200);
    }
    app.post(
        "/api/v2/Identities/Self/DeletionProcesses",
        Some(&leaving.token),
        json!({ "lengthOfGracePeriodInDays": 0 }),
    )
    .await
    .expect_status(201);
    app.process_events().await;
    app.clock.advance(Duration::seconds(1));
    let deleted = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(deleted.deleted.len(), 1, "{deleted:?}");
    app.process_events().await;
    let staying_address = backbone_core::IdentityAddress::parse(&staying.address).unwrap();
    app.app
        .push
        .send_to_identity(
            &staying_address,
            &backbone_push::PushNotification::DeletionProcessStarted,
        )
        .await
        .unwrap();
    let queued_for = |address: &str| {
        let address = address.to_owned();
        let app = &app;
        async move {
            let queued = app.app.push.store.queued().await.unwrap();
            queued
                .iter()
                .filter(|d| d.identity_address.as_str() == address)
                .count()
        }
    };
    let leaving_pushes = queued_for(&leaving.address).await;
    assert!(leaving_pushes > 0, "the deletion's own pushes are still queued");

    let report = run(&app).await;
    assert_eq!(
        report.count("push deliveries"),
        Some(leaving_pushes as u64),
        "{report}"
    );
    assert_eq!(queued_for(&leaving.address).await, 0);
    assert_eq!(queued_for(&staying.address).await, 1);
}
