//! Spec consumer-api-identity §3 (C1, C2).

use chrono::Duration;
use serde_json::json;

use crate::helpers::{assert_date, assert_keys, TestApp};
use crate::on_both_databases;

on_both_databases!(
    anonymous_challenge_has_no_creator,
    authenticated_challenge_names_its_creator,
    challenge_can_be_read_by_any_identity_until_an_hour_after_expiry,
    reading_challenges_validates_ids_and_needs_a_token,
);

async fn anonymous_challenge_has_no_creator(app: TestApp) {
    let response = app.post("/api/v2/Challenges", None, json!({})).await;
    response.expect_status(201);
    let challenge = response.result();
    assert_keys(challenge, &["id", "expiresAt", "createdBy", "createdByDevice"]);
    assert!(challenge["id"].as_str().unwrap().starts_with("CHL"));
    assert_eq!(challenge["id"].as_str().unwrap().len(), 20);
    assert!(challenge["createdBy"].is_null() && challenge["createdByDevice"].is_null());
    assert_date(&challenge["expiresAt"]);
    let location = response.headers["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("/api/v2/Challenges/{}", challenge["id"].as_str().unwrap())
    );
    let expires_at = chrono::DateTime::parse_from_rfc3339(challenge["expiresAt"].as_str().unwrap()).unwrap();
    let lifetime = expires_at.signed_duration_since(app.clock_now());
    assert!(
        (Duration::seconds(599)..=Duration::seconds(600)).contains(&lifetime),
        "{lifetime}"
    );
}

async fn authenticated_challenge_names_its_creator(app: TestApp) {
    let identity = app.create_identity().await;
    let challenge = app.challenge(Some(&identity.token)).await;
    assert_eq!(challenge["createdBy"], identity.address.as_str());
    assert_eq!(challenge["createdByDevice"], identity.device_id.as_str());
    // An invalid token on this anonymous endpoint is ignored, as upstream.
    let anonymous = app.challenge(Some("not-a-token")).await;
    assert!(anonymous["createdBy"].is_null());
}

async fn challenge_can_be_read_by_any_identity_until_an_hour_after_expiry(app: TestApp) {
    let reader = app.create_identity().await;
    let challenge = app.challenge(None).await;
    let path = format!("/api/v2/Challenges/{}", challenge["id"].as_str().unwrap());
    let response = app.get(&path, Some(&reader.token)).await;
    response.expect_status(200);
    assert_eq!(response.result(), &challenge);

    // Expired 50 minutes ago: still readable.
    app.clock.advance(Duration::minutes(60));
    let reader_token = app.token(&reader.username, &reader.password).await;
    app.get(&path, Some(&reader_token)).await.expect_status(200);

    // Expired over an hour ago: gone.
    app.clock.advance(Duration::minutes(11));
    let reader_token = app.token(&reader.username, &reader.password).await;
    app.get(&path, Some(&reader_token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

async fn reading_challenges_validates_ids_and_needs_a_token(app: TestApp) {
    let reader = app.create_identity().await;
    app.get("/api/v2/Challenges/CHLthisisnonexisting", Some(&reader.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get("/api/v2/Challenges/DVCthisisnonexisting", Some(&reader.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.get(
        "/api/v2/Challenges/CHLthisiswaytoolongforanid",
        Some(&reader.token),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let anonymous = app.get("/api/v2/Challenges/CHLthisisnonexisting", None).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.text.is_empty());
}
