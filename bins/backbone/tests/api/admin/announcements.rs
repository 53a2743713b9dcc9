//! Announcements (admin-and-services §1.3/1.4, §4.7, §4.8; consumer-api-identity §11.1):
//! the Admin API with every validation rule, what identities see in their language, the
//! `NewAnnouncement` push, housekeeping and the identity-deletion step.

use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get};
use crate::helpers::{assert_date, assert_keys, TestApp, TestIdentity};
use crate::on_both_databases;

on_both_databases!(
    announcements_are_created_listed_read_and_deleted,
    bad_announcements_are_refused_without_writing,
    identities_see_theirs_in_their_language,
    non_silent_announcements_are_pushed_to_their_recipients,
    housekeeping_and_identity_deletion_clean_up,
    concurrent_creations_are_all_kept,
);

const ANNOUNCEMENT_KEYS: &[&str] = &[
    "id",
    "createdAt",
    "expiresAt",
    "severity",
    "texts",
    "recipients",
    "actions",
    "iqlQuery",
    "isSilent",
];

fn english_and_german() -> Value {
    json!([
        { "language": "en", "title": "Maintenance", "body": "We are down on Sunday." },
        { "language": "de", "title": "Wartung", "body": "Am Sonntag sind wir offline." },
    ])
}

pub async fn create_announcement(app: &TestApp, body: Value) -> Value {
    let created = admin(app, Method::POST, "/api/v1/Announcements", Some(body)).await;
    created.expect_status(201).result().clone()
}

async fn announcements_are_created_listed_read_and_deleted(app: TestApp) {
    let recipient = app.create_identity().await;
    let expires = (app.clock_now() + Duration::days(7)).to_rfc3339();
    let body = json!({
        "severity": "high",
        "isSilent": true,
        "expiresAt": expires,
        "texts": english_and_german(),
        "actions": [
            { "displayName": { "en": "Read more", "de": "Mehr" }, "link": "https://example.com/a" },
            { "displayName": { "en": "Status" }, "link": "https://example.com/b" },
        ],
        "recipients": [recipient.address, recipient.address],
        "iqlQuery": "#Maintenance",
    });
    let created = create_announcement(&app, body).await;
    assert_keys(&created, ANNOUNCEMENT_KEYS);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ANC") && id.len() == 20, "{id}");
    assert_eq!(created["severity"], "High");
    assert_eq!(created["isSilent"], true);
    assert_eq!(created["iqlQuery"], "#Maintenance");
    assert_eq!(created["recipients"], json!([recipient.address]));
    assert_eq!(
        created["actions"][0]["displayName"],
        json!({ "de": "Mehr", "en": "Read more" })
    );
    assert_eq!(created["actions"][1]["link"], "https://example.com/b");
    assert_date(&created["createdAt"]);
    assert_date(&created["expiresAt"]);
    let texts = created["texts"].as_array().unwrap();
    assert_eq!(texts.len(), 2);
    assert!(texts
        .contains(&json!({ "language": "de", "title": "Wartung", "body": "Am Sonntag sind wir offline." })));

    app.clock.advance(Duration::seconds(1));
    let second = create_announcement(
        &app,
        json!({ "severity": 0, "isSilent": false, "texts": [{ "language": "en", "title": "t", "body": "b" }] }),
    )
    .await;
    assert_eq!(
        (second["severity"].clone(), second["expiresAt"].clone()),
        (json!("Low"), Value::Null)
    );
    assert_eq!(
        (second["recipients"].clone(), second["actions"].clone()),
        (json!([]), json!([]))
    );

    let list = admin_get(&app, "/api/v1/Announcements").await;
    let list = list.expect_status(200).result().as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], created);
    let one = admin_get(&app, &format!("/api/v1/Announcements/{id}")).await;
    assert_eq!(one.expect_status(200).result(), &created);

    admin(&app, Method::DELETE, &format!("/api/v1/Announcements/{id}"), None)
        .await
        .expect_status(204);
    for path in [
        format!("/api/v1/Announcements/{id}"),
        "/api/v1/Announcements/ANCnothing".to_owned(),
        "/api/v1/Announcements/not-an-id".to_owned(),
    ] {
        admin_get(&app, &path)
            .await
            .expect_error(404, "error.platform.recordNotFound");
    }
    admin(&app, Method::DELETE, &format!("/api/v1/Announcements/{id}"), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    for table in [
        "announcement_texts",
        "announcement_actions",
        "announcement_recipients",
    ] {
        let left: i64 = backbone_db::sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE announcement_id = $1"
        ))
        .bind(&id)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    assert_eq!(app.count("announcements").await, 1);
}

