//! Spec consumer-api-exchange §7 (Files): multipart upload streamed to blob storage, download,
//! metadata, list, delete, ownership tokens (regenerate, claim, validate), the size limit,
//! expiry, and that metadata and blobs never disagree.

use std::time::{Duration as StdDuration, Instant};

use backbone_core::encoding::{encode_bytes, format_date};
use chrono::Duration;
use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::helpers::{assert_date, assert_keys, standard_base64, Backend, Response, TestApp, TestIdentity};
use crate::on_both_databases;
use crate::relationships::external_events_of;

on_both_databases!(
    uploading_stores_metadata_and_content,
    form_fields_bind_case_insensitively_in_any_order,
    missing_parts_are_refused_without_writing,
    bodies_that_are_not_multipart_are_refused,
    the_content_size_is_limited_and_nothing_is_kept,
    invalid_fields_are_refused_without_writing,
    errors_come_in_upstream_order,
    any_identity_reads_live_files_by_id,
    expired_files_are_gone_for_everyone,
    listing_returns_live_files_the_caller_created,
    only_the_creator_deletes_and_the_blob_goes_too,
    the_owner_regenerates_the_token_and_lifts_a_lock,
    claiming_with_the_right_token_transfers_ownership,
    a_wrong_claim_locks_the_file_and_tells_the_owner,
    ownership_tokens_are_validated_before_lookup,
    validating_tokens_locks_only_for_strangers,
    an_interrupted_upload_leaves_nothing_behind,
    a_failed_insert_removes_the_blob,
    orphaned_blobs_are_swept,
);

const UPLOAD_KEYS: &[&str] = &[
    "id",
    "createdAt",
    "createdBy",
    "createdByDevice",
    "modifiedAt",
    "modifiedBy",
    "deletedAt",
    "deletedBy",
    "owner",
    "ownerSignature",
    "ownershipToken",
    "cipherSize",
    "cipherHash",
    "expiresAt",
];

const METADATA_KEYS: &[&str] = &[
    "id",
    "createdAt",
    "createdBy",
    "createdByDevice",
    "modifiedAt",
    "modifiedBy",
    "modifiedByDevice",
    "deletedAt",
    "deletedBy",
    "deletedByDevice",
    "owner",
    "ownerSignature",
    "ownershipIsLocked",
    "cipherSize",
    "cipherHash",
    "expiresAt",
    "encryptedProperties",
];

/// Bytes whose standard base64 differs from base64url.
const CIPHER_HASH: &[u8] = &[0xfb, 0xff, 0xbf, 0x01];
const SIGNATURE: &[u8] = &[0xfa, 0xfb, 0x02];
const PROPERTIES: &[u8] = b"encrypted properties";

