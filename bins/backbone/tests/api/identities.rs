//! Spec consumer-api-identity §5 (I1–I5) and §3.1/3.2 (signed challenges, public keys).

use backbone_core::IdentityAddress;
use chrono::Duration;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::helpers::{
    assert_date, assert_keys, rand_core, sign_challenge, signature, standard_base64, Backend, TestApp,
    CLIENT_SECRET,
};
use crate::on_both_databases;

on_both_databases!(
    creating_an_identity_derives_the_address_from_the_key,
    identity_creation_accepts_standard_base64_and_pascal_case,
    wrong_client_credentials_are_refused_with_the_code_the_client_expects,
    unparseable_requests_are_refused_and_write_nothing,
    invalid_values_are_refused,
    bad_signatures_are_refused,
    unknown_and_expired_challenges_are_refused,
    the_same_key_cannot_create_two_identities,
    a_client_cannot_exceed_its_identity_limit,
    reading_the_own_identity,
    is_deleted_for_existing_unknown_and_invalid_usernames,
    feature_flags_are_stored_and_camel_cased,
    feature_flag_limits_are_enforced_without_partial_writes,
    feature_flags_of_unrelated_identities_are_not_visible,
);

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand_core())
}

async fn creating_an_identity_derives_the_address_from_the_key(app: TestApp) {
    let key = new_key();
    let response = app
        .post("/api/v2/Identities", None, app.identity_request(&key).await)
        .await;
    response.expect_status(201);
    let result = response.result();
    assert_keys(result, &["address", "createdAt", "device"]);
    assert_keys(&result["device"], &["id", "username", "createdAt"]);
    let expected = IdentityAddress::derive(key.verifying_key().as_bytes(), "localhost");
    assert_eq!(result["address"], expected.as_str());
    assert!(result["device"]["id"].as_str().unwrap().starts_with("DVC"));
    assert!(result["device"]["username"].as_str().unwrap().starts_with("USR"));
    assert_date(&result["createdAt"]);
    assert_eq!(app.count("identities").await, 1);
    assert_eq!(app.count("devices").await, 1);
    let events: Vec<(String, String)> =
        backbone_db::sqlx::query_as("SELECT event_type, payload FROM outbox_events")
            .fetch_all(app.app.db.pool())
            .await
            .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "IdentityCreated");
    let payload: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(
        payload,
        json!({ "Address": expected.as_str(), "Tier": "TIRBasic000000000000" })
    );
}

async fn identity_creation_accepts_standard_base64_and_pascal_case(app: TestApp) {
    let key = new_key();
    let challenge = app.challenge(None).await;
    let signed = sign_challenge(&key, &challenge, "Identity");
    let public_json = json!({ "pub": standard_base64(key.verifying_key().as_bytes()), "alg": 3 }).to_string();
    let body = json!({
        "ClientId": "test",
        "ClientSecret": CLIENT_SECRET,
        "IdentityPublicKey": standard_base64(public_json.as_bytes()),
        "DevicePassword": "x",
        "IdentityVersion": "1",
        "SignedChallenge": { "Challenge": signed["challenge"], "Signature": signed["signature"] },
        "DeviceCommunicationLanguage": "de",
    });
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_status(201);
}

async fn wrong_client_credentials_are_refused_with_the_code_the_client_expects(app: TestApp) {
    let mut body = app.identity_request(&new_key()).await;
    body["clientSecret"] = json!("wrong");
    app.post("/api/v2/Identities", None, body.clone())
        .await
        .expect_error(400, "error.platform.unauthorized");
    body["clientId"] = json!("unknown");
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_error(400, "error.platform.unauthorized");
    assert_eq!(app.count("identities").await, 0);
}

async fn unparseable_requests_are_refused_and_write_nothing(app: TestApp) {
    let valid = app.identity_request(&new_key()).await;
    for field in [
        "clientId",
        "clientSecret",
        "identityPublicKey",
        "devicePassword",
        "identityVersion",
        "signedChallenge",
    ] {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(field);
        let response = app.post("/api/v2/Identities", None, body).await;
        response.expect_error(400, "error.platform.inputCannotBeParsed");
        assert!(
            response.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{}",
            response.text
        );
    }
    let mut wrong_type = valid.clone();
    wrong_type["identityVersion"] = json!({ "a": 1 });
    app.post("/api/v2/Identities", None, wrong_type)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let mut bad_base64 = valid.clone();
    bad_base64["identityPublicKey"] = json!("***");
    app.post("/api/v2/Identities", None, bad_base64)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let malformed = app
        .raw(
            app.http
                .post(format!("{}/api/v2/Identities", app.base))
                .header("content-type", "application/json")
                .body("{\"clientId\":"),
        )
        .await;
    malformed.expect_error(400, "error.platform.inputCannotBeParsed");
    let empty = app
        .raw(app.http.post(format!("{}/api/v2/Identities", app.base)))
        .await;
    empty.expect_error(400, "error.platform.inputCannotBeParsed");
    assert_eq!(app.count("identities").await, 0);
    assert_eq!(app.count("outbox_events").await, 0);
}