fn valid() -> Value {
    json!({ "severity": "Medium", "isSilent": true, "texts": [{ "language": "en", "title": "t", "body": "b" }] })
}

fn with(changes: Value) -> Value {
    let mut body = valid();
    let Value::Object(changes) = changes else {
        panic!("the changes are an object")
    };
    for (key, value) in changes {
        if value.is_null() && key != "iqlQuery" && key != "expiresAt" {
            body.as_object_mut().unwrap().remove(&key);
        } else {
            body[key] = value;
        }
    }
    body
}

fn action(names: Value, link: &str) -> Value {
    let mut action = json!({ "link": link });
    action["displayName"] = names;
    Value::Array(vec![action])
}

fn addresses(count: u8) -> Vec<String> {
    (0..count)
        .map(|i| backbone_core::IdentityAddress::derive(&[i; 32], "localhost").to_string())
        .collect()
}

async fn bad_announcements_are_refused_without_writing(app: TestApp) {
    let invalid = "error.platform.validation.invalidPropertyValue";
    let unparsable = "error.platform.inputCannotBeParsed";
    let past = (app.clock_now() - Duration::minutes(1)).to_rfc3339();
    let cases = [
        (
            with(json!({ "texts": [{ "language": "de", "title": "t", "body": "b" }] })),
            invalid,
        ),
        (with(json!({ "texts": [] })), invalid),
        (
            with(json!({ "texts": [{ "language": "en", "title": "", "body": "b" }] })),
            invalid,
        ),
        (
            with(json!({ "texts": [{ "language": "en", "title": "t", "body": " " }] })),
            invalid,
        ),
        (
            with(
                json!({ "texts": [{ "language": "en", "title": "t", "body": "b" }, { "language": "xx", "title": "t", "body": "b" }] }),
            ),
            invalid,
        ),
        (with(json!({ "recipients": addresses(101) })), invalid),
        (
            with(json!({ "recipients": ["did:e:localhost:dids:nonsense"] })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "de": "Los" }), "https://x") })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "en": "x".repeat(31) }), "https://x") })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "en": "two\nlines" }), "https://x") })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "en": "" }), "https://x") })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "en": "ok" }), "") })),
            invalid,
        ),
        (
            with(json!({ "actions": action(json!({ "en": "ok" }), &"l".repeat(301)) })),
            invalid,
        ),
        (with(json!({ "expiresAt": past })), invalid),
        (
            with(json!({ "isSilent": false, "iqlQuery": "#q" })),
            "error.platform.validation.nonSilentAnnouncementCannotHaveIqlQuery",
        ),
        (
            with(json!({ "iqlQuery": "q".repeat(1001) })),
            "error.platform.validation.invalidIqlQueryLengthForAnnouncement",
        ),
        (
            with(json!({ "iqlQuery": "" })),
            "error.platform.validation.invalidIqlQueryLengthForAnnouncement",
        ),
        (with(json!({ "severity": "Urgent" })), unparsable),
        (with(json!({ "severity": 3 })), unparsable),
        (with(json!({ "severity": null })), unparsable),
        (with(json!({ "isSilent": null })), unparsable),
        (with(json!({ "texts": null })), unparsable),
        (with(json!({ "expiresAt": "soon" })), unparsable),
    ];
    for (body, code) in cases {
        let refused = admin(&app, Method::POST, "/api/v1/Announcements", Some(body.clone())).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
        assert_eq!(refused.error_code(), code, "{body}: {}", refused.text);
    }
    assert_eq!(app.count("announcements").await, 0);
    assert_eq!(app.count("outbox_events").await, 0);
    // The limits themselves are fine: 100 recipients, 30-character names, 300-character links.
    let at_limits = with(json!({
        "recipients": addresses(100),
        "actions": action(json!({ "en": "x".repeat(30) }), &"l".repeat(300)),
        "iqlQuery": "q".repeat(1000),
    }));
    let created = create_announcement(&app, at_limits).await;
    assert_eq!(created["recipients"].as_array().unwrap().len(), 100);
}

async fn own_announcements(app: &TestApp, identity: &TestIdentity, language: &str) -> Vec<Value> {
    let path = format!("/api/v2/Announcements?language={language}");
    let list = app.get(&path, Some(&identity.token)).await;
    list.expect_status(200).result().as_array().unwrap().clone()
}

