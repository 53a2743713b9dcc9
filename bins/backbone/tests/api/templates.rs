//! Spec consumer-api-exchange §2 (relationship templates) and §3 (public references).

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{assert_date, assert_keys, standard_base64, Backend, TestApp, TestIdentity};
use crate::on_both_databases;

on_both_databases!(
    creating_and_reading_a_template,
    creation_validates_its_input,
    reading_allocates_up_to_the_maximum,
    passwords_and_personalisation_limit_who_sees_a_template,
    expired_templates_are_gone_except_for_their_relationships,
    listing_templates_by_id_with_passwords,
    only_the_owner_deletes_a_template,
);

pub async fn create_template(app: &TestApp, owner: &TestIdentity, extra: Value) -> String {
    let mut body = json!({ "content": standard_base64(b"template content") });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = app
        .post("/api/v2/RelationshipTemplates", Some(&owner.token), body)
        .await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn path(id: &str) -> String {
    format!("/api/v2/RelationshipTemplates/{id}")
}

async fn creating_and_reading_a_template(app: TestApp) {
    let owner = app.create_identity().await;
    let expires = (app.clock_now() + Duration::days(1)).to_rfc3339();
    let body = json!({
        "content": standard_base64(&[1, 2, 250]),
        "expiresAt": expires,
        "maxNumberOfAllocations": 2,
    });
    let created = app
        .post("/api/v2/RelationshipTemplates", Some(&owner.token), body)
        .await;
    created.expect_status(201);
    assert_keys(created.result(), &["id", "createdAt"]);
    let id = created.result()["id"].as_str().unwrap();
    assert!(id.starts_with("RLT") && id.len() == 20);
    assert_eq!(created.headers["location"], path(id).as_str());

    let read = app.get(&path(id), Some(&owner.token)).await;
    read.expect_status(200);
    let template = read.result();
    assert_keys(
        template,
        &[
            "id",
            "createdBy",
            "createdByDevice",
            "maxNumberOfAllocations",
            "expiresAt",
            "content",
            "createdAt",
            "forIdentity",
        ],
    );
    assert_eq!(template["createdBy"], owner.address.as_str());
    assert_eq!(template["createdByDevice"], owner.device_id.as_str());
    assert_eq!(template["content"], "AQL6", "base64url without padding");
    assert_eq!(template["maxNumberOfAllocations"], 2);
    assert!(template["forIdentity"].is_null());
    assert_date(&template["expiresAt"]);
    // The owner reading it does not allocate.
    assert_eq!(app.count("relationship_template_allocations").await, 0);
    let created_events: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'RelationshipTemplateCreated'",
    )
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(created_events, 1);
}