async fn invalid_values_are_refused(app: TestApp) {
    let valid = app.identity_request(&new_key()).await;
    let cases: [(&str, Value, &str); 6] = [
        (
            "devicePassword",
            json!(""),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "identityPublicKey",
            json!(""),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "identityVersion",
            json!(256),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "deviceCommunicationLanguage",
            json!("xx"),
            "error.platform.validation.invalidDeviceCommunicationLanguage",
        ),
        // A public key that is not the client's JSON wrapper.
        (
            "identityPublicKey",
            json!(standard_base64(b"not json")),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "signedChallenge",
            json!({ "challenge": "", "signature": "" }),
            "error.platform.validation.invalidPropertyValue",
        ),
    ];
    for (field, value, code) in cases {
        let mut body = valid.clone();
        body[field] = value;
        app.post("/api/v2/Identities", None, body)
            .await
            .expect_error(400, code);
    }
    assert_eq!(app.count("identities").await, 0);
}

async fn bad_signatures_are_refused(app: TestApp) {
    let key = new_key();
    let mut body = app.identity_request(&key).await;
    // Signed by another key.
    let other = app.identity_request(&new_key()).await;
    body["signedChallenge"]["signature"] = other["signedChallenge"]["signature"].clone();
    app.post("/api/v2/Identities", None, body.clone())
        .await
        .expect_error(400, "error.platform.validation.device.invalidSignature");
    // A valid signature of this key, but over another challenge's text.
    let mut body = app.identity_request(&key).await;
    let another = app.challenge(None).await;
    body["signedChallenge"]["signature"] = sign_challenge(&key, &another, "Identity")["signature"].clone();
    app.post("/api/v2/Identities", None, body.clone())
        .await
        .expect_error(400, "error.platform.validation.device.invalidSignature");
    // Garbage that is not a CryptoSignature.
    body["signedChallenge"]["signature"] = json!("bm90IGEgc2lnbmF0dXJl");
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_error(400, "error.platform.validation.device.invalidSignature");
    assert_eq!(app.count("identities").await, 0);
}

async fn unknown_and_expired_challenges_are_refused(app: TestApp) {
    let key = new_key();
    let mut body = app.identity_request(&key).await;
    let text =
        json!({ "id": "CHLthisisnonexisting", "expiresAt": "2099-01-01T00:00:00.000Z", "type": "Identity" })
            .to_string();
    body["signedChallenge"] = json!({ "challenge": text, "signature": signature(&key, &text) });
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_error(404, "error.platform.recordNotFound");

    let body = app.identity_request(&key).await;
    app.clock.advance(Duration::minutes(11));
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_error(400, "error.platform.validation.device.challengeHasExpired");
    assert_eq!(app.count("identities").await, 0);
}

async fn the_same_key_cannot_create_two_identities(app: TestApp) {
    let key = new_key();
    app.post("/api/v2/Identities", None, app.identity_request(&key).await)
        .await
        .expect_status(201);
    app.post("/api/v2/Identities", None, app.identity_request(&key).await)
        .await
        .expect_error(400, "error.platform.validation.device.addressAlreadyExists");
    assert_eq!(app.count("identities").await, 1);
}

async fn a_client_cannot_exceed_its_identity_limit(app: TestApp) {
    app.app
        .devices
        .create_client(
            Some("limited".into()),
            None,
            Some("secret".into()),
            "Basic",
            Some(1),
        )
        .await
        .unwrap();
    let request = |body: Value| {
        let mut body = body;
        body["clientId"] = json!("limited");
        body["clientSecret"] = json!("secret");
        body
    };
    let first = request(app.identity_request(&new_key()).await);
    app.post("/api/v2/Identities", None, first)
        .await
        .expect_status(201);
    let second = request(app.identity_request(&new_key()).await);
    app.post("/api/v2/Identities", None, second).await.expect_error(
        400,
        "error.platform.validation.device.clientReachedIdentitiesLimit",
    );
    assert_eq!(app.count("identities").await, 1);
}

async fn reading_the_own_identity(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app.get("/api/v2/Identities/Self", Some(&identity.token)).await;
    response.expect_status(200);
    let result = response.result();
    assert_keys(
        result,
        &[
            "address",
            "createdAt",
            "identityVersion",
            "tierId",
            "status",
            "deletionGracePeriodEndsAt",
        ],
    );
    assert_eq!(result["address"], identity.address.as_str());
    assert_eq!(result["identityVersion"], 1);
    assert_eq!(result["tierId"], "TIRBasic000000000000");
    assert_eq!(result["status"], "Active");
    assert!(result["deletionGracePeriodEndsAt"].is_null());
    assert_eq!(app.get("/api/v2/Identities/Self", None).await.status, 401);
}

