//! Spec consumer-api-exchange §6 (Tokens): create, get with the access rules of §6.3, list by
//! IDs, delete, `UpdateContent`.

use backbone_core::encoding::{encode_bytes, format_date};
use chrono::Duration;
use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_date, assert_keys, standard_base64, Response, TestApp, TestIdentity};
use crate::on_both_databases;

on_both_databases!(
    authenticated_callers_create_tokens_with_all_fields,
    anonymous_callers_create_short_lived_empty_tokens,
    invalid_create_requests_are_refused_without_writing,
    the_creator_reads_regardless_of_every_other_rule,
    first_read_allocates_and_allocations_outlive_expiry,
    expired_tokens_are_not_found,
    personalised_tokens_are_only_for_their_identity,
    wrong_passwords_are_counted_and_the_hundredth_locks,
    concurrent_wrong_passwords_lock_exactly_once,
    anonymous_callers_read_without_allocation,
    reading_validates_id_and_password,
    listing_returns_created_or_allocated_tokens,
    only_the_creator_deletes_and_allocations_go_with_it,
    update_content_fills_an_anonymous_empty_token,
    update_content_checks_in_upstream_order,
    update_content_validates_before_looking_up,
);

const TOKEN_KEYS: &[&str] = &[
    "id",
    "createdBy",
    "createdByDevice",
    "forIdentity",
    "createdAt",
    "expiresAt",
    "content",
    "isPasswordProtected",
];

/// Bytes whose standard base64 (`+/+/`) differs from base64url (`-_-_`).
const CONTENT: &[u8] = &[0xfb, 0xff, 0xbf];
/// Standard base64 `+/8BcA==`: needs URL-encoding in a query string.
const PASSWORD: &[u8] = &[0xfb, 0xff, 0x01, b'p'];

fn in_future(app: &TestApp, duration: Duration) -> String {
    format_date(&(app.clock_now() + duration))
}

