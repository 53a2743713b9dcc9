//! Quotas and tiers (admin-and-services §1.3–1.6, consumer-api-exchange §1.10,
//! consumer-api-identity §11.3): the Admin API that manages them, and their enforcement inside
//! the limited writes, exact under bursts.

mod admin;
mod enforcement;
mod operations;
mod tiers;

use backbone_core::encoding::{encode_bytes, format_date};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{standard_base64, Response, TestApp, TestIdentity};

/// The fixed ID of the "Queued for Deletion" tier.
pub const QUEUED_FOR_DELETION: &str = "TIR00000000000000001";

/// An Admin API request with the API key (and the XSRF handshake for changes).
pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    crate::admin::admin(app, method, path, body).await
}

pub fn quota(metric: &str, max: i64, period: &str) -> Value {
    json!({ "metricKey": metric, "max": max, "period": period })
}

/// A new tier; returns its ID.
pub async fn create_tier(app: &TestApp, name: &str) -> String {
    let created = admin(app, Method::POST, "/api/v1/Tiers", Some(json!({ "name": name }))).await;
    created.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Gives the tier a quota; returns the definition's ID.
pub async fn add_tier_quota(app: &TestApp, tier: &str, metric: &str, max: i64, period: &str) -> String {
    let path = format!("/api/v1/Tiers/{tier}/Quotas");
    let created = admin(app, Method::POST, &path, Some(quota(metric, max, period))).await;
    created.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Gives the identity an individual quota; returns its ID.
pub async fn add_individual_quota(
    app: &TestApp,
    identity: &TestIdentity,
    metric: &str,
    max: i64,
    period: &str,
) -> String {
    let path = format!("/api/v1/Identities/{}/Quotas", identity.address);
    let created = admin(app, Method::POST, &path, Some(quota(metric, max, period))).await;
    created.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Moves the identity to the tier.
pub async fn assign_tier(app: &TestApp, identity: &TestIdentity, tier: &str) {
    let path = format!("/api/v1/Identities/{}", identity.address);
    admin(app, Method::PUT, &path, Some(json!({ "tierId": tier })))
        .await
        .expect_status(204);
}

/// An identity in a tier of its own with one quota.
pub async fn identity_with_quota(
    app: &TestApp,
    metric: &str,
    max: i64,
    period: &str,
) -> (TestIdentity, String) {
    let identity = app.create_identity().await;
    let tier = create_tier(app, &format!("tier {}", &identity.device_id[3..12])).await;
    add_tier_quota(app, &tier, metric, max, period).await;
    assign_tier(app, &identity, &tier).await;
    (identity, tier)
}

/// Asserts a 429 naming exactly these metrics, exhausted until `until` (if given).
#[track_caller]
pub fn expect_exhausted(response: &Response, metrics: &[&str], until: Option<&str>) {
    response.expect_error(429, "error.platform.quotaExhausted");
    let data = response.body["error"]["data"].as_array().expect("a data list");
    let keys: Vec<&str> = data.iter().map(|m| m["metricKey"].as_str().unwrap()).collect();
    assert_eq!(keys, metrics, "{}", response.text);
    if let Some(until) = until {
        assert!(
            data.iter().all(|m| m["isExhaustedUntil"] == until),
            "{}",
            response.text
        );
    }
}

pub async fn create_token(app: &TestApp, identity: Option<&TestIdentity>) -> Response {
    let in_minutes = |minutes| format_date(&(app.clock_now() + chrono::Duration::minutes(minutes)));
    let body = match identity {
        Some(_) => json!({ "content": standard_base64(b"token content"), "expiresAt": in_minutes(30) }),
        // Anonymous tokens live at most five minutes.
        None => json!({ "expiresAt": in_minutes(2) }),
    };
    app.post("/api/v2/Tokens", identity.map(|i| i.token.as_str()), body)
        .await
}

/// Uploads a file of `size` bytes.
pub async fn upload(app: &TestApp, identity: &TestIdentity, size: usize) -> Response {
    let form = Form::new()
        .part("content", Part::bytes(vec![7; size]).file_name("cipher.bin"))
        .text("cipherHash", encode_bytes(b"hash"))
        .text("owner", identity.address.clone())
        .text("ownerSignature", standard_base64(b"signature"))
        .text(
            "expiresAt",
            format_date(&(app.clock_now() + chrono::Duration::hours(1))),
        )
        .text("encryptedProperties", standard_base64(b"properties"));
    let request = app
        .http
        .post(format!("{}/api/v2/Files", app.base))
        .bearer_auth(&identity.token)
        .multipart(form);
    app.raw(request).await
}

/// Pushes one datawallet modification on top of `index` (`None` for the first).
pub async fn push_modification(app: &TestApp, identity: &TestIdentity, index: Option<i64>) -> Response {
    let body = json!({ "localIndex": index, "modifications": [{
        "type": "Create", "objectIdentifier": "obj", "collection": "Attributes",
        "encryptedPayload": "AQID", "datawalletVersion": 1,
    }] });
    app.sync_request(
        Method::POST,
        "/api/v2/Datawallet/Modifications",
        &identity.token,
        Some(body),
    )
    .await
}
