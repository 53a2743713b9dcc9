//! Spec consumer-api-exchange §5 (messages) with the `MessageReceived` events recipients get
//! and the effects of relationship changes on them.

use serde_json::{json, Value};

use crate::helpers::{assert_date, assert_keys, standard_base64, Backend, TestApp, TestIdentity};
use crate::on_both_databases;
use crate::relationships::{external_events_of, request};
use crate::templates::create_template;

on_both_databases!(
    sending_and_receiving_a_message,
    messages_to_several_recipients_are_shaped_per_caller,
    sending_needs_a_relationship_that_allows_it,
    invalid_messages_are_refused_without_writing,
    events_wait_while_the_relationship_is_pending,
    rejected_relationships_drop_waiting_events,
    decomposition_hides_and_anonymises_messages,
);

/// Two identities with an active relationship; returns (owner, requester, relationship id).
pub(crate) async fn related(app: &TestApp) -> (TestIdentity, TestIdentity, String) {
    let (owner, requester, id) = pending_pair(app).await;
    app.put(
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    (owner, requester, id)
}

async fn pending_pair(app: &TestApp) -> (TestIdentity, TestIdentity, String) {
    let owner = app.create_identity().await;
    let requester = app.create_identity().await;
    let template = create_template(app, &owner, json!({})).await;
    let id = request(app, &requester, &template).await;
    (owner, requester, id)
}

pub(crate) fn message_to(recipients: &[&TestIdentity]) -> Value {
    json!({
        "recipients": recipients.iter().map(|r| json!({ "address": r.address, "encryptedKey": standard_base64(&[7; 32]) })).collect::<Vec<_>>(),
        "body": standard_base64(b"encrypted body"),
        "attachments": [{ "id": "FILaaaaaaaaaaaaaaaaa" }],
    })
}

async fn send(app: &TestApp, from: &TestIdentity, to: &[&TestIdentity]) -> String {
    let response = app
        .post("/api/v2/Messages", Some(&from.token), message_to(to))
        .await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn received_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e["type"] == "MessageReceived")
        .map(|e| e["payload"]["id"].as_str().unwrap())
        .collect()
}

