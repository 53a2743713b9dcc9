//! admin-and-services §1.3/1.4, identities: challenges and identity creation by an operator,
//! and deletion processes with their audit logs, which outlive the identity.

use chrono::Duration;
use ed25519_dalek::SigningKey;
use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get};
use crate::helpers::{
    assert_date, assert_keys, public_key, rand_core, sign_challenge, TestApp, CLIENT_ID, PASSWORD,
};
use crate::on_both_databases;

on_both_databases!(
    an_operator_creates_an_identity_with_a_signed_challenge,
    bad_identity_creations_are_refused_without_writing,
    deletion_processes_and_audit_logs_are_shown,
);

async fn admin_challenge(app: &TestApp) -> Value {
    let created = admin(app, Method::POST, "/api/v1/Challenges", None).await;
    created.expect_status(201).result().clone()
}

async fn creation_request(app: &TestApp, key: &SigningKey, client: &str) -> Value {
    let challenge = admin_challenge(app).await;
    json!({
        "clientId": client,
        "identityPublicKey": public_key(key),
        "devicePassword": PASSWORD,
        "deviceCommunicationLanguage": "de",
        "identityVersion": 1,
        "signedChallenge": sign_challenge(key, &challenge, "Identity"),
    })
}

async fn an_operator_creates_an_identity_with_a_signed_challenge(app: TestApp) {
    let challenge = admin_challenge(&app).await;
    assert_keys(&challenge, &["id", "expiresAt", "createdBy", "createdByDevice"]);
    assert!(challenge["id"].as_str().unwrap().starts_with("CHL"));
    assert_eq!(
        (
            challenge["createdBy"].clone(),
            challenge["createdByDevice"].clone()
        ),
        (Value::Null, Value::Null)
    );
    let expires = chrono::DateTime::parse_from_rfc3339(challenge["expiresAt"].as_str().unwrap()).unwrap();
    let lifetime = (expires.with_timezone(&chrono::Utc) - app.clock_now()).num_seconds();
    assert!((599..=600).contains(&lifetime), "{lifetime}");

    let key = SigningKey::generate(&mut rand_core());
    let request = creation_request(&app, &key, CLIENT_ID).await;
    let created = admin(&app, Method::POST, "/api/v1/Identities", Some(request)).await;
    let created = created.expect_status(201).result().clone();
    assert_keys(&created, &["address", "createdAt", "device"]);
    assert_keys(&created["device"], &["id", "username", "createdAt"]);
    assert_date(&created["createdAt"]);
    let address = created["address"].as_str().unwrap();
    assert!(address.starts_with("did:e:localhost:dids:"));
    // The device logs in through the client, whose secret the operator never gave.
    let username = created["device"]["username"].as_str().unwrap();
    app.token(username, PASSWORD).await;
    let details = admin_get(&app, &format!("/api/v1/Identities/{address}")).await;
    let details = details.expect_status(200).result().clone();
    assert_eq!(details["clientId"], CLIENT_ID);
    assert_eq!(details["numberOfDevices"], 1);
    assert_eq!(details["devices"][0]["communicationLanguage"], "de");
    assert_eq!(details["devices"][0]["username"], username);
}

async fn bad_identity_creations_are_refused_without_writing(app: TestApp) {
    let key = SigningKey::generate(&mut rand_core());
    let post = |body: Value| admin(&app, Method::POST, "/api/v1/Identities", Some(body));
    post(creation_request(&app, &key, "unknown-client").await)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let mut forged = creation_request(&app, &key, CLIENT_ID).await;
    let other = SigningKey::generate(&mut rand_core());
    forged["identityPublicKey"] = json!(public_key(&other));
    post(forged)
        .await
        .expect_error(400, "error.platform.validation.device.invalidSignature");
    let mut no_key = creation_request(&app, &key, CLIENT_ID).await;
    no_key.as_object_mut().unwrap().remove("identityPublicKey");
    post(no_key)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let mut bad_language = creation_request(&app, &key, CLIENT_ID).await;
    bad_language["deviceCommunicationLanguage"] = json!("xx");
    post(bad_language).await.expect_error(
        400,
        "error.platform.validation.invalidDeviceCommunicationLanguage",
    );
    // A challenge that expired.
    let stale = creation_request(&app, &key, CLIENT_ID).await;
    app.clock.advance(Duration::minutes(11));
    post(stale)
        .await
        .expect_error(400, "error.platform.validation.device.challengeHasExpired");
    assert_eq!(app.count("identities").await, 0);
    // The client's limit holds for operators too; the same key twice is refused.
    post(creation_request(&app, &key, CLIENT_ID).await)
        .await
        .expect_status(201);
    post(creation_request(&app, &key, CLIENT_ID).await)
        .await
        .expect_error(400, "error.platform.validation.device.addressAlreadyExists");
    backbone_db::sqlx::query("UPDATE oauth_clients SET max_identities = 1")
        .execute(app.app.db.writer())
        .await
        .unwrap();
    let another = SigningKey::generate(&mut rand_core());
    post(creation_request(&app, &another, CLIENT_ID).await)
        .await
        .expect_error(
            400,
            "error.platform.validation.device.clientReachedIdentitiesLimit",
        );
    assert_eq!(app.count("identities").await, 1);
}

const PROCESS_KEYS: &[&str] = &[
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
];

