use backbone_gateway::rate_limits::Rate;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Response, TestApp};

fn rate(per_minute: u32, burst: u32) -> Rate {
    Rate { per_minute, burst }
}

async fn spawn(configure: impl FnOnce(&mut backbone_gateway::RateLimitsConfig)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.rate_limits.enabled = Some(true);
        configure(&mut settings.rate_limits);
    })
    .await
}

/// An anonymous challenge: the cheapest write.
async fn challenge(app: &TestApp, forwarded_for: Option<&str>) -> Response {
    let mut request = app
        .http
        .request(Method::POST, format!("{}/api/v2/Challenges", app.base))
        .json(&json!({}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    app.raw(request).await
}

#[track_caller]
fn expect_too_many_requests(response: &Response, retry_after: &str) {
    response.expect_error(429, "error.platform.tooManyRequests");
    assert_eq!(response.headers["retry-after"], retry_after, "{}", response.text);
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_with_retry_after_then_recovers() {
    let app = spawn(|limits| limits.writes_per_ip = rate(6, 3)).await;
    for _ in 0..3 {
        challenge(&app, None).await.expect_status(201);
    }
    // One request every 10 s once the burst of 3 is used.
    expect_too_many_requests(&challenge(&app, None).await, "10");
    // Reads are not limited.
    app.get("/api/v2/Version", None).await.expect_status(200);
    app.clock.advance(chrono::Duration::seconds(4));
    expect_too_many_requests(&challenge(&app, None).await, "6");
    app.clock.advance(chrono::Duration::seconds(6));
    challenge(&app, None).await.expect_status(201);
    expect_too_many_requests(&challenge(&app, None).await, "10");
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_username() {
    let app = spawn(|limits| limits.token_per_username = rate(1, 2)).await;
    let alice = app.create_identity().await; // one login
    let bob = app.create_identity().await;
    app.login(&alice.username, &alice.password)
        .await
        .expect_status(200);
    let refused = app.login(&alice.username, &alice.password).await;
    expect_too_many_requests(&refused, "60");
    // Another device from the same address is not held back.
    app.login(&bob.username, &bob.password).await.expect_status(200);
}

#[tokio::test]
async fn authenticated_writes_are_limited_per_identity() {
    let app = spawn(|limits| limits.writes_per_identity = rate(60, 2)).await;
    let identity = app.create_identity().await;
    for _ in 0..2 {
        app.post("/api/v2/Challenges", Some(&identity.token), json!({}))
            .await
            .expect_status(201);
    }
    let refused = app
        .post("/api/v2/Challenges", Some(&identity.token), json!({}))
        .await;
    expect_too_many_requests(&refused, "1");
    // Anonymous writes from the same address are limited per address only.
    challenge(&app, None).await.expect_status(201);
}

#[tokio::test]
async fn identity_creation_is_limited_per_ip() {
    let app = spawn(|limits| limits.identity_creation_per_ip = rate(1, 1)).await;
    app.create_identity().await;
    let key = ed25519_dalek::SigningKey::generate(&mut crate::helpers::rand_core());
    let body = app.identity_request(&key).await;
    expect_too_many_requests(&app.post("/api/v2/Identities", None, body).await, "60");
}

#[tokio::test]
async fn forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let trusted = spawn(|limits| {
        limits.writes_per_ip = rate(1, 1);
        limits.trusted_proxies.0 = vec!["127.0.0.0/8".into()];
    })
    .await;
    challenge(&trusted, Some("198.51.100.1")).await.expect_status(201);
    expect_too_many_requests(&challenge(&trusted, Some("198.51.100.1")).await, "60");
    // Another client behind the same proxy has its own limit.
    challenge(&trusted, Some("203.0.113.5, 198.51.100.2"))
        .await
        .expect_status(201);

    // Not trusted: the header is the client's word and changes nothing.
    let untrusted = spawn(|limits| limits.writes_per_ip = rate(1, 1)).await;
    challenge(&untrusted, Some("198.51.100.1"))
        .await
        .expect_status(201);
    expect_too_many_requests(&challenge(&untrusted, Some("198.51.100.2")).await, "60");
}

#[tokio::test]
async fn limits_are_off_by_default_in_dev() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.rate_limits.writes_per_ip = rate(1, 1);
    })
    .await;
    for _ in 0..3 {
        challenge(&app, None).await.expect_status(201);
    }
}