/// A query-string password as the client sends it: standard base64, URL-encoded.
fn query_password(bytes: &[u8]) -> String {
    standard_base64(bytes)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

async fn create(app: &TestApp, creator: Option<&TestIdentity>, body: Value) -> String {
    let response = app
        .post("/api/v2/Tokens", creator.map(|c| c.token.as_str()), body)
        .await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A token with content that expires in an hour, plus the given fields.
async fn create_with(app: &TestApp, creator: &TestIdentity, extra: Value) -> String {
    let mut body =
        json!({ "content": standard_base64(CONTENT), "expiresAt": in_future(app, Duration::hours(1)) });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    // Lists are ordered by creation time; let time pass so the order is well-defined.
    app.clock.advance(Duration::milliseconds(10));
    create(app, Some(creator), body).await
}

async fn get_token(
    app: &TestApp,
    id: &str,
    caller: Option<&TestIdentity>,
    password: Option<&[u8]>,
) -> Response {
    let query = password
        .map(|p| format!("?password={}", query_password(p)))
        .unwrap_or_default();
    app.get(
        &format!("/api/v2/Tokens/{id}{query}"),
        caller.map(|c| c.token.as_str()),
    )
    .await
}

/// Moves the clock. Bearer tokens only live five minutes, so the identities log in again.
async fn advance(app: &TestApp, by: Duration, identities: &mut [&mut TestIdentity]) {
    app.clock.advance(by);
    for identity in identities.iter_mut() {
        identity.token = app.token(&identity.username, &identity.password).await;
    }
}

async fn failed_count(app: &TestApp, id: &str) -> i64 {
    backbone_db::sqlx::query_scalar("SELECT access_failed_count FROM tokens WHERE id = $1")
        .bind(id)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap()
}

async fn set_failed_count(app: &TestApp, id: &str, count: i64) {
    backbone_db::sqlx::query("UPDATE tokens SET access_failed_count = $1 WHERE id = $2")
        .bind(count)
        .bind(id)
        .execute(app.app.db.writer())
        .await
        .unwrap();
}

/// The payloads of the outbox events of this type, oldest first.
async fn outbox_payloads(app: &TestApp, event_type: &str) -> Vec<Value> {
    let payloads: Vec<String> = backbone_db::sqlx::query_scalar(
        "SELECT payload FROM outbox_events WHERE event_type = $1 ORDER BY sequence",
    )
    .bind(event_type)
    .fetch_all(app.app.db.pool())
    .await
    .unwrap();
    payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect()
}

async fn content_is_null(app: &TestApp, id: &str) -> bool {
    let content: Option<Vec<u8>> =
        backbone_db::sqlx::query_scalar("SELECT content FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_one(app.app.db.pool())
            .await
            .unwrap();
    content.is_none()
}

fn ids_of(response: &Response) -> Vec<String> {
    response
        .result()
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", response.text))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

// POST /Tokens ---------------------------------------------------------------------------------

async fn authenticated_callers_create_tokens_with_all_fields(app: TestApp) {
    let creator = app.create_identity().await;
    let peer = app.create_identity().await;
    let expires_at = in_future(&app, Duration::days(30));
    let response = app
        .post(
            "/api/v2/Tokens",
            Some(&creator.token),
            json!({
                "content": standard_base64(CONTENT),
                "expiresAt": expires_at,
                "forIdentity": peer.address,
                "password": standard_base64(PASSWORD),
            }),
        )
        .await;
    response.expect_status(201);
    let created = response.result();
    assert_keys(created, &["id", "createdAt"]);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("TOK") && id.len() == 20, "{id}");
    assert_date(&created["createdAt"]);
    assert_eq!(
        response.headers["location"].to_str().unwrap(),
        format!("/api/v2/Tokens/{id}")
    );

    let token = get_token(&app, id, Some(&creator), None).await;
    token.expect_status(200);
    assert_keys(token.result(), TOKEN_KEYS);
    assert_eq!(token.result()["createdBy"], creator.address.as_str());
    assert_eq!(token.result()["createdByDevice"], creator.device_id.as_str());
    assert_eq!(token.result()["forIdentity"], peer.address.as_str());
    assert_eq!(token.result()["expiresAt"], expires_at.as_str());
    assert_eq!(token.result()["createdAt"], created["createdAt"]);
    assert_eq!(token.result()["content"], "-_-_", "base64url without padding");
    assert_eq!(token.result()["isPasswordProtected"], true);

    // An authenticated caller may create an empty token; PascalCase names bind too.
    let empty = create(
        &app,
        Some(&creator),
        json!({ "ExpiresAt": in_future(&app, Duration::minutes(10)) }),
    )
    .await;
    let token = get_token(&app, &empty, Some(&creator), None).await;
    assert!(token.result()["content"].is_null());
    assert!(token.result()["forIdentity"].is_null());
    assert_eq!(token.result()["isPasswordProtected"], false);

    assert_eq!(app.count("tokens").await, 2);
    let events = outbox_payloads(&app, "TokenCreated").await;
    assert_eq!(events[0], json!({ "TokenId": id, "CreatedBy": creator.address }));
    assert_eq!(events.len(), 2);
}

async fn anonymous_callers_create_short_lived_empty_tokens(app: TestApp) {
    let response = app
        .post(
            "/api/v2/Tokens",
            None,
            json!({ "expiresAt": in_future(&app, Duration::minutes(2)) }),
        )
        .await;
    response.expect_status(201);
    let id = response.result()["id"].as_str().unwrap().to_owned();
    let token = get_token(&app, &id, None, None).await;
    token.expect_status(200);
    assert_keys(token.result(), TOKEN_KEYS);
    assert!(token.result()["createdBy"].is_null());
    assert!(token.result()["createdByDevice"].is_null());
    assert!(token.result()["content"].is_null());
    assert_eq!(
        outbox_payloads(&app, "TokenCreated").await,
        [json!({ "TokenId": id, "CreatedBy": null })]
    );

    // Just under five minutes is fine; five minutes or more is not.
    create(
        &app,
        None,
        json!({ "expiresAt": in_future(&app, Duration::seconds(299)) }),
    )
    .await;
    app.post(
        "/api/v2/Tokens",
        None,
        json!({ "expiresAt": in_future(&app, Duration::minutes(5) + Duration::milliseconds(1)) }),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.post(
        "/api/v2/Tokens",
        None,
        json!({ "expiresAt": in_future(&app, Duration::days(1)) }),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    // Content is not allowed anonymously.
    let refused = app
        .post(
            "/api/v2/Tokens",
            None,
            json!({ "content": standard_base64(CONTENT), "expiresAt": in_future(&app, Duration::minutes(2)) }),
        )
        .await;
    refused.expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'content'"));
    // An explicit null is the same as absent.
    create(
        &app,
        None,
        json!({ "content": null, "expiresAt": in_future(&app, Duration::minutes(2)) }),
    )
    .await;
    assert_eq!(app.count("tokens").await, 3);
}

#[expect(
    clippy::too_many_lines,
    reason = "a table of bad requests with their codes, read as the spec's list"
)]
async fn invalid_create_requests_are_refused_without_writing(app: TestApp) {
    let creator = app.create_identity().await;
    let post = |body: Value| app.post("/api/v2/Tokens", Some(&creator.token), body);
    let soon = in_future(&app, Duration::hours(1));
    let cases = [
        (json!({ "content": "AAAA" }), "error.platform.inputCannotBeParsed"),
        (
            json!({ "content": "AAAA", "expiresAt": null }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "content": "AAAA", "expiresAt": "next week" }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "content": "not base64!", "expiresAt": soon }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "password": "%%%", "expiresAt": soon }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "content": "AAAA", "expiresAt": format_date(&(app.clock_now() - Duration::seconds(1))) }),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            json!({ "content": "AAAA", "expiresAt": format_date(&app.clock_now()) }),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            json!({ "password": "", "expiresAt": soon }),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            json!({ "password": standard_base64(&[7; 201]), "expiresAt": soon }),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            json!({ "forIdentity": "did:e:localhost:dids:0000", "expiresAt": soon }),
            "error.platform.validation.invalidPropertyValue",
        ),
    ];
    for (body, code) in cases {
        let response = post(body.clone()).await;
        assert_eq!(response.error_code(), code, "{body}: {}", response.text);
        response.expect_error(400, code);
    }
    let response = post(json!({ "password": "", "expiresAt": soon })).await;
    assert_eq!(
        response.body["error"]["message"],
        "'password' must be between 1 and 200 bytes long. You entered 0 bytes."
    );
    let response = post(json!({ "expiresAt": format_date(&app.clock_now()) })).await;
    assert_eq!(
        response.body["error"]["message"],
        "'expiresAt' must be in the future."
    );
    app.raw(
        app.http
            .post(format!("{}/api/v2/Tokens", app.base))
            .bearer_auth(&creator.token)
            .header("content-type", "application/json")
            .body("{"),
    )
    .await
    .expect_error(400, "error.platform.inputCannotBeParsed");
    assert_eq!(app.count("tokens").await, 0);
    assert!(outbox_payloads(&app, "TokenCreated").await.is_empty());

    // Lenient dates: a plain date is midnight UTC, a date-time without offset is UTC.
    let tomorrow = (app.clock_now() + Duration::days(2)).date_naive();
    let id = create(
        &app,
        Some(&creator),
        json!({ "expiresAt": tomorrow.format("%Y-%m-%d").to_string() }),
    )
    .await;
    let token = get_token(&app, &id, Some(&creator), None).await;
    assert_eq!(
        token.result()["expiresAt"],
        format!("{}T00:00:00.000Z", tomorrow.format("%Y-%m-%d"))
    );
    let id = create(
        &app,
        Some(&creator),
        json!({ "expiresAt": format!("{}T10:11:12", tomorrow.format("%Y-%m-%d")) }),
    )
    .await;
    let token = get_token(&app, &id, Some(&creator), None).await;
    assert_eq!(
        token.result()["expiresAt"],
        format!("{}T10:11:12.000Z", tomorrow.format("%Y-%m-%d"))
    );
    // Base64url in, with or without padding, is accepted as well.
    let id = create(
        &app,
        Some(&creator),
        json!({ "content": "-_-_", "password": "AQ", "expiresAt": soon }),
    )
    .await;
    let token = get_token(&app, &id, Some(&creator), None).await;
    assert_eq!(token.result()["content"], encode_bytes(CONTENT));
    assert_eq!(token.result()["isPasswordProtected"], true);
}