async fn sending_and_receiving_a_message(app: TestApp) {
    let (owner, requester, _) = related(&app).await;
    app.process_events().await;
    external_events_of(&app, &owner).await;
    external_events_of(&app, &requester).await;

    let response = app
        .post("/api/v2/Messages", Some(&requester.token), message_to(&[&owner]))
        .await;
    response.expect_status(201);
    assert_keys(response.result(), &["id", "createdAt"]);
    let id = response.result()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("MSG"));
    assert_eq!(
        response.headers["location"],
        format!("/api/v2/Messages/{id}").as_str()
    );

    app.process_events().await;
    assert_eq!(
        received_types(&external_events_of(&app, &owner).await),
        [id.as_str()]
    );

    let path = format!("/api/v2/Messages/{id}");
    let as_sender = app.get(&path, Some(&requester.token)).await;
    as_sender.expect_status(200);
    let message = as_sender.result();
    assert_keys(
        message,
        &[
            "id",
            "createdAt",
            "createdBy",
            "createdByDevice",
            "body",
            "attachments",
            "recipients",
        ],
    );
    assert_eq!(message["createdBy"], requester.address.as_str());
    assert_eq!(message["body"], "ZW5jcnlwdGVkIGJvZHk");
    assert_eq!(message["attachments"], json!([{ "id": "FILaaaaaaaaaaaaaaaaa" }]));
    assert_keys(
        &message["recipients"][0],
        &["address", "encryptedKey", "receivedAt", "receivedByDevice"],
    );
    assert!(
        message["recipients"][0]["receivedAt"].is_null(),
        "the sender reading does not count"
    );

    let as_recipient = app.get(&path, Some(&owner.token)).await;
    let entry = &as_recipient.result()["recipients"][0];
    assert_date(&entry["receivedAt"]);
    assert_eq!(entry["receivedByDevice"], owner.device_id.as_str());
    let again = app.get(&path, Some(&requester.token)).await;
    assert_eq!(again.result()["recipients"][0]["receivedAt"], entry["receivedAt"]);

    let stranger = app.create_identity().await;
    app.get(&path, Some(&stranger.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get("/api/v2/Messages/FILnotamessage", Some(&owner.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn messages_to_several_recipients_are_shaped_per_caller(app: TestApp) {
    let sender = app.create_identity().await;
    let template = create_template(&app, &sender, json!({})).await;
    let (a, b) = (app.create_identity().await, app.create_identity().await);
    for who in [&a, &b] {
        let id = request(&app, who, &template).await;
        app.put(
            &format!("/api/v2/Relationships/{id}/Accept"),
            Some(&sender.token),
            json!({}),
        )
        .await
        .expect_status(200);
    }
    let id = send(&app, &sender, &[&a, &b]).await;
    let as_sender = app
        .get(&format!("/api/v2/Messages/{id}"), Some(&sender.token))
        .await;
    let addresses: Vec<&str> = as_sender.result()["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, [a.address.as_str(), b.address.as_str()]);
    let as_a = app.get(&format!("/api/v2/Messages/{id}"), Some(&a.token)).await;
    assert_eq!(as_a.result()["recipients"].as_array().unwrap().len(), 1);
    assert_eq!(as_a.result()["recipients"][0]["address"], a.address.as_str());

    app.process_events().await;
    assert_eq!(received_types(&external_events_of(&app, &a).await), [id.as_str()]);
    assert_eq!(received_types(&external_events_of(&app, &b).await), [id.as_str()]);

    // Listing marks received, too; `ids` filters.
    let second = send(&app, &sender, &[&b]).await;
    let list = app.get("/api/v2/Messages", Some(&b.token)).await;
    assert_eq!(list.result().as_array().unwrap().len(), 2);
    assert!(list.result()[1]["recipients"][0]["receivedAt"].is_string());
    let filtered = app
        .get(&format!("/api/v2/Messages?ids={second}"), Some(&sender.token))
        .await;
    assert_eq!(filtered.result().as_array().unwrap().len(), 1);
    app.get("/api/v2/Messages?ids=nope", Some(&sender.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn sending_needs_a_relationship_that_allows_it(app: TestApp) {
    let (owner, requester, id) = pending_pair(&app).await;
    let stranger = app.create_identity().await;
    app.post("/api/v2/Messages", Some(&stranger.token), message_to(&[&owner]))
        .await
        .expect_error(
            400,
            "error.platform.validation.message.noRelationshipToRecipientExists",
        );
    app.put(
        &format!("/api/v2/Relationships/{id}/Reject"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.post("/api/v2/Messages", Some(&requester.token), message_to(&[&owner]))
        .await
        .expect_error(
            400,
            "error.platform.validation.message.relationshipToRecipientNotActive",
        );
    assert_eq!(app.count("messages").await, 0);
}

async fn invalid_messages_are_refused_without_writing(app: TestApp) {
    let (owner, requester, _) = related(&app).await;
    let post = |body: Value| app.post("/api/v2/Messages", Some(&requester.token), body);
    let valid = message_to(&[&owner]);
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    post(with("recipients", json!([])))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let twice = json!([valid["recipients"][0], valid["recipients"][0]]);
    post(with("recipients", twice))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let bad_address = json!([{ "address": "did:e:x", "encryptedKey": standard_base64(&[7; 32]) }]);
    post(with("recipients", bad_address))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let short_key = json!([{ "address": owner.address, "encryptedKey": standard_base64(&[7; 29]) }]);
    post(with("recipients", short_key))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    post(with("body", json!("")))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    post(with("body", json!("***")))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    post(with("attachments", json!([{ "id": "MSGnotafile" }])))
        .await
        .expect_error(400, "PredicateValidator");
    let many: Vec<Value> = (0..21).map(|_| json!({ "id": "FILaaaaaaaaaaaaaaaaa" })).collect();
    post(with("attachments", json!(many)))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let mut no_body = valid.clone();
    no_body.as_object_mut().unwrap().remove("body");
    post(no_body)
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    assert_eq!(app.count("messages").await, 0);
    assert_eq!(app.count("message_recipients").await, 0);
}

async fn events_wait_while_the_relationship_is_pending(app: TestApp) {
    let (owner, requester, id) = pending_pair(&app).await;
    let message = send(&app, &requester, &[&owner]).await;
    app.process_events().await;
    let before = external_events_of(&app, &owner).await;
    assert!(received_types(&before).is_empty(), "blocked while pending");
    app.put(
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    assert_eq!(
        received_types(&external_events_of(&app, &owner).await),
        [message.as_str()]
    );
}

async fn rejected_relationships_drop_waiting_events(app: TestApp) {
    let (owner, requester, id) = pending_pair(&app).await;
    send(&app, &requester, &[&owner]).await;
    app.put(
        &format!("/api/v2/Relationships/{id}/Reject"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    let blocked: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM external_events WHERE event_type = 'MessageReceived'",
    )
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(blocked, 0);
}

async fn decomposition_hides_and_anonymises_messages(app: TestApp) {
    let (owner, requester, id) = related(&app).await;
    let message = send(&app, &requester, &[&owner]).await;
    let path = format!("/api/v2/Messages/{message}");
    app.put(
        &format!("/api/v2/Relationships/{id}/Terminate"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.put(
        &format!("/api/v2/Relationships/{id}/Decompose"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    // The recipient decomposed: it no longer sees the message; the sender still does.
    app.get(&path, Some(&owner.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let as_sender = app.get(&path, Some(&requester.token)).await;
    assert_eq!(
        as_sender.result()["recipients"][0]["address"],
        owner.address.as_str()
    );

    app.put(
        &format!("/api/v2/Relationships/{id}/Decompose"),
        Some(&requester.token),
        json!({}),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    app.get(&path, Some(&requester.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    assert_eq!(
        app.count("messages").await,
        0,
        "a message nobody can see any more is deleted"
    );
}

#[tokio::test]
async fn limits_come_from_configuration() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.messages.max_number_of_recipients = 1;
        s.messages.max_number_of_unreceived_messages_from_one_sender = 2;
    })
    .await;
    let (owner, requester, _) = related(&app).await;
    let other = app.create_identity().await;
    app.post(
        "/api/v2/Messages",
        Some(&requester.token),
        message_to(&[&owner, &other]),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    send(&app, &requester, &[&owner]).await;
    let second = send(&app, &requester, &[&owner]).await;
    app.post("/api/v2/Messages", Some(&requester.token), message_to(&[&owner]))
        .await
        .expect_error(
            400,
            "error.platform.validation.message.maxNumberOfUnreceivedMessagesReached",
        );
    // Receiving one makes room for one more.
    app.get(&format!("/api/v2/Messages/{second}"), Some(&owner.token))
        .await
        .expect_status(200);
    send(&app, &requester, &[&owner]).await;
}
