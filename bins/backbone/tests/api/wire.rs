//! Cross-cutting wire conventions (spec §1 of both Consumer API documents): routing, headers,
//! envelopes, limits, tags, version, health, docs, and the Admin API's key check.

use serde_json::json;

use crate::helpers::{assert_keys, Backend, TestApp, ADMIN_API_KEY};
use crate::on_both_databases;

on_both_databases!(
    routes_and_query_names_are_case_insensitive,
    unknown_routes_are_plain_404s
);

async fn routes_and_query_names_are_case_insensitive(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app.get("/API/V2/devices/self", Some(&identity.token)).await;
    response.expect_status(200);
    assert_eq!(response.result()["id"], identity.device_id.as_str());
    app.register_device(&identity, false).await.expect_status(201);
    let page = app.get("/api/v2/Devices?PAGESIZE=1", Some(&identity.token)).await;
    assert_eq!(page.result().as_array().unwrap().len(), 1);
    assert_eq!(page.body["pagination"]["totalRecords"], 2);
}

async fn unknown_routes_are_plain_404s(app: TestApp) {
    let response = app.get("/api/v2/NoSuchThing", None).await;
    assert_eq!(response.status, 404);
    assert!(response.text.is_empty());
}

#[tokio::test]
async fn responses_carry_upstream_headers_and_echo_the_correlation_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let long_id = format!(" {}\r\n", "c".repeat(150));
    let response = app
        .raw(
            app.http
                .get(format!("{}/api/v2/Version", app.base))
                .header("x-correlation-id", long_id.trim_end()),
        )
        .await;
    response.expect_status(200);
    assert_eq!(response.body, json!({ "result": { "majorVersion": "7" } }));
    let header = |name: &str| response.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("x-correlation-id"), "c".repeat(100));
    assert_eq!(header("x-request-time").len(), 24);
    assert_eq!(header("x-response-time").len(), 24);
    header("x-response-duration-ms").parse::<u64>().unwrap();
    assert_eq!(header("x-trace-id").len(), 32);
    assert_eq!(
        header("strict-transport-security"),
        "max-age=5184000; includeSubDomains"
    );
    assert_eq!(header("x-frame-options"), "Deny");
    assert_eq!(header("content-type"), "application/json; charset=utf-8");
    assert!(response.headers.get("server").is_none());
    let generated = app.get("/api/v2/Version", None).await;
    assert_eq!(generated.headers["x-correlation-id"].len(), 32);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_the_upstream_code() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.consumer_api.max_request_body_bytes = 4096).await;
    let body = json!({ "clientId": "x".repeat(5000) });
    app.post("/api/v2/Identities", None, body)
        .await
        .expect_error(400, "error.platform.requestBodyTooLarge");
    assert_eq!(
        backbone::Settings::default().consumer_api.max_request_body_bytes,
        20 * 1024 * 1024
    );
}

#[tokio::test]
async fn tags_are_cached_by_etag() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/api/v2/Tags", None).await;
    response.expect_status(200);
    let result = response.result();
    assert_keys(result, &["supportedLanguages", "tagsForAttributeValueTypes"]);
    assert!(result["supportedLanguages"]
        .as_array()
        .unwrap()
        .contains(&json!("en")));
    assert!(!result["tagsForAttributeValueTypes"]
        .as_object()
        .unwrap()
        .is_empty());
    let etag = response.headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let cached = app
        .raw(
            app.http
                .get(format!("{}/api/v2/Tags", app.base))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(cached.status, 304);
    assert!(cached.text.is_empty());
    let weak = app
        .raw(
            app.http
                .get(format!("{}/api/v2/Tags", app.base))
                .header("if-none-match", format!("W/{etag}")),
        )
        .await;
    assert_eq!(weak.status, 304);
    let stale = app
        .raw(
            app.http
                .get(format!("{}/api/v2/Tags", app.base))
                .header("if-none-match", "\"other\""),
        )
        .await;
    assert_eq!(stale.status, 200);
}

#[tokio::test]
async fn health_and_docs_are_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.get("/health", None).await.expect_status(200);
    let docs = app.get("/docs/v2/openapi.json", None).await;
    docs.expect_status(200);
    assert!(docs.body["paths"]["/api/v2/Identities"]["post"].is_object());
    let ui = app
        .http
        .get(format!("{}/docs/index.html", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.cors.allowed_origins = "https://app.example;https://other.example".into();
        s.cors.exposed_headers = "X-Request-Time;X-Trace-Id".into();
    })
    .await;
    let preflight = app
        .raw(
            app.http
                .request(
                    reqwest::Method::OPTIONS,
                    format!("{}/api/v2/Challenges", app.base),
                )
                .header("origin", "https://app.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "https://app.example"
    );
    let response = app
        .raw(
            app.http
                .get(format!("{}/api/v2/Version", app.base))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert!(response.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn admin_api_requires_the_api_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let url = format!("{}/api/v1/Clients", app.admin_base);
    let anonymous = app.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .http
        .get(&url)
        .header("x-api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let clients: serde_json::Value = app
        .http
        .get(&url)
        .header("x-api-key", ADMIN_API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients["result"][0]["clientId"], "test");
    assert_eq!(clients["result"][0]["defaultTier"]["name"], "Basic");
    // Changes need the XSRF pair too (crate::admin tests the handshake itself).
    let pair = crate::admin::xsrf(&app).await;
    let tiers = app
        .http
        .post(format!("{}/api/v1/tiers", app.admin_base))
        .header("x-api-key", ADMIN_API_KEY)
        .header("cookie", pair.cookie)
        .header("x-xsrf-token", pair.token)
        .json(&json!({ "name": "Premium" }))
        .send()
        .await
        .unwrap();
    assert_eq!(tiers.status(), 201);
}