async fn is_deleted_for_existing_unknown_and_invalid_usernames(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app
        .get(
            &format!("/api/v2/Identities/IsDeleted?username={}", identity.username),
            None,
        )
        .await;
    response.expect_status(200);
    assert_eq!(
        response.result(),
        &json!({ "isDeleted": false, "deletionDate": null })
    );
    let unknown = app
        .get("/api/v2/Identities/IsDeleted?username=USRthisisnonexisting", None)
        .await;
    assert_eq!(
        unknown.result(),
        &json!({ "isDeleted": false, "deletionDate": null })
    );
    app.get("/api/v2/Identities/IsDeleted", None)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    app.get("/api/v2/Identities/IsDeleted?username=DVCwrongprefix", None)
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn feature_flags_are_stored_and_camel_cased(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v2/Identities/Self/FeatureFlags";
    let flags_path = format!("/api/v2/Identities/{}/FeatureFlags", identity.address);
    let patch_flags =
        |body: Value| app.request(reqwest::Method::PATCH, path, Some(&identity.token), Some(body));
    patch_flags(json!({ "feature1": true, "MyFlag": false }))
        .await
        .expect_status(204);
    let response = app.get(&flags_path, Some(&identity.token)).await;
    assert_eq!(response.result(), &json!({ "feature1": true, "myFlag": false }));
    patch_flags(json!({ "feature1": false })).await.expect_status(204);
    let response = app.get(&flags_path, Some(&identity.token)).await;
    assert_eq!(response.result(), &json!({ "feature1": false, "myFlag": false }));
    patch_flags(json!({ "feature1": "yes" }))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    patch_flags(json!({ "x".repeat(201): true }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let events: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'FeatureFlagsOfIdentityChanged'",
    )
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(events, 2);
}

async fn feature_flag_limits_are_enforced_without_partial_writes(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v2/Identities/Self/FeatureFlags";
    let flags = |from: usize, count: usize| -> Value {
        (from..from + count)
            .map(|i| (format!("flag{i}"), Value::Bool(true)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    app.request(
        reqwest::Method::PATCH,
        path,
        Some(&identity.token),
        Some(flags(0, 201)),
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.featureFlag.maxNumberOfFeatureFlagsExceeded",
    );
    assert_eq!(app.count("feature_flags").await, 0);
    app.request(
        reqwest::Method::PATCH,
        path,
        Some(&identity.token),
        Some(flags(0, 200)),
    )
    .await
    .expect_status(204);
    app.request(
        reqwest::Method::PATCH,
        path,
        Some(&identity.token),
        Some(flags(200, 1)),
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.featureFlag.maxNumberOfFeatureFlagsExceeded",
    );
    // Changing existing flags is still fine.
    app.request(
        reqwest::Method::PATCH,
        path,
        Some(&identity.token),
        Some(flags(0, 1)),
    )
    .await
    .expect_status(204);
    assert_eq!(app.count("feature_flags").await, 200);
}

async fn feature_flags_of_unrelated_identities_are_not_visible(app: TestApp) {
    let a = app.create_identity().await;
    let b = app.create_identity().await;
    app.get(
        &format!("/api/v2/Identities/{}/FeatureFlags", b.address),
        Some(&a.token),
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    app.get(
        "/api/v2/Identities/did:e:localhost:dids:0000/FeatureFlags",
        Some(&a.token),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

#[tokio::test]
async fn strict_password_policy_refuses_weak_passwords() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |s| s.devices.password_policy = Some("strict".into())).await;
        let mut body = app.identity_request(&new_key()).await;
        body["devicePassword"] = json!("weak");
        app.post("/api/v2/Identities", None, body)
            .await
            .expect_error(400, "error.platform.validation.device.registrationFailed");
        assert_eq!(app.count("identities").await, 0);
        let mut body = app.identity_request(&new_key()).await;
        body["devicePassword"] = json!("Str0ng!Passw0rd");
        app.post("/api/v2/Identities", None, body)
            .await
            .expect_status(201);
    }
}

#[tokio::test]
async fn addresses_use_the_configured_did_domain() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.did_domain_name = "example.org".into()).await;
    let key = new_key();
    let body = app.identity_request(&key).await;
    let response = app.post("/api/v2/Identities", None, body).await;
    let address = response.result()["address"].as_str().unwrap();
    assert!(address.starts_with("did:e:example.org:dids:"), "{address}");
    assert_eq!(
        address,
        IdentityAddress::derive(key.verifying_key().as_bytes(), "example.org").as_str()
    );
}
