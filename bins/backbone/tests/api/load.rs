//! Behaviour under concurrency and hostile input (issue "hold load"): no request waits for a
//! second pooled connection while it holds one, SQLite serialises its writers without
//! "database is locked", a saturated pool answers 503 fast, and text with control characters
//! is refused at the edge on both databases.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{standard_base64, Backend, Response, TestApp, TestIdentity};
use crate::messages::{message_to, related};
use crate::on_both_databases;
use crate::templates::create_template;

on_both_databases!(
    control_characters_are_refused_in_every_kind_of_input,
    dates_computed_from_client_input_stay_representable,
    tokens_of_identities_whose_deletion_began_are_refused,
);

/// The default pool, not the smaller one the other PostgreSQL tests use.
async fn spawn_with_default_pool(backend: Backend) -> TestApp {
    let defaults = backbone::config::Settings::default().database;
    TestApp::spawn_with(backend, |settings| {
        settings.database.max_connections = defaults.max_connections;
    })
    .await
}

/// `pairs` related identity pairs: (sender, recipient).
async fn related_pairs(app: &TestApp, pairs: usize) -> Vec<(TestIdentity, TestIdentity)> {
    let mut related_pairs = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let (owner, requester, _) = related(app).await;
        related_pairs.push((requester, owner));
    }
    related_pairs
}

fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status.as_u16()).collect()
}

mod concurrent_sends_never_exhaust_the_pool {
    use super::*;

    /// 64 sends at once with the pool at its default size (10): each send used to hold its
    /// transaction's connection while asking for a second one, and ten of them deadlocked the
    /// pool. 8 senders × 8 messages stay below the unreceived-messages limit (20).
    async fn sixty_four_sends(app: TestApp) {
        let pairs = related_pairs(&app, 8).await;
        let sends = pairs.iter().flat_map(|(sender, recipient)| {
            (0..8).map(|_| app.post("/api/v2/Messages", Some(&sender.token), message_to(&[recipient])))
        });
        let answers = join_all(sends).await;
        assert_eq!(
            statuses(&answers),
            vec![201; 64],
            "{:?}",
            answers.iter().find(|a| a.status != 201).map(|a| &a.text)
        );
        assert_eq!(app.count("messages").await, 64);
    }

    #[tokio::test]
    async fn sqlite() {
        sixty_four_sends(spawn_with_default_pool(Backend::Sqlite).await).await;
    }

    #[tokio::test]
    async fn postgres() {
        sixty_four_sends(spawn_with_default_pool(Backend::Postgres).await).await;
    }
}

mod mixed_concurrent_writes_get_no_server_error {
    use super::*;

    /// One request of a mixed set of writes and reads for client `i`.
    async fn one_request(
        app: &TestApp,
        (sender, recipient): &(TestIdentity, TestIdentity),
        i: usize,
    ) -> Response {
        let token = Some(sender.token.as_str());
        let content = json!({ "content": standard_base64(b"content") });
        match i % 5 {
            0 => {
                app.post("/api/v2/Messages", token, message_to(&[recipient]))
                    .await
            }
            1 => {
                let expires = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
                let body = json!({ "content": standard_base64(b"t"), "expiresAt": expires });
                app.post("/api/v2/Tokens", token, body).await
            }
            2 => app.post("/api/v2/RelationshipTemplates", token, content).await,
            3 => app.get("/api/v2/Messages", token).await,
            _ => app.get("/api/v2/Identities/Self", token).await,
        }
    }

    /// 100 clients at once, 60 % writes: no 5xx and no "database is locked" on either database.
    async fn hundred_clients(app: TestApp) {
        let pairs = related_pairs(&app, 10).await;
        let requests = (0..100).map(|i| one_request(&app, &pairs[i % pairs.len()], i));
        let answers = join_all(requests).await;
        let failed: Vec<&str> = answers
            .iter()
            .filter(|a| !a.status.is_success())
            .map(|a| a.text.as_str())
            .collect();
        assert!(
            failed.is_empty(),
            "{} failed, e.g. {:?}",
            failed.len(),
            failed.first()
        );
    }

    #[tokio::test]
    async fn sqlite() {
        hundred_clients(spawn_with_default_pool(Backend::Sqlite).await).await;
    }

    #[tokio::test]
    async fn postgres() {
        hundred_clients(spawn_with_default_pool(Backend::Postgres).await).await;
    }
}

mod a_saturated_pool_answers_503_at_once {
    use super::*;

    /// With every read connection taken (here by the test itself), a request gets 503 with
    /// `Retry-After` after the configured acquire timeout instead of hanging, and /health too.
    async fn saturated(backend: Backend) {
        let app = TestApp::spawn_with(backend, |settings| {
            settings.database.max_connections = 1;
            settings.database.acquire_timeout_seconds = 1;
        })
        .await;
        let identity = app.create_identity().await;
        let held = app.app.db.pool().acquire().await.unwrap();
        let started = std::time::Instant::now();
        let answer = app.get("/api/v2/Messages", Some(&identity.token)).await;
        answer.expect_error(503, "error.platform.unexpected");
        assert_eq!(answer.headers["retry-after"], "1");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "answered in {:?}",
            started.elapsed()
        );
        assert_eq!(app.get("/health", None).await.status, 503);
        drop(held);
        app.get("/api/v2/Messages", Some(&identity.token))
            .await
            .expect_status(200);
        assert_eq!(app.get("/health", None).await.status, 200);
    }

    #[tokio::test]
    async fn sqlite() {
        saturated(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        saturated(Backend::Postgres).await;
    }
}