async fn creation_validates_its_input(app: TestApp) {
    let owner = app.create_identity().await;
    let post = |body: Value| app.post("/api/v2/RelationshipTemplates", Some(&owner.token), body);
    let content = standard_base64(b"x");
    post(json!({}))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    post(json!({ "content": "***" }))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    post(json!({ "content": content, "expiresAt": "someday" }))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let a_second_ago = (app.clock_now() - Duration::seconds(1)).to_rfc3339();
    let response = post(json!({ "content": content, "expiresAt": a_second_ago })).await;
    response.expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert!(response.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'expiresAt' must be in the future."));
    post(json!({ "content": content, "maxNumberOfAllocations": 0 }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    post(json!({ "content": content, "forIdentity": "did:e:nowhere" }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    post(json!({ "content": content, "password": standard_base64(&[7; 201]) }))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(app.count("relationship_templates").await, 0);
    assert_eq!(
        app.post(
            "/api/v2/RelationshipTemplates",
            None,
            json!({ "content": content })
        )
        .await
        .status,
        401
    );
}

async fn reading_allocates_up_to_the_maximum(app: TestApp) {
    let owner = app.create_identity().await;
    let id = create_template(&app, &owner, json!({ "maxNumberOfAllocations": 2 })).await;
    let (a, b, c) = (
        app.create_identity().await,
        app.create_identity().await,
        app.create_identity().await,
    );
    app.get(&path(&id), Some(&a.token)).await.expect_status(200);
    app.get(&path(&id), Some(&a.token)).await.expect_status(200);
    assert_eq!(
        app.count("relationship_template_allocations").await,
        1,
        "reading twice allocates once"
    );
    app.get(&path(&id), Some(&b.token)).await.expect_status(200);
    app.get(&path(&id), Some(&c.token)).await.expect_error(
        400,
        "error.platform.validation.relationshipTemplate.maxNumberOfAllocationsExhausted",
    );
    // Allocated identities and the owner keep reading it.
    app.get(&path(&id), Some(&b.token)).await.expect_status(200);
    app.get(&path(&id), Some(&owner.token)).await.expect_status(200);

    // The owner learns that the template is used up.
    app.process_events().await;
    let events = crate::relationships::external_events_of(&app, &owner).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "RelationshipTemplateAllocationsExhausted");
    assert_eq!(events[0]["payload"], json!({ "relationshipTemplateId": id }));
}

async fn passwords_and_personalisation_limit_who_sees_a_template(app: TestApp) {
    let owner = app.create_identity().await;
    let reader = app.create_identity().await;
    let stranger = app.create_identity().await;
    let password = standard_base64(b"secret");
    let protected = create_template(&app, &owner, json!({ "password": password })).await;
    let encoded = password
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");

    app.get(&path(&protected), Some(&reader.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get(
        &format!("{}?password={}", path(&protected), standard_base64(b"wrong")),
        Some(&reader.token),
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    app.get(
        &format!("{}?password={encoded}", path(&protected)),
        Some(&reader.token),
    )
    .await
    .expect_status(200);
    // Once allocated, no password is needed any more.
    app.get(&path(&protected), Some(&reader.token))
        .await
        .expect_status(200);
    app.get(&path(&protected), Some(&owner.token))
        .await
        .expect_status(200);

    let personal = create_template(&app, &owner, json!({ "forIdentity": reader.address })).await;
    app.get(&path(&personal), Some(&reader.token))
        .await
        .expect_status(200);
    app.get(&path(&personal), Some(&stranger.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let for_owner = create_template(&app, &owner, json!({ "forIdentity": owner.address })).await;
    app.get(&path(&for_owner), Some(&reader.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get(&path("RLTthisisnonexisting"), Some(&reader.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get(&path("TOKnotatemplate"), Some(&reader.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.get(&format!("{}?password=***", path(&protected)), Some(&reader.token))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
}

async fn expired_templates_are_gone_except_for_their_relationships(app: TestApp) {
    let owner = app.create_identity().await;
    let requester = app.create_identity().await;
    let expires = (app.clock_now() + Duration::minutes(1)).to_rfc3339();
    let used = create_template(&app, &owner, json!({ "expiresAt": expires })).await;
    let unused = create_template(&app, &owner, json!({ "expiresAt": expires })).await;
    crate::relationships::request(&app, &requester, &used).await;
    app.clock.advance(Duration::minutes(2));
    let owner = app.relogin(&owner).await;
    let requester = app.relogin(&requester).await;
    app.get(&path(&used), Some(&requester.token))
        .await
        .expect_status(200);
    app.get(&path(&used), Some(&owner.token)).await.expect_status(200);
    app.get(&path(&unused), Some(&owner.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

async fn listing_templates_by_id_with_passwords(app: TestApp) {
    let app = &app;
    let owner = app.create_identity().await;
    let reader = app.create_identity().await;
    let open = create_template(app, &owner, json!({})).await;
    let protected = create_template(app, &owner, json!({ "password": standard_base64(b"pw") })).await;
    let personal_for_other = create_template(app, &owner, json!({ "forIdentity": owner.address })).await;
    let list = |token: String, query: String| async move {
        let response = app
            .get(&format!("/api/v2/RelationshipTemplates?{query}"), Some(&token))
            .await;
        response.expect_status(200);
        response
            .result()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let pw = standard_base64(b"pw").replace('=', "%3D");
    let query = format!(
        "templates.0.id={open}&templates.1.id={protected}&templates.2.id={personal_for_other}&templates.3.id=RLTthisisnonexisting"
    );
    assert_eq!(
        list(reader.token.clone(), query.clone()).await,
        std::slice::from_ref(&open)
    );
    let with_password = format!("{query}&templates.1.password={pw}");
    assert_eq!(
        list(reader.token.clone(), with_password).await,
        [open.clone(), protected.clone()]
    );
    assert_eq!(
        list(owner.token.clone(), query).await,
        [open.clone(), protected.clone(), personal_for_other]
    );
    assert_eq!(
        list(reader.token.clone(), format!("ids={open}&ids={protected}")).await,
        [open]
    );
    assert_eq!(
        app.count("relationship_template_allocations").await,
        0,
        "listing never allocates"
    );
    app.get("/api/v2/RelationshipTemplates", Some(&reader.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.get(
        "/api/v2/RelationshipTemplates?ids=RELwrongprefix",
        Some(&reader.token),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn only_the_owner_deletes_a_template(app: TestApp) {
    let owner = app.create_identity().await;
    let other = app.create_identity().await;
    let id = create_template(&app, &owner, json!({})).await;
    let relationship = crate::relationships::request(&app, &other, &id).await;
    app.delete(&path(&id), Some(&other.token))
        .await
        .expect_error(403, "error.platform.forbidden");
    app.delete(&path("RLTthisisnonexisting"), Some(&owner.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.delete(&path(&id), Some(&owner.token))
        .await
        .expect_status(204);
    assert_eq!(app.count("relationship_templates").await, 0);
    assert_eq!(app.count("relationship_template_allocations").await, 0);
    let read = app
        .get(
            &format!("/api/v2/Relationships/{relationship}"),
            Some(&owner.token),
        )
        .await;
    assert!(
        read.result()["relationshipTemplateId"].is_null(),
        "the relationship stays, without its template"
    );
}

#[tokio::test]
async fn public_references_come_from_configuration() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        let reference = backbone_relationships::PublicTemplateReference {
            title: "Register".into(),
            description: "Become a customer".into(),
            truncated_reference: "UkxUeHh4".into(),
        };
        settings
            .relationships
            .public_template_references
            .insert("test".into(), vec![reference]);
    })
    .await;
    let identity = app.create_identity().await;
    let response = app
        .get(
            "/api/poc/PublicRelationshipTemplateReferences",
            Some(&identity.token),
        )
        .await;
    assert_eq!(
        response.body,
        json!({ "result": [{ "title": "Register", "description": "Become a customer", "truncatedReference": "UkxUeHh4" }] })
    );
}