// GET /Tokens/{id} -----------------------------------------------------------------------------

/// Rule 1.
async fn the_creator_reads_regardless_of_every_other_rule(app: TestApp) {
    let mut creator = app.create_identity().await;
    let peer = app.create_identity().await;
    let id = create_with(
        &app,
        &creator,
        json!({ "forIdentity": peer.address, "password": standard_base64(PASSWORD) }),
    )
    .await;
    set_failed_count(&app, &id, 100).await;
    advance(&app, Duration::hours(2), &mut [&mut creator]).await;
    let response = get_token(&app, &id, Some(&creator), None).await;
    response.expect_status(200);
    assert_eq!(response.result()["id"], id.as_str());
    assert_eq!(response.result()["content"], encode_bytes(CONTENT));
    // Also through a wrong password and a differently spelled route; nothing is recorded.
    let response = app
        .get(
            &format!("/API/v2/tokens/{id}?Password={}", query_password(b"wrong")),
            Some(&creator.token),
        )
        .await;
    response.expect_status(200);
    assert_eq!(failed_count(&app, &id).await, 100);
    assert_eq!(app.count("token_allocations").await, 0);
}

/// Rules 2 and 8.
async fn first_read_allocates_and_allocations_outlive_expiry(app: TestApp) {
    let creator = app.create_identity().await;
    let mut peer = app.create_identity().await;
    let mut stranger = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    let response = get_token(&app, &id, Some(&peer), Some(PASSWORD)).await;
    response.expect_status(200);
    assert_keys(response.result(), TOKEN_KEYS);
    assert_eq!(response.result()["createdBy"], creator.address.as_str());
    let (allocated_by, allocated_by_device, allocated_at): (String, String, i64) =
        backbone_db::sqlx::query_as(
            "SELECT allocated_by, allocated_by_device, allocated_at FROM token_allocations WHERE token_id = $1",
        )
        .bind(&id)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
    assert_eq!(allocated_by, peer.address);
    assert_eq!(allocated_by_device, peer.device_id);
    assert_eq!(allocated_at, app.clock_now().timestamp_millis());

    // With an allocation neither the password nor the expiry matter any more.
    advance(&app, Duration::hours(2), &mut [&mut peer, &mut stranger]).await;
    get_token(&app, &id, Some(&peer), None).await.expect_status(200);
    get_token(&app, &id, Some(&peer), Some(b"wrong"))
        .await
        .expect_status(200);
    assert_eq!(app.count("token_allocations").await, 1);
    assert_eq!(failed_count(&app, &id).await, 0);
    get_token(&app, &id, Some(&stranger), Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(app.count("token_allocations").await, 1);
}

/// Rule 3.
async fn expired_tokens_are_not_found(app: TestApp) {
    let mut creator = app.create_identity().await;
    let mut peer = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    advance(
        &app,
        Duration::hours(1) + Duration::milliseconds(1),
        &mut [&mut creator, &mut peer],
    )
    .await;
    get_token(&app, &id, Some(&peer), Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    get_token(&app, &id, None, Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    // Expired tokens do not count wrong passwords either.
    get_token(&app, &id, Some(&peer), Some(b"wrong"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &id).await, 0);
    assert_eq!(app.count("token_allocations").await, 0);
    get_token(&app, &id, Some(&creator), None)
        .await
        .expect_status(200);
}

/// Rule 5.
async fn personalised_tokens_are_only_for_their_identity(app: TestApp) {
    let creator = app.create_identity().await;
    let recipient = app.create_identity().await;
    let stranger = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "forIdentity": recipient.address })).await;
    get_token(&app, &id, Some(&stranger), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    get_token(&app, &id, None, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(app.count("token_allocations").await, 0);
    let response = get_token(&app, &id, Some(&recipient), None).await;
    response.expect_status(200);
    assert_eq!(response.result()["forIdentity"], recipient.address.as_str());
    get_token(&app, &id, Some(&creator), None)
        .await
        .expect_status(200);
    assert_eq!(app.count("token_allocations").await, 1);

    // forIdentity is checked before the password: a stranger's wrong password is not counted.
    let protected = create_with(
        &app,
        &creator,
        json!({ "forIdentity": recipient.address, "password": standard_base64(PASSWORD) }),
    )
    .await;
    get_token(&app, &protected, Some(&stranger), Some(b"wrong"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &protected).await, 0);
    get_token(&app, &protected, Some(&recipient), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &protected).await, 1);
    get_token(&app, &protected, Some(&recipient), Some(PASSWORD))
        .await
        .expect_status(200);
}

/// Rules 4 and 6.
async fn wrong_passwords_are_counted_and_the_hundredth_locks(app: TestApp) {
    let creator = app.create_identity().await;
    let peer = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    // Missing, wrong, anonymous: all count.
    get_token(&app, &id, Some(&peer), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let response = get_token(&app, &id, Some(&peer), Some(b"wrong")).await;
    response.expect_error(404, "error.platform.recordNotFound");
    assert!(response.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Token not found. Make sure the ID exists and the record is not expired."));
    get_token(&app, &id, None, Some(b"wrong"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &id).await, 3);
    for _ in 3..99 {
        get_token(&app, &id, Some(&peer), Some(b"wrong"))
            .await
            .expect_error(404, "error.platform.recordNotFound");
    }
    assert_eq!(failed_count(&app, &id).await, 99);
    assert!(outbox_payloads(&app, "TokenLocked").await.is_empty());
    let locking = get_token(&app, &id, Some(&peer), Some(b"wrong")).await;
    locking.expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    assert_eq!(failed_count(&app, &id).await, 100);
    assert_eq!(
        outbox_payloads(&app, "TokenLocked").await,
        [json!({ "TokenId": id, "CreatedBy": creator.address })]
    );

    // Locked: even the right password is refused, nothing more is counted or raised.
    get_token(&app, &id, Some(&peer), Some(PASSWORD))
        .await
        .expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    get_token(&app, &id, None, Some(b"wrong"))
        .await
        .expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    assert_eq!(failed_count(&app, &id).await, 100);
    assert_eq!(outbox_payloads(&app, "TokenLocked").await.len(), 1);
    assert_eq!(app.count("token_allocations").await, 0);
    // The creator still reads it.
    get_token(&app, &id, Some(&creator), None)
        .await
        .expect_status(200);
}

async fn concurrent_wrong_passwords_lock_exactly_once(app: TestApp) {
    let creator = app.create_identity().await;
    let peer = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    set_failed_count(&app, &id, 95).await;
    let attempts = (0..10).map(|_| get_token(&app, &id, Some(&peer), Some(b"wrong")));
    let responses = join_all(attempts).await;
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [400, 400, 400, 400, 400, 400, 404, 404, 404, 404]);
    assert_eq!(failed_count(&app, &id).await, 100);
    assert_eq!(outbox_payloads(&app, "TokenLocked").await.len(), 1);
}

/// Rules 1 (anonymous and anonymous token) and 7.
async fn anonymous_callers_read_without_allocation(app: TestApp) {
    let creator = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    let response = get_token(&app, &id, None, Some(PASSWORD)).await;
    response.expect_status(200);
    assert_eq!(response.result()["content"], encode_bytes(CONTENT));
    assert_eq!(app.count("token_allocations").await, 0);

    // An anonymously created token is read anonymously without any check.
    let anonymous = create(
        &app,
        None,
        json!({ "expiresAt": in_future(&app, Duration::minutes(2)), "password": standard_base64(PASSWORD) }),
    )
    .await;
    app.clock.advance(Duration::minutes(3));
    get_token(&app, &anonymous, None, None).await.expect_status(200);
    // An identity is not its creator: normal rules apply (expired now).
    get_token(&app, &anonymous, Some(&creator), Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    // An invalid bearer token on an anonymous endpoint counts as anonymous.
    let response = app
        .get(&format!("/api/v2/Tokens/{anonymous}"), Some("not-a-jwt"))
        .await;
    response.expect_status(200);
    assert_eq!(app.count("token_allocations").await, 0);
    assert_eq!(failed_count(&app, &anonymous).await, 0);
}

async fn reading_validates_id_and_password(app: TestApp) {
    let creator = app.create_identity().await;
    let id = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    for bad in ["TOKshort!", "MSGaaaaaaaaaaaaaaaaa", "TOKaaaaaaaaaaaaaaaaaa"] {
        app.get(&format!("/api/v2/Tokens/{bad}"), Some(&creator.token))
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    get_token(&app, "TOKthisisnonexisting", None, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get(&format!("/api/v2/Tokens/{id}?password=%25%25"), None)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    get_token(&app, &id, None, Some(&[1; 201]))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(failed_count(&app, &id).await, 0);
    // An empty password parameter is no password.
    app.get(&format!("/api/v2/Tokens/{id}?password="), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &id).await, 1);
    // Standard base64 with `+`, `/` and padding, URL-encoded, as the client sends it.
    assert_eq!(standard_base64(PASSWORD), "+/8BcA==");
    get_token(&app, &id, None, Some(PASSWORD))
        .await
        .expect_status(200);
}

// GET /Tokens -----------------------------------------------------------------------------------

async fn listing_returns_created_or_allocated_tokens(app: TestApp) {
    let mut i1 = app.create_identity().await;
    let i2 = app.create_identity().await;
    let i3 = app.create_identity().await;
    let own = create_with(&app, &i1, json!({})).await;
    let protected = create_with(&app, &i1, json!({ "password": standard_base64(PASSWORD) })).await;
    let for_i2 = create_with(&app, &i1, json!({ "forIdentity": i2.address })).await;
    let by_i2 = create_with(&app, &i2, json!({})).await;
    get_token(&app, &protected, Some(&i2), Some(PASSWORD))
        .await
        .expect_status(200);
    let all = [&own, &protected, &for_i2, &by_i2];
    let query = all
        .iter()
        .map(|id| format!("ids={id}"))
        .collect::<Vec<_>>()
        .join("&");

    let response = list_tokens(&app, &i1, query.clone()).await;
    response.expect_status(200);
    assert_keys(&response.body, &["result"]);
    assert_keys(&response.result()[0], TOKEN_KEYS);
    assert_eq!(ids_of(&response), [own.as_str(), &protected, &for_i2]);
    // i2 sees what it allocated and created; a personalised token it never read is not listed.
    assert_eq!(
        ids_of(&list_tokens(&app, &i2, query.clone()).await),
        [protected.as_str(), &by_i2]
    );
    assert!(ids_of(&list_tokens(&app, &i3, query.clone()).await).is_empty());

    // The legacy binding the official client uses; its passwords are ignored.
    let legacy = format!(
        "tokens.0.id={protected}&tokens.0.password={}&tokens.1.id={by_i2}&tokens.2.id={own}",
        query_password(b"wrong")
    );
    assert_eq!(
        ids_of(&list_tokens(&app, &i2, legacy).await),
        [protected.as_str(), &by_i2]
    );
    assert_eq!(
        ids_of(&list_tokens(&app, &i1, format!("Tokens.0.Id={own}&tokens.2.id={for_i2}")).await),
        [own.as_str()],
        "indices stop at the first gap"
    );

    // No expiry filter and no new allocations.
    advance(&app, Duration::days(1), &mut [&mut i1]).await;
    assert_eq!(ids_of(&list_tokens(&app, &i1, query.clone()).await).len(), 3);
    assert_eq!(app.count("token_allocations").await, 1);

    // Paging.
    let page = list_tokens(&app, &i1, format!("{query}&pageSize=2&pageNumber=2")).await;
    assert_eq!(ids_of(&page), [for_i2.as_str()]);
    assert_eq!(
        page.body["pagination"],
        json!({ "pageNumber": 2, "pageSize": 2, "totalPages": 2, "totalRecords": 3 })
    );

    // Validation.
    list_tokens(&app, &i1, String::new())
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    list_tokens(&app, &i1, "tokens.0.password=AAAA".into())
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    list_tokens(&app, &i1, format!("ids={own}&ids=TOK-invalid"))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    list_tokens(&app, &i1, format!("{query}&pageNumber=0"))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    list_tokens(&app, &i1, format!("{query}&pageSize=201"))
        .await
        .expect_error(400, "error.platform.validation.pagination.invalidPageSize");
    assert_eq!(
        app.get(&format!("/api/v2/Tokens?{query}"), None).await.status,
        401
    );
}

async fn list_tokens(app: &TestApp, caller: &TestIdentity, query: String) -> Response {
    app.get(&format!("/api/v2/Tokens?{query}"), Some(&caller.token))
        .await
}

// DELETE /Tokens/{id} ----------------------------------------------------------------------------

async fn only_the_creator_deletes_and_allocations_go_with_it(app: TestApp) {
    let mut creator = app.create_identity().await;
    let peer = app.create_identity().await;
    let id = create_with(&app, &creator, json!({})).await;
    get_token(&app, &id, Some(&peer), None).await.expect_status(200);
    assert_eq!(app.count("token_allocations").await, 1);

    app.delete("/api/v2/Tokens/TOKthisisnonexisting", Some(&creator.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.delete("/api/v2/Tokens/notatoken", Some(&creator.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(
        app.delete(&format!("/api/v2/Tokens/{id}"), None).await.status,
        401
    );
    let forbidden = app
        .delete(&format!("/api/v2/Tokens/{id}"), Some(&peer.token))
        .await;
    forbidden.expect_error(403, "error.platform.forbidden");
    assert_eq!(app.count("tokens").await, 1);

    // Expired tokens can still be deleted.
    advance(&app, Duration::days(2), &mut [&mut creator]).await;
    let response = app
        .delete(&format!("/api/v2/Tokens/{id}"), Some(&creator.token))
        .await;
    response.expect_status(204);
    assert!(response.text.is_empty());
    assert_eq!(app.count("tokens").await, 0);
    assert_eq!(app.count("token_allocations").await, 0);
    get_token(&app, &id, Some(&creator), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");

    // Nobody owns an anonymous token.
    let anonymous = create(
        &app,
        None,
        json!({ "expiresAt": in_future(&app, Duration::minutes(2)) }),
    )
    .await;
    app.delete(&format!("/api/v2/Tokens/{anonymous}"), Some(&creator.token))
        .await
        .expect_error(403, "error.platform.forbidden");
}

// POST /Tokens/{id}/UpdateContent --------------------------------------------------------------

async fn update_content(
    app: &TestApp,
    id: &str,
    caller: &TestIdentity,
    content: &[u8],
    password: Option<&[u8]>,
) -> Response {
    let mut body = json!({ "id": id, "newContent": standard_base64(content) });
    if let Some(password) = password {
        body["password"] = json!(standard_base64(password));
    }
    app.post(
        &format!("/api/v2/Tokens/{id}/UpdateContent"),
        Some(&caller.token),
        body,
    )
    .await
}

async fn update_content_fills_an_anonymous_empty_token(app: TestApp) {
    let filler = app.create_identity().await;
    let anonymous = app
        .post(
            "/api/v2/Tokens",
            None,
            json!({ "expiresAt": in_future(&app, Duration::minutes(2)) }),
        )
        .await;
    let id = anonymous.result()["id"].as_str().unwrap().to_owned();
    let created_at = anonymous.result()["createdAt"].clone();

    let response = update_content(&app, &id, &filler, CONTENT, None).await;
    response.expect_status(200);
    let updated = response.result();
    assert_keys(
        updated,
        &[
            "id",
            "createdBy",
            "createdByDevice",
            "forIdentity",
            "createdAt",
            "expiresAt",
            "isPasswordProtected",
        ],
    );
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["createdBy"], filler.address.as_str());
    assert_eq!(updated["createdByDevice"], filler.device_id.as_str());
    assert_eq!(updated["createdAt"], created_at);
    assert!(updated["forIdentity"].is_null());
    assert_eq!(updated["isPasswordProtected"], false);

    // The new device reads it anonymously; the anonymous caller is no longer its creator, but
    // the token has neither password nor recipient.
    let token = get_token(&app, &id, None, None).await;
    token.expect_status(200);
    assert_eq!(token.result()["content"], encode_bytes(CONTENT));
    assert_eq!(token.result()["createdBy"], filler.address.as_str());
    assert_eq!(token.result()["createdByDevice"], filler.device_id.as_str());
    // The filler is now the creator (and may delete it).
    assert_eq!(app.count("token_allocations").await, 0);

    // Only once.
    update_content(&app, &id, &filler, b"other", None)
        .await
        .expect_error(
            400,
            "error.platform.token.contentUpdateNotPossibleBecauseContentAlreadyExists",
        );
    let token = get_token(&app, &id, None, None).await;
    assert_eq!(token.result()["content"], encode_bytes(CONTENT));
    app.delete(&format!("/api/v2/Tokens/{id}"), Some(&filler.token))
        .await
        .expect_status(204);
}

async fn update_content_checks_in_upstream_order(app: TestApp) {
    let mut creator = app.create_identity().await;
    let recipient = app.create_identity().await;
    let stranger = app.create_identity().await;
    let empty = |extra: Value| {
        let mut body = json!({ "expiresAt": in_future(&app, Duration::hours(1)) });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        create(&app, Some(&creator), body)
    };
    let id = empty(json!({ "forIdentity": recipient.address, "password": standard_base64(PASSWORD) })).await;

    // forIdentity before password: a stranger is not counted.
    update_content(&app, &id, &stranger, CONTENT, Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &id).await, 0);
    // Wrong or missing passwords count, for the creator too.
    update_content(&app, &id, &recipient, CONTENT, Some(b"wrong"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    update_content(&app, &id, &creator, CONTENT, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(failed_count(&app, &id).await, 2);
    assert!(content_is_null(&app, &id).await);

    // The hundredth failure locks and raises TokenLocked; then even the right password fails.
    set_failed_count(&app, &id, 99).await;
    update_content(&app, &id, &recipient, CONTENT, Some(b"wrong"))
        .await
        .expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    assert_eq!(
        outbox_payloads(&app, "TokenLocked").await,
        [json!({ "TokenId": id, "CreatedBy": creator.address })]
    );
    update_content(&app, &id, &recipient, CONTENT, Some(PASSWORD))
        .await
        .expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    assert_eq!(failed_count(&app, &id).await, 100);
    assert!(content_is_null(&app, &id).await);

    // The recipient fills a personalised, protected token with the right password.
    let second =
        empty(json!({ "forIdentity": recipient.address, "password": standard_base64(PASSWORD) })).await;
    let response = update_content(&app, &second, &recipient, CONTENT, Some(PASSWORD)).await;
    response.expect_status(200);
    assert_eq!(response.result()["createdBy"], recipient.address.as_str());
    assert_eq!(response.result()["createdByDevice"], recipient.device_id.as_str());
    assert_eq!(response.result()["forIdentity"], recipient.address.as_str());
    assert_eq!(response.result()["isPasswordProtected"], true);
    // The old creator lost rule 1 and is neither recipient nor allocated.
    get_token(&app, &second, Some(&creator), Some(PASSWORD))
        .await
        .expect_error(404, "error.platform.recordNotFound");

    // Content already present (checked after the password).
    let filled = create_with(&app, &creator, json!({ "password": standard_base64(PASSWORD) })).await;
    update_content(&app, &filled, &creator, b"x", Some(b"wrong"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    update_content(&app, &filled, &creator, b"x", Some(PASSWORD))
        .await
        .expect_error(
            400,
            "error.platform.token.contentUpdateNotPossibleBecauseContentAlreadyExists",
        );

    // Expired before locked: an expired token is simply not found.
    let expiring = empty(json!({})).await;
    set_failed_count(&app, &expiring, 100).await;
    advance(&app, Duration::hours(2), &mut [&mut creator]).await;
    update_content(&app, &expiring, &creator, CONTENT, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert!(content_is_null(&app, &expiring).await);
    assert_eq!(outbox_payloads(&app, "TokenLocked").await.len(), 1);
}

async fn update_content_validates_before_looking_up(app: TestApp) {
    let caller = app.create_identity().await;
    let path = "/api/v2/Tokens/TOKthisisnonexisting/UpdateContent";
    app.post(path, Some(&caller.token), json!({ "newContent": "AAAA" }))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let cases = [
        (json!({}), "error.platform.inputCannotBeParsed"),
        (
            json!({ "newContent": null }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "newContent": "not base64!" }),
            "error.platform.inputCannotBeParsed",
        ),
        (
            json!({ "newContent": "" }),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            json!({ "newContent": "AAAA", "password": "" }),
            "error.platform.validation.invalidPropertyValue",
        ),
    ];
    for (body, code) in cases {
        let response = app.post(path, Some(&caller.token), body.clone()).await;
        assert_eq!(response.error_code(), code, "{body}: {}", response.text);
        response.expect_error(400, code);
    }
    app.post(
        "/api/v2/Tokens/invalid/UpdateContent",
        Some(&caller.token),
        json!({ "newContent": "AAAA" }),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(
        app.post(path, None, json!({ "newContent": "AAAA" })).await.status,
        401
    );
    // The route is spelled case-insensitively.
    app.post(
        "/api/v2/tokens/TOKthisisnonexisting/updatecontent",
        Some(&caller.token),
        json!({ "NewContent": "AAAA" }),
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
}
