//! admin-and-services §1.2: the API key (401 with an empty body), the XSRF handshake and its
//! check on every unsafe method (400 problem details `xsrf-token-may-be-invalid`),
//! `ValidateApiKey`, and case-insensitive routes. Refused requests write nothing.

use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get, xsrf};
use crate::helpers::{TestApp, ADMIN_API_KEY};
use crate::on_both_databases;

on_both_databases!(
    the_api_key_is_required_and_compared_exactly,
    changes_need_the_xsrf_token_of_their_cookie,
    the_handshake_keeps_a_valid_cookie_and_speaks_json_on_request,
    validate_api_key_answers_without_a_key_but_with_xsrf,
    routes_match_in_any_case,
);

fn url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.admin_base)
}

async fn the_api_key_is_required_and_compared_exactly(app: TestApp) {
    for key in [None, Some("wrong"), Some("admin-api-key-for-testX"), Some("")] {
        let mut request = app.http.get(url(&app, "/api/v1/Tiers"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let refused = app.raw(request).await;
        assert_eq!(refused.status, 401, "{key:?}");
        assert_eq!(refused.text, "", "{key:?}");
    }
    admin_get(&app, "/api/v1/Tiers").await.expect_status(200);
    // Health, the handshake and the docs need no key.
    let health = app.raw(app.http.get(url(&app, "/health"))).await;
    assert_eq!(health.status, 200);
    // The key is checked before the XSRF token: a change without either is a 401.
    let tiers_before = app.count("tiers").await;
    let neither = app
        .raw(
            app.http
                .post(url(&app, "/api/v1/Tiers"))
                .json(&json!({ "name": "Gold" })),
        )
        .await;
    assert_eq!((neither.status.as_u16(), neither.text.as_str()), (401, ""));
    assert_eq!(app.count("tiers").await, tiers_before);
}

#[track_caller]
fn assert_xsrf_refusal(response: &crate::helpers::Response) {
    assert_eq!(response.status, 400, "{}", response.text);
    assert_eq!(
        response.body["detail"], "xsrf-token-may-be-invalid",
        "{}",
        response.text
    );
    assert_eq!(response.body["status"], 400);
    let content_type = response.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{content_type}"
    );
}

async fn changes_need_the_xsrf_token_of_their_cookie(app: TestApp) {
    let tiers_before = app.count("tiers").await;
    let first = xsrf(&app).await;
    let second = xsrf(&app).await;
    assert_ne!(first.cookie, second.cookie);
    let post = |cookie: Option<&str>, token: Option<&str>| {
        let mut request = app
            .http
            .post(url(&app, "/api/v1/Tiers"))
            .header("x-api-key", ADMIN_API_KEY)
            .json(&json!({ "name": "Gold" }));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        if let Some(token) = token {
            request = request.header("x-xsrf-token", token.to_owned());
        }
        app.raw(request)
    };
    assert_xsrf_refusal(&post(None, None).await);
    assert_xsrf_refusal(&post(Some(&first.cookie), None).await);
    assert_xsrf_refusal(&post(None, Some(&first.token)).await);
    // A token belongs to its own cookie only.
    assert_xsrf_refusal(&post(Some(&first.cookie), Some(&second.token)).await);
    assert_xsrf_refusal(&post(Some("X-XSRF-COOKIE=made-up"), Some(&first.token)).await);
    assert_xsrf_refusal(&post(Some(&first.cookie), Some("bm90IGEgdG9rZW4")).await);
    assert_eq!(app.count("tiers").await, tiers_before);
    // Every unsafe method is checked, DELETE, PUT and PATCH included.
    for method in [Method::DELETE, Method::PUT, Method::PATCH] {
        let request = app
            .http
            .request(method.clone(), url(&app, "/api/v1/Clients/test"))
            .header("x-api-key", ADMIN_API_KEY);
        assert_xsrf_refusal(&app.raw(request).await);
    }
    assert_eq!(app.count("oauth_clients").await, 1);
    // The right pair passes, the cookie among others; the pair can be used again.
    let with_other_cookies = format!("theme=dark; {}", first.cookie);
    post(Some(&with_other_cookies), Some(&first.token))
        .await
        .expect_status(201);
    let again = app
        .http
        .post(url(&app, "/api/v1/Tiers"))
        .header("x-api-key", ADMIN_API_KEY)
        .header("cookie", second.cookie)
        .header("x-xsrf-token", second.token)
        .json(&json!({ "name": "Silver" }));
    app.raw(again).await.expect_status(201);
    assert_eq!(app.count("tiers").await, tiers_before + 2);
}

async fn the_handshake_keeps_a_valid_cookie_and_speaks_json_on_request(app: TestApp) {
    let first = xsrf(&app).await;
    let text = app.raw(app.http.get(url(&app, "/api/v1/xsrf"))).await;
    assert!(text.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    // A client that has a valid cookie keeps it; its new token works with it.
    let repeated = app
        .raw(
            app.http
                .get(url(&app, "/api/v1/XSRF"))
                .header("cookie", first.cookie.clone())
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(repeated.status, 200);
    assert!(repeated.headers.get("set-cookie").is_none());
    let token = repeated.body.as_str().expect("a JSON string").to_owned();
    let tier = app
        .http
        .post(url(&app, "/api/v1/Tiers"))
        .header("x-api-key", ADMIN_API_KEY)
        .header("cookie", first.cookie)
        .header("x-xsrf-token", token)
        .json(&json!({ "name": "Gold" }));
    app.raw(tier).await.expect_status(201);
}

async fn validate_api_key_answers_without_a_key_but_with_xsrf(app: TestApp) {
    let pair = xsrf(&app).await;
    let validate = |body: Option<Value>, path: &'static str| {
        let mut request = app
            .http
            .post(url(&app, path))
            .header("cookie", pair.cookie.clone())
            .header("x-xsrf-token", pair.token.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        app.raw(request)
    };
    let valid = validate(Some(json!({ "apiKey": ADMIN_API_KEY })), "/api/v1/ValidateApiKey").await;
    assert_eq!(
        (valid.status.as_u16(), valid.body.clone()),
        (200, json!({ "isValid": true }))
    );
    // The Admin UI's spelling of the route.
    let wrong = validate(Some(json!({ "apiKey": "nope" })), "/api/v1/validateApiKey").await;
    assert_eq!(
        (wrong.status.as_u16(), wrong.body.clone()),
        (200, json!({ "isValid": false }))
    );
    let empty = validate(None, "/api/v1/ValidateApiKey").await;
    assert_eq!(empty.body, json!({ "isValid": false }));
    let not_an_object = validate(Some(json!([1])), "/api/v1/ValidateApiKey").await;
    assert_eq!(not_an_object.body, json!({ "isValid": false }));
    let without_xsrf = app
        .raw(
            app.http
                .post(url(&app, "/api/v1/ValidateApiKey"))
                .json(&json!({ "apiKey": ADMIN_API_KEY })),
        )
        .await;
    assert_xsrf_refusal(&without_xsrf);
}

async fn routes_match_in_any_case(app: TestApp) {
    let clients = admin_get(&app, "/API/V1/CLIENTS").await;
    assert_eq!(clients.expect_status(200).result()[0]["clientId"], "test");
    let tier = admin(
        &app,
        Method::POST,
        "/api/v1/tiers",
        Some(json!({ "name": "Gold" })),
    )
    .await;
    tier.expect_status(201);
    admin_get(&app, "/api/v1/clients/test").await.expect_status(200);
}