type Fields = Vec<(&'static str, String)>;

/// The text fields the client sends (it encodes the hash as base64url, the rest as base64).
fn fields(app: &TestApp, owner: &TestIdentity) -> Fields {
    vec![
        ("cipherHash", encode_bytes(CIPHER_HASH)),
        ("owner", owner.address.clone()),
        ("ownerSignature", standard_base64(SIGNATURE)),
        ("expiresAt", format_date(&(app.clock_now() + Duration::hours(1)))),
        ("encryptedProperties", standard_base64(PROPERTIES)),
    ]
}

fn with(mut fields: Fields, name: &'static str, value: &str) -> Fields {
    fields.retain(|(n, _)| *n != name);
    fields.push((name, value.to_owned()));
    fields
}

fn without(mut fields: Fields, name: &str) -> Fields {
    fields.retain(|(n, _)| *n != name);
    fields
}

/// The form as the client builds it: the content part (`cipher.bin`) first.
fn form(content: Option<&[u8]>, fields: &Fields) -> Form {
    let mut form = Form::new();
    if let Some(content) = content {
        form = form.part("content", Part::bytes(content.to_vec()).file_name("cipher.bin"));
    }
    for (name, value) in fields {
        form = form.text(*name, value.clone());
    }
    form
}

async fn post_form(app: &TestApp, identity: &TestIdentity, form: Form) -> Response {
    let request = app
        .http
        .post(format!("{}/api/v2/Files", app.base))
        .bearer_auth(&identity.token)
        .multipart(form);
    app.raw(request).await
}

/// Uploads `content` with valid fields; returns the `result` object.
async fn upload(app: &TestApp, identity: &TestIdentity, content: &[u8]) -> Value {
    // Lists are ordered by creation time; let time pass so the order is well-defined.
    app.clock.advance(Duration::milliseconds(10));
    let response = post_form(app, identity, form(Some(content), &fields(app, identity))).await;
    response.expect_status(201).result().clone()
}

async fn upload_id(app: &TestApp, identity: &TestIdentity) -> (String, String) {
    let file = upload(app, identity, b"some encrypted content").await;
    let id = file["id"].as_str().unwrap().to_owned();
    (id, file["ownershipToken"].as_str().unwrap().to_owned())
}

/// `GET /Files/{id}`: (status, content type, bytes).
async fn download(app: &TestApp, identity: &TestIdentity, id: &str) -> (u16, String, Vec<u8>) {
    let response = app
        .http
        .get(format!("{}/api/v2/Files/{id}", app.base))
        .bearer_auth(&identity.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.bytes().await.unwrap().to_vec())
}

async fn metadata(app: &TestApp, identity: &TestIdentity, id: &str) -> Response {
    // The client's spelling; the server declares `Metadata`.
    app.get(&format!("/api/v2/Files/{id}/metadata"), Some(&identity.token))
        .await
}

async fn patch(app: &TestApp, path: &str, identity: &TestIdentity, body: Option<Value>) -> Response {
    app.request(reqwest::Method::PATCH, path, Some(&identity.token), body)
        .await
}

async fn claim(app: &TestApp, identity: &TestIdentity, id: &str, token: &str) -> Response {
    let path = format!("/api/v2/Files/{id}/ClaimOwnership");
    patch(app, &path, identity, Some(json!({ "ownershipToken": token }))).await
}

async fn validate(app: &TestApp, identity: &TestIdentity, id: &str, token: &str) -> Response {
    let path = format!("/api/v2/Files/{id}/ValidateOwnershipToken");
    app.post(&path, Some(&identity.token), json!({ "ownershipToken": token }))
        .await
}

/// Names of the stored blobs, whatever the backend.
async fn blob_names(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = app
        .app
        .files
        .blobs
        .list()
        .map(|blob| blob.unwrap().name)
        .collect()
        .await;
    names.sort();
    names
}

/// Nothing of a refused upload was kept.
async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.count("files").await, 0);
    assert_eq!(blob_names(app).await, Vec::<String>::new());
    let uploaded: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'FileUploaded'",
    )
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(uploaded, 0);
}

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

async fn uploading_stores_metadata_and_content(app: TestApp) {
    let alice = app.create_identity().await;
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let expires_at = format_date(&(app.clock_now() + Duration::hours(1)));
    let fields = with(fields(&app, &alice), "expiresAt", &expires_at);
    let response = post_form(&app, &alice, form(Some(&content), &fields)).await;
    response.expect_status(201);
    let file = response.result();
    assert_keys(file, UPLOAD_KEYS);
    let id = file["id"].as_str().unwrap();
    assert!(id.starts_with("FIL") && id.len() == 20, "{id}");
    assert_eq!(
        response.headers["location"].to_str().unwrap(),
        format!("/api/v2/Files/{id}")
    );
    assert_eq!(file["createdBy"], alice.address);
    assert_eq!(file["createdByDevice"], alice.device_id);
    assert_eq!(file["modifiedBy"], alice.address);
    assert_eq!(file["modifiedAt"], file["createdAt"]);
    assert_eq!(
        file["owner"], alice.address,
        "the `owner` field is ignored: owner = caller"
    );
    assert_eq!(file["deletedAt"], Value::Null);
    assert_eq!(file["deletedBy"], Value::Null);
    assert_eq!(file["cipherSize"], content.len());
    assert_eq!(file["cipherHash"], encode_bytes(CIPHER_HASH));
    assert_eq!(file["ownerSignature"], encode_bytes(SIGNATURE));
    assert_eq!(file["expiresAt"], expires_at);
    assert_date(&file["createdAt"]);
    let token = file["ownershipToken"].as_str().unwrap();
    assert_eq!(token.len(), 20);

    let (status, content_type, bytes) = download(&app, &alice, id).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/octet-stream");
    assert_eq!(bytes, content);

    let response = metadata(&app, &alice, id).await;
    response.expect_status(200);
    let meta = response.result();
    assert_keys(meta, METADATA_KEYS);
    assert_eq!(meta["id"], id);
    assert_eq!(meta["modifiedByDevice"], alice.device_id);
    assert_eq!(meta["deletedByDevice"], Value::Null);
    assert_eq!(meta["ownershipIsLocked"], false);
    assert_eq!(meta["encryptedProperties"], encode_bytes(PROPERTIES));
    for key in [
        "createdAt",
        "createdBy",
        "cipherSize",
        "cipherHash",
        "ownerSignature",
        "expiresAt",
    ] {
        assert_eq!(meta[key], file[key], "{key}");
    }

    assert_eq!(blob_names(&app).await, vec![id.to_owned()]);
    assert_eq!(
        outbox_payloads(&app, "FileUploaded").await,
        vec![json!({ "FileId": id, "Owner": alice.address })]
    );
}