async fn start_process(app: &TestApp, identity: &crate::helpers::TestIdentity, days: u32) -> String {
    let started = app
        .post(
            "/api/v2/Identities/Self/DeletionProcesses",
            Some(&identity.token),
            json!({ "lengthOfGracePeriodInDays": days }),
        )
        .await;
    started.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deletion_processes_and_audit_logs_are_shown(app: TestApp) {
    let identity = app.create_identity().await;
    let base = format!("/api/v1/Identities/{}/DeletionProcesses", identity.address);
    let empty = admin_get(&app, &base).await;
    assert_eq!(empty.expect_status(200).result(), &json!([]));
    let first = start_process(&app, &identity, 14).await;
    app.clock.advance(Duration::seconds(1));
    app.put(
        &format!("/api/v2/Identities/Self/DeletionProcesses/{first}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.clock.advance(Duration::seconds(1));
    let second = start_process(&app, &identity, 0).await;

    let list = admin_get(&app, &base).await;
    let list = list.expect_status(200).result().as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_keys(&list[0], PROCESS_KEYS);
    // Newest first.
    assert_eq!(
        (list[0]["id"].as_str(), list[1]["id"].as_str()),
        (Some(second.as_str()), Some(first.as_str()))
    );
    assert_eq!(
        (list[0]["status"].clone(), list[1]["status"].clone()),
        (json!("Active"), json!("Cancelled"))
    );
    assert_eq!(list[0]["approvedByDevice"], json!(identity.device_id));

    let details = admin_get(&app, &format!("{base}/{first}")).await;
    let details = details.expect_status(200).result().clone();
    let mut keys = PROCESS_KEYS.to_vec();
    keys.push("auditLog");
    assert_keys(&details, &keys);
    let log = details["auditLog"].as_array().unwrap();
    let messages: Vec<&str> = log.iter().map(|e| e["messageKey"].as_str().unwrap()).collect();
    assert_eq!(messages, ["StartedByOwner", "CancelledByOwner"]);
    assert_keys(
        &log[0],
        &[
            "id",
            "createdAt",
            "messageKey",
            "oldStatus",
            "newStatus",
            "additionalData",
        ],
    );
    assert!(log[0]["id"].as_str().unwrap().starts_with("IDA"));
    // A missing status is an empty string, not null.
    assert_eq!(
        (log[0]["oldStatus"].clone(), log[0]["newStatus"].clone()),
        (json!(""), json!("Active"))
    );
    assert_eq!(log[0]["additionalData"], json!({}));

    for missing in [
        format!("{base}/IDP00000000000000000"),
        format!("{base}/not-an-id"),
        "/api/v1/Identities/did:e:localhost:dids:0000000000000000000000/DeletionProcesses".to_owned(),
        "/api/v1/Identities/nonsense/DeletionProcesses".to_owned(),
    ] {
        admin_get(&app, &missing)
            .await
            .expect_error(404, "error.platform.recordNotFound");
    }

    // The deletion job runs; the audit log is still found by the address.
    app.process_events().await;
    app.clock.advance(Duration::seconds(1));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
    admin_get(&app, &base)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let logs = admin_get(&app, &format!("{base}/AuditLogs")).await;
    let logs = logs.expect_status(200).result().as_array().unwrap().clone();
    let keys: Vec<&str> = logs.iter().map(|e| e["messageKey"].as_str().unwrap()).collect();
    // The job's entries share the manual clock's instant, so only the earlier ones have an order.
    assert_eq!(
        &keys[..3],
        ["StartedByOwner", "CancelledByOwner", "StartedByOwner"]
    );
    assert!(
        keys.contains(&"DeletionStarted") && keys.contains(&"DeletionCompleted"),
        "{keys:?}"
    );
    let data_deleted: Vec<&Value> = logs.iter().filter(|e| e["messageKey"] == "DataDeleted").collect();
    assert!(data_deleted
        .iter()
        .any(|e| e["additionalData"] == json!({ "aggregateType": "Tokens" })));
    // The literal segment wins: `AuditLogs` in any case is not a process ID.
    let lower = admin_get(&app, &format!("{base}/auditlogs")).await;
    assert_eq!(
        lower.expect_status(200).result().as_array().unwrap().len(),
        logs.len()
    );
    let unknown = admin_get(&app, "/api/v1/Identities/someone/DeletionProcesses/AuditLogs").await;
    assert_eq!(unknown.expect_status(200).result(), &json!([]));
}

mod parallel_operator_creations_stop_at_the_client_limit {
    use super::*;
    use crate::helpers::Backend;

    /// 12 operator creations at once for a client that may have 5 identities: the limit is
    /// checked under the client row's lock in the creating transaction, so exactly 5 are
    /// created, on a pool of its default size.
    async fn twelve_against_five(app: TestApp) {
        backbone_db::sqlx::query("UPDATE oauth_clients SET max_identities = 5")
            .execute(app.app.db.writer())
            .await
            .unwrap();
        let mut requests = Vec::new();
        for _ in 0..12 {
            let key = SigningKey::generate(&mut rand_core());
            requests.push(creation_request(&app, &key, CLIENT_ID).await);
        }
        let answers = futures::future::join_all(
            requests
                .into_iter()
                .map(|r| admin(&app, Method::POST, "/api/v1/Identities", Some(r))),
        )
        .await;
        let created = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(created, 5);
        for refused in answers.iter().filter(|a| a.status != 201) {
            refused.expect_error(
                400,
                "error.platform.validation.device.clientReachedIdentitiesLimit",
            );
        }
        assert_eq!(app.count("identities").await, 5);
    }

    async fn spawn(backend: Backend) -> TestApp {
        let defaults = backbone::config::Settings::default().database;
        TestApp::spawn_with(backend, |settings| {
            settings.database.max_connections = defaults.max_connections;
        })
        .await
    }

    #[tokio::test]
    async fn sqlite() {
        twelve_against_five(spawn(Backend::Sqlite).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        twelve_against_five(spawn(Backend::Postgres).await).await;
    }
}