const NUL: &str = "a\u{0}b";

/// NUL used to reach PostgreSQL and come back as a 500; SQLite stored it. Now every kind of
/// input refuses it with 400 before anything is written.
async fn control_characters_are_refused_in_every_kind_of_input(app: TestApp) {
    let identity = app.create_identity().await;
    let token = Some(identity.token.as_str());
    let invalid = "error.platform.validation.invalidPropertyValue";

    // JSON bodies: a push handle, the identity's client ID, a feature flag name.
    let push = json!({ "platform": "fcm", "handle": NUL, "appId": "app", "environment": "Production" });
    app.put("/api/v2/Devices/Self/PushNotifications", token, push)
        .await
        .expect_error(400, invalid);
    let mut request = app
        .identity_request(&ed25519_dalek::SigningKey::generate(
            &mut crate::helpers::rand_core(),
        ))
        .await;
    request["clientId"] = Value::from(NUL);
    app.post("/api/v2/Identities", None, request)
        .await
        .expect_error(400, invalid);
    let flags = app
        .request(
            reqwest::Method::PATCH,
            "/api/v2/Identities/Self/FeatureFlags",
            token,
            Some(json!({ NUL: true })),
        )
        .await;
    flags.expect_error(400, invalid);
    // A query string and a path.
    app.get("/api/v2/Messages?ids=MSG%00", token)
        .await
        .expect_error(400, invalid);
    app.get("/api/v2/Tokens/TOK%00aaaaaaaaaaaaaaa", token)
        .await
        .expect_error(400, invalid);
    // Not UTF-8 once decoded: the envelope too, not axum's plain-text rejection.
    app.get("/api/v2/Messages/MSG%FFaaaaaaaaaaaaaaa", token)
        .await
        .expect_error(400, invalid);
    // The token endpoint's form answers in OAuth's shape.
    let login = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", NUL),
            ("client_secret", "x"),
            ("username", NUL),
            ("password", "p"),
        ])
        .await;
    assert_eq!(
        (login.status.as_u16(), login.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // The Admin API's JSON too.
    let pair = crate::admin::xsrf(&app).await;
    let client = app
        .http
        .post(format!("{}/api/v1/Clients", app.admin_base))
        .header("x-api-key", crate::helpers::ADMIN_API_KEY)
        .header("cookie", pair.cookie)
        .header("x-xsrf-token", pair.token)
        .json(&json!({ "clientId": NUL, "displayName": NUL }));
    app.raw(client).await.expect_error(400, invalid);

    // Line breaks and tabs are ordinary text.
    let template = create_template(&app, &identity, json!({})).await;
    assert!(template.starts_with("RLT"));
    assert_eq!(app.count("push_registrations").await, 0);
    assert_eq!(app.count("feature_flags").await, 0);
}

/// A grace period of 1e8 days used to panic the request (chrono overflow) and drop the
/// connection; 3e6 days gave a five-digit year. Both are refused; so is a year-0 expiry.
async fn dates_computed_from_client_input_stay_representable(app: TestApp) {
    let identity = app.create_identity().await;
    let token = Some(identity.token.as_str());
    let processes = "/api/v2/Identities/Self/DeletionProcesses";
    for days in [1e8, 3e6, -1e9] {
        app.post(processes, token, json!({ "lengthOfGracePeriodInDays": days }))
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    let body = json!({ "content": standard_base64(b"t"), "expiresAt": "0000-01-01T00:00:00Z" });
    let refused = app.post("/api/v2/Tokens", token, body).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(app.count("identity_deletion_processes").await, 0);
    assert_eq!(app.count("tokens").await, 0);
    app.post(processes, token, json!({ "lengthOfGracePeriodInDays": 30 }))
        .await
        .expect_status(201);
}

/// An unexpired access token of an identity whose deletion began (status Deleting) or that
/// is gone used to write tokens and templates; now it is refused like an invalid token.
async fn tokens_of_identities_whose_deletion_began_are_refused(app: TestApp) {
    let doomed = app.create_identity().await;
    let token = Some(doomed.token.as_str());
    app.post(
        "/api/v2/Identities/Self/DeletionProcesses",
        token,
        json!({ "lengthOfGracePeriodInDays": 0 }),
    )
    .await
    .expect_status(201);
    // In the grace period the identity still acts (it may cancel).
    app.get("/api/v2/Identities/Self", token).await.expect_status(200);
    app.clock.advance(chrono::Duration::seconds(1));
    backbone::jobs::delete_identities(&app.app).await.unwrap();
    let expires = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    // Tokens may be created anonymously: the refused token makes the request anonymous, and an
    // anonymous caller may not create a token with content.
    let anonymous = app
        .post(
            "/api/v2/Tokens",
            token,
            json!({ "content": standard_base64(b"t"), "expiresAt": expires }),
        )
        .await;
    anonymous.expect_error(400, "error.platform.validation.invalidPropertyValue");
    let writes = [
        app.post(
            "/api/v2/RelationshipTemplates",
            token,
            json!({ "content": standard_base64(b"c") }),
        )
        .await,
        app.request(
            reqwest::Method::PATCH,
            "/api/v2/Identities/Self/FeatureFlags",
            token,
            Some(json!({ "f": true })),
        )
        .await,
        app.get("/api/v2/Identities/Self", token).await,
    ];
    assert_eq!(statuses(&writes), vec![401; 3]);
    assert_eq!(app.count("tokens").await, 0);
    assert_eq!(app.count("relationship_templates").await, 0);
    assert_eq!(app.count("feature_flags").await, 0);
}
