//! admin-and-services §1.3/1.4, clients: one client (`defaultTier` as an ID), its update with
//! the identity-limit rule, its new secret, deletion, and secrets hashed by upstream's
//! OpenIddict (PBKDF2), which still log in.

use base64::Engine;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get};
use crate::helpers::{assert_date, assert_keys, TestApp, CLIENT_ID, CLIENT_SECRET, PASSWORD};
use crate::on_both_databases;
use crate::quotas::{create_tier, QUEUED_FOR_DELETION};

on_both_databases!(
    a_client_is_read_with_its_tier_id_and_identity_count,
    updates_follow_the_tier_and_limit_rules,
    a_new_secret_replaces_the_old_one,
    clients_are_deleted_once,
    secrets_in_openiddict_format_log_in,
    a_limit_set_during_identity_creation_holds,
);

async fn tier_id(app: &TestApp, name: &str) -> String {
    let tiers = admin_get(app, "/api/v1/Tiers").await;
    let tiers = tiers.expect_status(200).result().as_array().unwrap().clone();
    let tier = tiers.iter().find(|t| t["name"] == name).unwrap();
    tier["id"].as_str().unwrap().to_owned()
}

async fn a_client_is_read_with_its_tier_id_and_identity_count(app: TestApp) {
    app.create_identity().await;
    let client = admin_get(&app, "/api/v1/Clients/test").await;
    let client = client.expect_status(200).result().clone();
    assert_keys(
        &client,
        &[
            "clientId",
            "displayName",
            "defaultTier",
            "createdAt",
            "numberOfIdentities",
            "maxIdentities",
        ],
    );
    assert_eq!(client["defaultTier"], json!(tier_id(&app, "Basic").await));
    assert_eq!(
        (
            client["numberOfIdentities"].clone(),
            client["maxIdentities"].clone()
        ),
        (json!(1), Value::Null)
    );
    assert_date(&client["createdAt"]);
    admin_get(&app, "/api/v1/Clients/unknown")
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

async fn updates_follow_the_tier_and_limit_rules(app: TestApp) {
    app.create_identity().await;
    app.create_identity().await;
    let gold = create_tier(&app, "Gold").await;
    let put = |body: Value| admin(&app, Method::PUT, "/api/v1/Clients/test", Some(body));
    let updated = put(json!({ "defaultTier": gold, "maxIdentities": 2 })).await;
    let updated = updated.expect_status(200).result().clone();
    assert_keys(
        &updated,
        &[
            "clientId",
            "displayName",
            "defaultTier",
            "createdAt",
            "numberOfIdentities",
            "maxIdentities",
        ],
    );
    assert_eq!(
        (updated["defaultTier"].clone(), updated["maxIdentities"].clone()),
        (json!(gold), json!(2))
    );
    // New identities get the new default tier, and the limit of 2 is reached.
    let refused = app
        .post("/api/v2/Identities", None, app.identity_request(&new_key()).await)
        .await;
    refused.expect_error(
        400,
        "error.platform.validation.device.clientReachedIdentitiesLimit",
    );
    // Bad updates change nothing.
    let below = put(json!({ "defaultTier": gold, "maxIdentities": 1 })).await;
    below.expect_error(
        400,
        "error.platform.validation.device.maxIdentitiesLessThanCurrentIdentities",
    );
    for tier in ["Basic", "TIRdoesNotExist12345", QUEUED_FOR_DELETION, "not an id"] {
        let wrong = put(json!({ "defaultTier": tier, "maxIdentities": null })).await;
        wrong.expect_error(
            400,
            "error.platform.validation.device.tierIdInvalidOrDoesNotExist",
        );
    }
    put(json!({ "defaultTier": gold }))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    put(json!({ "defaultTier": gold, "maxIdentities": -1 }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let unchanged = admin_get(&app, "/api/v1/Clients/test").await;
    assert_eq!(unchanged.result()["maxIdentities"], json!(2));
    let unknown = admin(
        &app,
        Method::PUT,
        "/api/v1/Clients/unknown",
        Some(json!({ "defaultTier": gold, "maxIdentities": null })),
    )
    .await;
    unknown.expect_error(404, "error.platform.recordNotFound");
    // null lifts the limit.
    let unlimited = put(json!({ "defaultTier": gold, "maxIdentities": null })).await;
    assert_eq!(
        unlimited.expect_status(200).result()["maxIdentities"],
        Value::Null
    );
    let created = app.create_identity().await;
    let details = admin_get(&app, &format!("/api/v1/Identities/{}", created.address)).await;
    assert_eq!(details.result()["tierId"], json!(gold));
}

fn new_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::generate(&mut crate::helpers::rand_core())
}

async fn login_with_secret(app: &TestApp, username: &str, secret: &str) -> u16 {
    app.token_request(&[
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("username", username),
        ("password", PASSWORD),
    ])
    .await
    .status
    .as_u16()
}

async fn a_new_secret_replaces_the_old_one(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v1/Clients/test/ChangeSecret";
    let changed = admin(
        &app,
        Method::PATCH,
        path,
        Some(json!({ "newSecret": "a-chosen-secret" })),
    )
    .await;
    let changed = changed.expect_status(200).result().clone();
    assert_keys(
        &changed,
        &[
            "clientId",
            "displayName",
            "clientSecret",
            "defaultTier",
            "createdAt",
            "maxIdentities",
        ],
    );
    assert_eq!(changed["clientSecret"], "a-chosen-secret");
    assert_eq!(
        login_with_secret(&app, &identity.username, "a-chosen-secret").await,
        200
    );
    assert_eq!(
        login_with_secret(&app, &identity.username, CLIENT_SECRET).await,
        401
    );
    // Empty, null or no body: a generated secret of 30 characters.
    for body in [
        Some(json!({ "newSecret": "" })),
        Some(json!({ "newSecret": null })),
        None,
    ] {
        let generated = admin(&app, Method::PATCH, path, body).await;
        let secret = generated.expect_status(200).result()["clientSecret"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(secret.len(), 30);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(login_with_secret(&app, &identity.username, &secret).await, 200);
    }
    admin(&app, Method::PATCH, "/api/v1/Clients/unknown/ChangeSecret", None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    // Concurrent changes: every answer is 200 and exactly the last one written logs in.
    let secrets: Vec<String> = (0..6).map(|i| format!("parallel-secret-{i}")).collect();
    let answers = join_all(
        secrets
            .iter()
            .map(|secret| admin(&app, Method::PATCH, path, Some(json!({ "newSecret": secret })))),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 200));
    let mut working = 0;
    for secret in &secrets {
        if login_with_secret(&app, &identity.username, secret).await == 200 {
            working += 1;
        }
    }
    assert_eq!(working, 1);
}

async fn clients_are_deleted_once(app: TestApp) {
    let identity = app.create_identity().await;
    admin(&app, Method::DELETE, "/api/v1/Clients/test", None)
        .await
        .expect_status(204);
    admin(&app, Method::DELETE, "/api/v1/Clients/test", None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    // The identity created with it stays.
    admin_get(&app, &format!("/api/v1/Identities/{}", identity.address))
        .await
        .expect_status(200);
}

/// OpenIddict's format: `0x01 | PRF (1 = HMAC-SHA256) | iterations | salt length | salt |
/// 32-byte subkey`, numbers as big-endian u32, all in standard base64.
fn openiddict_hash(secret: &str, salt: &[u8; 16], iterations: u32) -> String {
    let mut subkey = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret.as_bytes(), salt, iterations, &mut subkey);
    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&iterations.to_be_bytes());
    bytes.extend_from_slice(&16u32.to_be_bytes());
    bytes.extend_from_slice(salt);
    bytes.extend_from_slice(&subkey);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn secrets_in_openiddict_format_log_in(app: TestApp) {
    let identity = app.create_identity().await;
    // An operator imports a client as upstream stored it.
    backbone_db::sqlx::query("UPDATE oauth_clients SET secret_hash = $1 WHERE client_id = $2")
        .bind(openiddict_hash("imported-secret", b"0123456789abcdef", 10_000))
        .bind(CLIENT_ID)
        .execute(app.app.db.writer())
        .await
        .unwrap();
    assert_eq!(
        login_with_secret(&app, &identity.username, "imported-secret").await,
        200
    );
    assert_eq!(
        login_with_secret(&app, &identity.username, "imported-secreT").await,
        401
    );
    assert_eq!(
        login_with_secret(&app, &identity.username, CLIENT_SECRET).await,
        401
    );
}

/// A limit lowered while identities are being created: when the update succeeds, no
/// identity beyond the limit exists afterwards (both lock the client row).
async fn a_limit_set_during_identity_creation_holds(app: TestApp) {
    let mut requests = Vec::new();
    for _ in 0..4 {
        requests.push(app.identity_request(&new_key()).await);
    }
    let basic = tier_id(&app, "Basic").await;
    let creations = join_all(
        requests
            .into_iter()
            .map(|r| app.post("/api/v2/Identities", None, r)),
    );
    let update = admin(
        &app,
        Method::PUT,
        "/api/v1/Clients/test",
        Some(json!({ "defaultTier": basic, "maxIdentities": 2 })),
    );
    let (created, updated) = futures::join!(creations, update);
    let created = i64::try_from(created.iter().filter(|c| c.status == 201).count()).unwrap();
    assert_eq!(app.count("identities").await, created);
    if updated.status == 200 {
        assert!(created <= 2, "{created} identities despite a limit of 2");
    } else {
        updated.expect_error(
            400,
            "error.platform.validation.device.maxIdentitiesLessThanCurrentIdentities",
        );
        assert!(created > 2);
    }
}