async fn form_fields_bind_case_insensitively_in_any_order(app: TestApp) {
    let alice = app.create_identity().await;
    let form = Form::new()
        .text("CipherHash", standard_base64(CIPHER_HASH))
        .text("OWNERSIGNATURE", encode_bytes(SIGNATURE))
        .text("ExpiresAt", "2999-12-17")
        .part("Content", Part::bytes(b"abc".to_vec()).file_name("x"))
        .text("encryptedproperties", standard_base64(PROPERTIES))
        .text("unknown", "ignored");
    let response = post_form(&app, &alice, form).await;
    response.expect_status(201);
    let file = response.result();
    assert_eq!(file["cipherHash"], encode_bytes(CIPHER_HASH));
    assert_eq!(file["ownerSignature"], encode_bytes(SIGNATURE));
    assert_eq!(file["expiresAt"], "2999-12-17T00:00:00.000Z");
    assert_eq!(file["cipherSize"], 3);
}

async fn missing_parts_are_refused_without_writing(app: TestApp) {
    let alice = app.create_identity().await;
    let valid = fields(&app, &alice);
    let refused = |response: Response| response.expect_error(400, "error.platform.inputCannotBeParsed");

    refused(post_form(&app, &alice, form(None, &valid)).await);
    for name in ["cipherHash", "ownerSignature", "expiresAt", "encryptedProperties"] {
        let response = post_form(&app, &alice, form(Some(b"abc"), &without(valid.clone(), name))).await;
        refused(response);
        // Empty values count as missing.
        let response = post_form(&app, &alice, form(Some(b"abc"), &with(valid.clone(), name, ""))).await;
        refused(response);
    }
    // A text field called `content`, or a file part without a file name, is no file.
    let mut text_content = form(None, &valid).text("content", "abc");
    refused(post_form(&app, &alice, text_content).await);
    text_content = form(None, &valid).part("content", Part::bytes(b"abc".to_vec()));
    refused(post_form(&app, &alice, text_content).await);
    // A text field sent as a file part does not count either.
    let as_file = form(Some(b"abc"), &without(valid.clone(), "cipherHash")).part(
        "cipherHash",
        Part::text(encode_bytes(CIPHER_HASH)).file_name("hash"),
    );
    refused(post_form(&app, &alice, as_file).await);
    assert_nothing_written(&app).await;

    let anonymous = app
        .raw(
            app.http
                .post(format!("{}/api/v2/Files", app.base))
                .multipart(form(Some(b"abc"), &valid)),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_nothing_written(&app).await;
}

async fn bodies_that_are_not_multipart_are_refused(app: TestApp) {
    let alice = app.create_identity().await;
    let json = app
        .post("/api/v2/Files", Some(&alice.token), json!({ "content": "YWJj" }))
        .await;
    json.expect_error(400, "error.platform.inputCannotBeParsed");
    let bare = app
        .raw(
            app.http
                .post(format!("{}/api/v2/Files", app.base))
                .bearer_auth(&alice.token)
                .body("abc"),
        )
        .await;
    bare.expect_error(400, "error.platform.inputCannotBeParsed");
    let broken = app
        .raw(
            app.http
                .post(format!("{}/api/v2/Files", app.base))
                .bearer_auth(&alice.token)
                .header("content-type", "multipart/form-data; boundary=xyz")
                .body("--xyz\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a\"\r\n\r\nabc"),
        )
        .await;
    broken.expect_error(400, "error.platform.inputCannotBeParsed");
    assert_nothing_written(&app).await;
}

async fn the_content_size_is_limited_and_nothing_is_kept(app: TestApp) {
    let alice = app.create_identity().await;
    let limit = 10 * 1024 * 1024;
    let at_limit: Vec<u8> = (0..=252).cycle().take(limit).collect();
    let file = upload(&app, &alice, &at_limit).await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(file["cipherSize"], limit);
    assert_eq!(
        download(&app, &alice, id).await.2,
        at_limit,
        "multipart blob round trip"
    );
    backbone_db::sqlx::query("DELETE FROM files")
        .execute(app.app.db.writer())
        .await
        .unwrap();
    app.app.files.blobs.delete(id).await.unwrap();
    backbone_db::sqlx::query("DELETE FROM outbox_events")
        .execute(app.app.db.writer())
        .await
        .unwrap();

    let mut over = at_limit;
    over.push(0);
    let response = post_form(&app, &alice, form(Some(&over), &fields(&app, &alice))).await;
    response.expect_error(400, "InclusiveBetweenValidator");
    assert_eq!(
        response.body["error"]["message"],
        format!(
            "'Content Length' must be between 1 and {limit}. You entered {}.",
            limit + 1
        )
    );
    let response = post_form(&app, &alice, form(Some(b""), &fields(&app, &alice))).await;
    response.expect_error(400, "InclusiveBetweenValidator");
    assert_nothing_written(&app).await;
}

async fn invalid_fields_are_refused_without_writing(app: TestApp) {
    let alice = app.create_identity().await;
    let valid = fields(&app, &alice);
    let cases: Vec<(&'static str, String, &str)> = vec![
        (
            "cipherHash",
            "not base64!".into(),
            "error.platform.inputCannotBeParsed",
        ),
        (
            "ownerSignature",
            "%%%".into(),
            "error.platform.inputCannotBeParsed",
        ),
        (
            "encryptedProperties",
            "a".into(),
            "error.platform.inputCannotBeParsed",
        ),
        (
            "expiresAt",
            "tomorrow".into(),
            "error.platform.inputCannotBeParsed",
        ),
        (
            "cipherHash",
            standard_base64(&[1; 129]),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "ownerSignature",
            standard_base64(&[1; 513]),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "encryptedProperties",
            standard_base64(&vec![1; 1024 * 1024 + 1]),
            "error.platform.validation.invalidPropertyValue",
        ),
        (
            "expiresAt",
            format_date(&app.clock_now()),
            "error.platform.validation.invalidPropertyValue",
        ),
    ];
    for (name, value, code) in cases {
        let response = post_form(
            &app,
            &alice,
            form(Some(b"abc"), &with(valid.clone(), name, &value)),
        )
        .await;
        response.expect_error(400, code);
        assert!(
            response.body["error"]["message"].as_str().unwrap().contains(name),
            "{}",
            response.text
        );
    }
    assert_nothing_written(&app).await;

    // The largest allowed values pass.
    let largest = with(valid, "cipherHash", &standard_base64(&[1; 128]));
    let largest = with(largest, "ownerSignature", &standard_base64(&[1; 512]));
    let largest = with(
        largest,
        "encryptedProperties",
        &standard_base64(&vec![1; 1024 * 1024]),
    );
    post_form(&app, &alice, form(Some(b"abc"), &largest))
        .await
        .expect_status(201);
}

async fn errors_come_in_upstream_order(app: TestApp) {
    let alice = app.create_identity().await;
    let broken_hash = with(fields(&app, &alice), "cipherHash", "not base64!");
    // Model binding (a missing field) before the content length…
    let response = post_form(
        &app,
        &alice,
        form(Some(b""), &without(broken_hash.clone(), "expiresAt")),
    )
    .await;
    response.expect_error(400, "error.platform.inputCannotBeParsed");
    // …the content length before decoding…
    let response = post_form(&app, &alice, form(Some(b""), &broken_hash)).await;
    response.expect_error(400, "InclusiveBetweenValidator");
    // …decoding before the rules.
    let past = with(broken_hash, "expiresAt", "2000-01-01");
    let response = post_form(&app, &alice, form(Some(b"abc"), &past)).await;
    response.expect_error(400, "error.platform.inputCannotBeParsed");
    assert_nothing_written(&app).await;
}

async fn any_identity_reads_live_files_by_id(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let file = upload(&app, &alice, b"for anyone with the id").await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(download(&app, &bob, id).await.2, b"for anyone with the id");
    metadata(&app, &bob, id).await.expect_status(200);

    let unknown = "FILaaaaaaaaaaaaaaaaa";
    assert_eq!(download(&app, &bob, unknown).await.0, 404);
    let response = app
        .get(&format!("/api/v2/Files/{unknown}"), Some(&bob.token))
        .await;
    response.expect_error(404, "error.platform.recordNotFound");
    assert!(response.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("File not found. Make sure the ID exists and the record is not expired."));
    metadata(&app, &bob, unknown)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    for invalid in ["TOKaaaaaaaaaaaaaaaaa", "FILaaaaaaaaaaaaaaaaaa", "FIL-aaa"] {
        let response = app
            .get(&format!("/api/v2/Files/{invalid}"), Some(&bob.token))
            .await;
        response.expect_error(400, "error.platform.validation.invalidPropertyValue");
        metadata(&app, &bob, invalid)
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    assert_eq!(
        app.get(&format!("/api/v2/Files/{id}/Metadata"), None)
            .await
            .status,
        401
    );
}

async fn expired_files_are_gone_for_everyone(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    app.clock.advance(Duration::hours(1));
    let alice = app.relogin(&alice).await;
    let bob = app.relogin(&bob).await;
    assert_eq!(download(&app, &alice, &id).await.0, 404, "expiry is inclusive");
    metadata(&app, &alice, &id)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let listed = app.get("/api/v2/Files", Some(&alice.token)).await;
    assert_eq!(listed.result(), &json!([]));
    app.delete(&format!("/api/v2/Files/{id}"), Some(&alice.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    claim(&app, &bob, &id, &token)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    validate(&app, &bob, &id, &token)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let regenerate = format!("/api/v2/Files/{id}/RegenerateOwnershipToken");
    patch(&app, &regenerate, &alice, None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

async fn listing_returns_live_files_the_caller_created(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(upload_id(&app, &alice).await);
    }
    let (bobs, _) = upload_id(&app, &bob).await;
    let listed = |response: &Response| -> Vec<String> {
        response.expect_status(200);
        response
            .result()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_keys(f, METADATA_KEYS);
                f["id"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    let all: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
    let response = app.get("/api/v2/Files", Some(&alice.token)).await;
    assert_eq!(listed(&response), all, "oldest first");
    assert!(response.body.get("pagination").is_none());

    let query = format!("/api/v2/Files?ids={}&ids={}&ids={bobs}", all[2], all[0]);
    let response = app.get(&query, Some(&alice.token)).await;
    assert_eq!(listed(&response), vec![all[0].clone(), all[2].clone()]);

    let response = app
        .get("/api/v2/Files?pageSize=2&pageNumber=2", Some(&alice.token))
        .await;
    assert_eq!(listed(&response), vec![all[2].clone()]);
    assert_eq!(
        response.body["pagination"],
        json!({ "pageNumber": 2, "pageSize": 2, "totalPages": 2, "totalRecords": 3 })
    );

    // Created by, not owned by: a claimed file stays on its creator's list.
    claim(&app, &bob, &ids[1].0, &ids[1].1).await.expect_status(200);
    let response = app.get("/api/v2/Files", Some(&bob.token)).await;
    assert_eq!(listed(&response), vec![bobs]);
    let response = app.get("/api/v2/Files", Some(&alice.token)).await;
    assert_eq!(listed(&response).len(), 3);

    app.get("/api/v2/Files?ids=nonsense", Some(&alice.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.get("/api/v2/Files?pageSize=201", Some(&alice.token))
        .await
        .expect_error(400, "error.platform.validation.pagination.invalidPageSize");
}

async fn only_the_creator_deletes_and_the_blob_goes_too(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    let (kept, _) = upload_id(&app, &alice).await;
    // Even after bob owns it, only alice (the creator) may delete it.
    claim(&app, &bob, &id, &token).await.expect_status(200);
    app.delete(&format!("/api/v2/Files/{id}"), Some(&bob.token))
        .await
        .expect_error(403, "error.platform.forbidden");
    assert_eq!(app.count("files").await, 2);

    let response = app
        .delete(&format!("/api/v2/Files/{id}"), Some(&alice.token))
        .await;
    response.expect_status(204);
    assert!(response.text.is_empty());
    metadata(&app, &alice, &id)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(download(&app, &bob, &id).await.0, 404);
    assert_eq!(blob_names(&app).await, vec![kept]);
    app.delete(&format!("/api/v2/Files/{id}"), Some(&alice.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.delete("/api/v2/Files/NotAFileId", Some(&alice.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn the_owner_regenerates_the_token_and_lifts_a_lock(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    claim(&app, &bob, &id, "wrong").await.expect_status(403);
    assert_eq!(
        metadata(&app, &alice, &id).await.result()["ownershipIsLocked"],
        true
    );

    let path = format!("/api/v2/Files/{id}/RegenerateOwnershipToken");
    patch(&app, &path, &bob, None)
        .await
        .expect_error(403, "error.platform.forbidden");
    // The client's lower-case spelling of the route works as well.
    let response = patch(
        &app,
        &path.to_lowercase().replace(&id.to_lowercase(), &id),
        &alice,
        None,
    )
    .await;
    response.expect_status(200);
    assert_keys(response.result(), &["newOwnershipToken"]);
    let new_token = response.result()["newOwnershipToken"].as_str().unwrap();
    assert_eq!(new_token.len(), 20);
    assert_ne!(new_token, token);
    assert_eq!(
        metadata(&app, &alice, &id).await.result()["ownershipIsLocked"],
        false
    );
    validate(&app, &alice, &id, &token).await.expect_status(200);
    assert_eq!(
        validate(&app, &alice, &id, new_token).await.result()["isValid"],
        true
    );

    patch(
        &app,
        "/api/v2/Files/FILaaaaaaaaaaaaaaaaa/RegenerateOwnershipToken",
        &alice,
        None,
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    patch(&app, "/api/v2/Files/XYZ/RegenerateOwnershipToken", &alice, None)
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn claiming_with_the_right_token_transfers_ownership(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    claim(&app, &alice, &id, &token).await.expect_error(
        400,
        "error.platform.validation.file.cannotClaimOwnershipOfOwnFile",
    );

    let response = claim(&app, &bob, &id, &token).await;
    response.expect_status(200);
    assert_keys(response.result(), &["newOwnershipToken"]);
    let new_token = response.result()["newOwnershipToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, token);
    let meta = metadata(&app, &alice, &id).await;
    assert_eq!(meta.result()["owner"], bob.address);
    assert_eq!(meta.result()["createdBy"], alice.address);
    let claimed_at: Option<i64> =
        backbone_db::sqlx::query_scalar("SELECT last_ownership_claim_at FROM files WHERE id = $1")
            .bind(&id)
            .fetch_one(app.app.db.pool())
            .await
            .unwrap();
    assert_eq!(claimed_at, Some(app.clock_now().timestamp_millis()));
    // The old token is spent; the new owner can pass the file on with the new one.
    claim(&app, &alice, &id, &token)
        .await
        .expect_error(403, "error.platform.forbidden");
    claim(&app, &bob, &id, &new_token).await.expect_error(
        400,
        "error.platform.validation.file.cannotClaimOwnershipOfOwnFile",
    );

    assert_eq!(
        outbox_payloads(&app, "FileOwnershipClaimed").await,
        vec![json!({ "FileId": id, "OldOwnerAddress": alice.address, "NewOwnerAddress": bob.address })]
    );
    app.process_events().await;
    let events = external_events_of(&app, &alice).await;
    let claimed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "FileOwnershipClaimed")
        .collect();
    assert_eq!(claimed.len(), 1, "{events:?}");
    assert_eq!(
        claimed[0]["payload"],
        json!({ "fileId": id, "newOwnerAddress": bob.address })
    );
}

async fn a_wrong_claim_locks_the_file_and_tells_the_owner(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    claim(&app, &bob, &id, "FILNonExistingXXXXXX")
        .await
        .expect_error(403, "error.platform.forbidden");
    let meta = metadata(&app, &bob, &id).await;
    assert_eq!(meta.result()["ownershipIsLocked"], true);
    assert_eq!(meta.result()["owner"], alice.address);
    // Locked: even the right token is refused now.
    claim(&app, &bob, &id, &token)
        .await
        .expect_error(403, "error.platform.forbidden");
    assert_eq!(metadata(&app, &bob, &id).await.result()["owner"], alice.address);

    assert_eq!(
        outbox_payloads(&app, "FileOwnershipLocked").await,
        vec![json!({ "FileId": id, "OwnerAddress": alice.address })],
        "locking happens once"
    );
    app.process_events().await;
    let events = external_events_of(&app, &alice).await;
    let locked: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "FileOwnershipLocked")
        .collect();
    assert_eq!(locked.len(), 1, "{events:?}");
    assert_eq!(locked[0]["payload"], json!({ "fileId": id }));
}

async fn ownership_tokens_are_validated_before_lookup(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, _) = upload_id(&app, &alice).await;
    let too_long = "a".repeat(21);
    for bad in ["", too_long.as_str(), "has space", "ä"] {
        claim(&app, &bob, &id, bad)
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
        validate(&app, &bob, &id, bad)
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
        claim(&app, &bob, "FILaaaaaaaaaaaaaaaaa", bad)
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    for bad_id in ["NonConforming", "FILaaaaaaaaaaaaaaaaaa"] {
        claim(&app, &bob, bad_id, "token")
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
        validate(&app, &bob, bad_id, "token")
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    claim(&app, &bob, "FILNonExistingXXXXXX", "token")
        .await
        .expect_error(404, "error.platform.recordNotFound");
    validate(&app, &bob, "FILNonExistingXXXXXX", "token")
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let path = format!("/api/v2/Files/{id}/ClaimOwnership");
    patch(&app, &path, &bob, Some(json!({})))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    assert_eq!(
        metadata(&app, &bob, &id).await.result()["ownershipIsLocked"],
        false
    );
    assert!(outbox_payloads(&app, "FileOwnershipLocked").await.is_empty());
}

async fn validating_tokens_locks_only_for_strangers(app: TestApp) {
    let alice = app.create_identity().await;
    let bob = app.create_identity().await;
    let (id, token) = upload_id(&app, &alice).await;
    let is_valid = |response: Response| {
        response.expect_status(200);
        assert_keys(response.result(), &["isValid"]);
        response.result()["isValid"].as_bool().unwrap()
    };
    assert!(is_valid(validate(&app, &alice, &id, &token).await));
    assert!(
        is_valid(validate(&app, &bob, &id, &token).await),
        "anyone may check the right token"
    );
    assert!(!is_valid(validate(&app, &alice, &id, "wrong").await));
    assert_eq!(
        metadata(&app, &alice, &id).await.result()["ownershipIsLocked"],
        false,
        "the owner's mistake"
    );

    assert!(!is_valid(validate(&app, &bob, &id, "wrong").await));
    assert_eq!(
        metadata(&app, &alice, &id).await.result()["ownershipIsLocked"],
        true
    );
    assert!(
        !is_valid(validate(&app, &alice, &id, &token).await),
        "locked: never valid"
    );
    assert!(!is_valid(validate(&app, &bob, &id, "wrongAgain").await));
    assert_eq!(
        outbox_payloads(&app, "FileOwnershipLocked").await,
        vec![json!({ "FileId": id, "OwnerAddress": alice.address })]
    );
}

/// An upload broken off half-way (the client went away after the server had started writing
/// the blob) leaves no row, no blob and no staged part behind.
async fn an_interrupted_upload_leaves_nothing_behind(app: TestApp) {
    use tokio::io::AsyncWriteExt;

    let alice = app.create_identity().await;
    let blob_dir = app.app.settings.data_dir.join("blobs");
    let entries = || -> Vec<String> {
        std::fs::read_dir(&blob_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v2/Files HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 20000000\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"content\"; filename=\"cipher.bin\"\r\n\r\n",
        alice.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // More than one part (5 MiB): the multipart upload has started, the staged file exists.
    let chunk = vec![7u8; 256 * 1024];
    for _ in 0..24 {
        stream.write_all(&chunk).await.unwrap();
    }
    wait_until("the server writes while the body still arrives", || {
        !entries().is_empty()
    })
    .await;
    drop(stream);
    wait_until("the partial upload is removed", || entries().is_empty()).await;
    assert_nothing_written(&app).await;
}

/// The row cannot be written (here: its outbox event cannot): the blob written before goes.
async fn a_failed_insert_removes_the_blob(app: TestApp) {
    let alice = app.create_identity().await;
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    let pool = app.app.db.writer();
    backbone_db::sqlx::query(&rename("outbox_events", "outbox_events_away"))
        .execute(pool)
        .await
        .unwrap();
    let response = post_form(
        &app,
        &alice,
        form(Some(&vec![1; 6 * 1024 * 1024]), &fields(&app, &alice)),
    )
    .await;
    backbone_db::sqlx::query(&rename("outbox_events_away", "outbox_events"))
        .execute(pool)
        .await
        .unwrap();
    response.expect_error(500, "error.platform.unexpected");
    assert_nothing_written(&app).await;
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

async fn orphaned_blobs_are_swept(app: TestApp) {
    let alice = app.create_identity().await;
    let (id, _) = upload_id(&app, &alice).await;
    let blobs = &app.app.files.blobs;
    let mut body = futures::stream::iter([Ok(axum::body::Bytes::from_static(b"orphan"))]).boxed();
    blobs.put("FILorphanorphanorpha", &mut body, 100).await.unwrap();

    // Too young: an upload may still be about to write its row.
    let hour_ago = chrono::Utc::now() - Duration::hours(1);
    let report = app.app.files.sweep_orphaned_blobs(hour_ago).await.unwrap();
    assert_eq!((report.examined, report.deleted), (0, 0));
    assert_eq!(blob_names(&app).await.len(), 2);

    let later = chrono::Utc::now() + Duration::minutes(1);
    let report = app.app.files.sweep_orphaned_blobs(later).await.unwrap();
    assert_eq!((report.examined, report.deleted), (2, 1));
    assert_eq!(blob_names(&app).await, vec![id.clone()]);
    assert_eq!(download(&app, &alice, &id).await.2, b"some encrypted content");
}

/// The upload route's body limit follows the configured file size, not the API-wide limit.
#[tokio::test]
async fn the_upload_body_limit_follows_the_file_limit() {
    let limit = 1024 * 1024;
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.consumer_api.max_request_body_bytes = 16 * 1024;
        settings.files.max_file_size_bytes = limit;
    })
    .await;
    let alice = app.create_identity().await;
    let content: Vec<u8> = (0..limit).map(|i| (i % 251) as u8).collect();
    let file = upload(&app, &alice, &content).await;
    assert_eq!(file["cipherSize"], limit);
    let id = file["id"].as_str().unwrap();
    assert_eq!(download(&app, &alice, id).await.2, content);
    // Other routes keep the API-wide limit.
    let response = app
        .post(
            "/api/v2/Tokens",
            Some(&alice.token),
            json!({ "content": "a".repeat(20 * 1024), "expiresAt": "2999-01-01" }),
        )
        .await;
    response.expect_error(400, "error.platform.requestBodyTooLarge");
}
