//! Spec consumer-api-identity §2 (the token endpoint and bearer tokens).

use chrono::Duration;
use serde_json::Value;

use crate::helpers::{TestApp, CLIENT_ID, CLIENT_SECRET, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    login_issues_a_bearer_token,
    usernames_match_trimmed_and_case_insensitively,
    wrong_credentials_get_oauth_errors,
    malformed_token_requests_get_oauth_errors,
    three_failed_logins_lock_the_device_for_a_while,
    a_burst_of_wrong_passwords_gets_only_the_allowed_evaluations,
    expired_and_forged_tokens_are_rejected,
    first_login_onboards_the_device_and_clears_the_backup_flag,
);

async fn login_issues_a_bearer_token(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app.login(&identity.username, PASSWORD).await;
    response.expect_status(200);
    assert_eq!(response.body["token_type"], "Bearer");
    assert_eq!(response.body["expires_in"], 300);
    assert_eq!(response.headers["cache-control"], "no-store");
    let token = response.body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    app.get("/api/v2/Identities/Self", Some(token))
        .await
        .expect_status(200);
}

async fn usernames_match_trimmed_and_case_insensitively(app: TestApp) {
    let identity = app.create_identity().await;
    let sloppy = format!("  {}  ", identity.username.to_lowercase());
    app.login(&sloppy, PASSWORD).await.expect_status(200);
}

fn oauth_error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

async fn wrong_credentials_get_oauth_errors(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app.login(&identity.username, "wrong").await;
    assert_eq!(response.status, 400);
    assert_eq!(oauth_error(&response.body), "invalid_grant");
    assert_eq!(
        response.body["error_description"],
        "The username/password couple is invalid."
    );

    let response = app.login("USRthisisnonexisting", PASSWORD).await;
    assert_eq!(
        (response.status.as_u16(), oauth_error(&response.body)),
        (400, "invalid_grant")
    );

    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
            ("username", &identity.username),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!(
        (response.status.as_u16(), oauth_error(&response.body)),
        (401, "invalid_client")
    );
}

async fn malformed_token_requests_get_oauth_errors(app: TestApp) {
    let response = app
        .token_request(&[("grant_type", "client_credentials"), ("client_id", CLIENT_ID)])
        .await;
    assert_eq!(
        (response.status.as_u16(), oauth_error(&response.body)),
        (400, "unsupported_grant_type")
    );
    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (response.status.as_u16(), oauth_error(&response.body)),
        (400, "invalid_request")
    );
    let response = app.token_request(&[]).await;
    assert_eq!(
        (response.status.as_u16(), oauth_error(&response.body)),
        (400, "invalid_request")
    );
}

async fn three_failed_logins_lock_the_device_for_a_while(app: TestApp) {
    let identity = app.create_identity().await;
    for _ in 0..2 {
        assert_eq!(
            oauth_error(&app.login(&identity.username, "wrong").await.body),
            "invalid_grant"
        );
    }
    assert_eq!(
        oauth_error(&app.login(&identity.username, "wrong").await.body),
        "access_denied"
    );
    // Locked: even the right password is refused.
    let locked = app.login(&identity.username, PASSWORD).await;
    assert_eq!(
        (locked.status.as_u16(), oauth_error(&locked.body)),
        (400, "access_denied")
    );
    // The dev lockout is one minute.
    app.clock.advance(Duration::seconds(61));
    app.login(&identity.username, PASSWORD).await.expect_status(200);
    // A success resets the counter: two more failures do not lock.
    for _ in 0..2 {
        assert_eq!(
            oauth_error(&app.login(&identity.username, "wrong").await.body),
            "invalid_grant"
        );
    }
    app.login(&identity.username, PASSWORD).await.expect_status(200);
}

/// 200 guesses at once: the attempt counter is taken before the password is checked, so only
/// the configured three are evaluated; the rest are refused as locked out, and so is the right
/// password afterwards.
async fn a_burst_of_wrong_passwords_gets_only_the_allowed_evaluations(app: TestApp) {
    let identity = app.create_identity().await;
    let guesses = (0..200).map(|i| {
        let (app, username) = (&app, identity.username.clone());
        async move { app.login(&username, &format!("wrong-{i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let count = |error: &str| answers.iter().filter(|a| oauth_error(&a.body) == error).count();
    assert_eq!(
        count("invalid_grant"),
        2,
        "only attempts below the limit are told the grant is invalid"
    );
    assert_eq!(count("access_denied"), 198);
    let locked = app.login(&identity.username, PASSWORD).await;
    assert_eq!(oauth_error(&locked.body), "access_denied");
    app.clock.advance(Duration::seconds(61));
    app.login(&identity.username, PASSWORD).await.expect_status(200);
}

async fn expired_and_forged_tokens_are_rejected(app: TestApp) {
    let identity = app.create_identity().await;
    app.clock.advance(Duration::seconds(301));
    let expired = app.get("/api/v2/Identities/Self", Some(&identity.token)).await;
    assert_eq!(expired.status, 401);
    assert!(expired.text.is_empty());
    assert!(expired.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let mut forged = identity.token.clone();
    forged.pop();
    assert_eq!(
        app.get("/api/v2/Identities/Self", Some(&forged)).await.status,
        401
    );
}

async fn first_login_onboards_the_device_and_clears_the_backup_flag(app: TestApp) {
    let identity = app.create_identity().await;
    let backup = app.register_device(&identity, true).await.result().clone();
    assert_eq!(backup["isBackupDevice"], true);
    let backup_token = app.token(backup["username"].as_str().unwrap(), PASSWORD).await;
    let device = app
        .get("/api/v2/Devices/Self", Some(&backup_token))
        .await
        .result()
        .clone();
    assert_eq!(device["isBackupDevice"], false);
    assert!(device["lastLogin"]["time"].is_string());
    let events: Vec<String> = backbone_db::sqlx::query_scalar(
        "SELECT payload FROM outbox_events WHERE event_type = 'BackupDeviceUsed'",
    )
    .fetch_all(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].contains(&identity.address));
}