async fn identities_see_theirs_in_their_language(app: TestApp) {
    let a = app.create_identity().await;
    let b = app.create_identity().await;
    let everybody = create_announcement(
        &app,
        json!({
            "severity": "High",
            "isSilent": false,
            "texts": english_and_german(),
            "actions": [
                { "displayName": { "en": "First", "de": "Erste" }, "link": "https://one" },
                { "displayName": { "en": "Second" }, "link": "https://two" },
            ],
        }),
    )
    .await;
    app.clock.advance(Duration::seconds(1));
    let for_a = create_announcement(
        &app,
        json!({
            "severity": "Low",
            "isSilent": true,
            "iqlQuery": "#A",
            "texts": [{ "language": "en", "title": "Only A", "body": "Just for you." }],
            "recipients": [a.address],
        }),
    )
    .await;

    let german = own_announcements(&app, &a, "de").await;
    assert_eq!(german.len(), 2);
    assert_keys(
        &german[0],
        &[
            "id",
            "createdAt",
            "expiresAt",
            "severity",
            "title",
            "body",
            "actions",
            "iqlQuery",
        ],
    );
    assert_eq!(german[0]["id"], everybody["id"]);
    assert_eq!(
        (german[0]["title"].as_str(), german[0]["body"].as_str()),
        (Some("Wartung"), Some("Am Sonntag sind wir offline."))
    );
    assert_eq!(
        german[0]["actions"],
        json!([
            { "displayName": "Erste", "link": "https://one", "iqlQuery": null },
            { "displayName": "Second", "link": "https://two", "iqlQuery": null },
        ])
    );
    // No German text: English.
    assert_eq!(
        (german[1]["id"].clone(), german[1]["title"].clone()),
        (for_a["id"].clone(), json!("Only A"))
    );
    assert_eq!(german[1]["iqlQuery"], "#A");
    let english = own_announcements(&app, &a, "en").await;
    assert_eq!(english[0]["title"], "Maintenance");
    let french = own_announcements(&app, &a, "fr").await;
    assert_eq!(french[0]["title"], "Maintenance");
    // B does not see the one addressed to A.
    let of_b = own_announcements(&app, &b, "de").await;
    assert_eq!(
        of_b.iter().map(|x| x["id"].clone()).collect::<Vec<_>>(),
        vec![everybody["id"].clone()]
    );

    app.get("/api/v2/Announcements", Some(&a.token))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    app.get("/api/v2/Announcements?language=xx", Some(&a.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let anonymous = app.get("/api/v2/Announcements?language=en", None).await;
    assert_eq!(anonymous.status, 401);
    // Case-insensitive, as every route.
    let lower = app.get("/api/v2/announcements?Language=de", Some(&b.token)).await;
    assert_eq!(lower.expect_status(200).result().as_array().unwrap().len(), 1);
}

async fn register_dummy(app: &TestApp, identity: &TestIdentity, language: &str) {
    app.put(
        "/api/v2/Devices/Self",
        Some(&identity.token),
        json!({ "communicationLanguage": language }),
    )
    .await
    .expect_status(204);
    let handle = format!("dummy-handle-{}", identity.device_id);
    app.put(
        "/api/v2/Devices/Self/PushNotifications",
        Some(&identity.token),
        json!({ "platform": "dummy", "handle": handle, "appId": "any" }),
    )
    .await
    .expect_status(200);
}

/// The queued `NewAnnouncement` deliveries as (identity, title, payload).
async fn announcement_pushes(app: &TestApp) -> Vec<(String, String, Value)> {
    let queued = app.app.push.store.queued().await.unwrap();
    queued
        .into_iter()
        .filter(|d| d.event_name.as_deref() == Some("NewAnnouncement"))
        .map(|d| {
            (
                d.identity_address.to_string(),
                d.text.title,
                d.payload.unwrap_or_default(),
            )
        })
        .collect()
}

async fn non_silent_announcements_are_pushed_to_their_recipients(app: TestApp) {
    let a = app.create_identity().await;
    let b = app.create_identity().await;
    register_dummy(&app, &a, "de").await;
    register_dummy(&app, &b, "it").await;
    app.process_events().await;
    let everybody = create_announcement(
        &app,
        json!({ "severity": "High", "isSilent": false, "texts": english_and_german() }),
    )
    .await;
    app.process_events().await;
    let mut pushes = announcement_pushes(&app).await;
    pushes.sort_by(|x, y| x.0.cmp(&y.0));
    let payload = json!({ "announcementId": everybody["id"] });
    let mut expected = vec![
        (a.address.clone(), "Wartung".to_owned(), payload.clone()),
        (b.address.clone(), "Maintenance".to_owned(), payload),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(pushes, expected);
    // Handled once: relaying again queues nothing more.
    app.process_events().await;
    assert_eq!(announcement_pushes(&app).await.len(), 2);

    let only_b = create_announcement(
        &app,
        json!({ "severity": "Low", "isSilent": false, "texts": english_and_german(), "recipients": [b.address] }),
    )
    .await;
    create_announcement(
        &app,
        json!({ "severity": "Low", "isSilent": true, "texts": english_and_german() }),
    )
    .await;
    app.process_events().await;
    let pushes = announcement_pushes(&app).await;
    assert_eq!(pushes.len(), 3, "{pushes:?}");
    let last = pushes
        .iter()
        .find(|p| p.2 == json!({ "announcementId": only_b["id"] }))
        .unwrap();
    assert_eq!(last.0, b.address);
}

async fn housekeeping_and_identity_deletion_clean_up(app: TestApp) {
    let a = app.create_identity().await;
    let b = app.create_identity().await;
    let soon = (app.clock_now() + Duration::days(1)).to_rfc3339();
    let later = (app.clock_now() + Duration::days(5)).to_rfc3339();
    let expiring = create_announcement(&app, with(json!({ "expiresAt": soon }))).await;
    let lasting = create_announcement(&app, with(json!({ "expiresAt": later }))).await;
    // Listed oldest first.
    app.clock.advance(Duration::milliseconds(10));
    let for_a = create_announcement(&app, with(json!({ "recipients": [a.address] }))).await;
    // Expired ones are still shown until housekeeping removes them 30 days after expiry.
    app.clock.advance(Duration::days(2));
    let b = app.relogin(&b).await;
    assert_eq!(own_announcements(&app, &b, "en").await.len(), 2);
    app.clock.advance(Duration::days(30));
    let (a, b) = (app.relogin(&a).await, app.relogin(&b).await);
    let summary = backbone::jobs::housekeeping(&app.app).await.unwrap();
    assert_eq!(summary.count("announcements"), Some(1), "{summary}");
    let left: Vec<Value> = admin_get(&app, "/api/v1/Announcements")
        .await
        .result()
        .as_array()
        .unwrap()
        .clone();
    let ids: Vec<&Value> = left.iter().map(|x| &x["id"]).collect();
    assert_eq!(ids, [&lasting["id"], &for_a["id"]]);
    assert!(!ids.contains(&&expiring["id"]));

    // A is deleted: it leaves the recipient list, and the announcement does not become one
    // for everybody.
    app.post(
        "/api/v2/Identities/Self/DeletionProcesses",
        Some(&a.token),
        json!({ "lengthOfGracePeriodInDays": 0 }),
    )
    .await
    .expect_status(201);
    app.process_events().await;
    app.clock.advance(Duration::seconds(1));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
    let kept = admin_get(
        &app,
        &format!("/api/v1/Announcements/{}", for_a["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(kept.expect_status(200).result()["recipients"], json!([]));
    let of_b = own_announcements(&app, &b, "en").await;
    assert_eq!(
        of_b.iter().map(|x| &x["id"]).collect::<Vec<_>>(),
        [&lasting["id"]]
    );
    let logs = admin_get(
        &app,
        &format!("/api/v1/Identities/{}/DeletionProcesses/AuditLogs", a.address),
    )
    .await;
    let logs = logs.result().as_array().unwrap().clone();
    assert!(logs
        .iter()
        .any(|e| e["additionalData"] == json!({ "aggregateType": "AnnouncementRecipients" })));
}

async fn concurrent_creations_are_all_kept(app: TestApp) {
    let creations = (0..20).map(|i| {
        let body = with(json!({ "texts": [{ "language": "en", "title": format!("t{i}"), "body": "b" }] }));
        admin(&app, Method::POST, "/api/v1/Announcements", Some(body))
    });
    let answers = join_all(creations).await;
    assert!(
        answers.iter().all(|a| a.status == 201),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("announcements").await, 20);
    assert_eq!(app.count("announcement_texts").await, 20);
    assert_eq!(app.count("outbox_events").await, 20);
}
