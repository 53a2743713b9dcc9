//! Spec consumer-api-exchange §4 (relationships) with the external events each step gives the
//! peer (§1.11), and the feature-flag events that depend on relationships (identity spec I4/I5).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_keys, standard_base64, Backend, TestApp, TestIdentity};
use crate::on_both_databases;
use crate::templates::create_template;

on_both_databases!(
    a_request_is_created_from_a_template,
    requests_are_refused_by_the_upstream_rules,
    accepting_rejecting_and_revoking,
    termination_reactivation_and_decomposition_notify_the_peer,
    a_new_relationship_needs_both_sides_to_decompose_the_old_one,
    can_create_reports_why_not,
    listing_and_reading_relationships,
    feature_flags_reach_peers_and_allocators,
);

/// Requests a relationship from `template` as `requester`; returns its id.
pub async fn request(app: &TestApp, requester: &TestIdentity, template: &str) -> String {
    let body = json!({ "relationshipTemplateId": template, "creationContent": standard_base64(b"hello") });
    let response = app
        .post("/api/v2/Relationships", Some(&requester.token), body)
        .await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An owner with a template and a requester with a pending relationship from it.
async fn pending(app: &TestApp) -> (TestIdentity, TestIdentity, String) {
    let owner = app.create_identity().await;
    let requester = app.create_identity().await;
    let template = create_template(app, &owner, json!({})).await;
    let id = request(app, &requester, &template).await;
    (owner, requester, id)
}

async fn act(app: &TestApp, who: &TestIdentity, id: &str, action: &str) -> crate::helpers::Response {
    app.put(
        &format!("/api/v2/Relationships/{id}/{action}"),
        Some(&who.token),
        json!({}),
    )
    .await
}

/// Every external event waiting for the identity, read through a sync run (which is finalized).
pub async fn external_events_of(app: &TestApp, identity: &TestIdentity) -> Vec<Value> {
    let datawallet = app
        .sync_request(Method::GET, "/api/v2/Datawallet", &identity.token, None)
        .await;
    if datawallet.status == 404 {
        app.create_datawallet(identity).await;
    }
    let start = app
        .sync_request(
            Method::POST,
            "/api/v2/SyncRuns",
            &identity.token,
            Some(json!({ "type": "ExternalEventSync" })),
        )
        .await;
    if start.result()["status"] == "NoNewEvents" {
        return Vec::new();
    }
    let run = start.result()["syncRun"]["id"].as_str().unwrap().to_owned();
    let events = app
        .sync_request(
            Method::GET,
            &format!("/api/v2/SyncRuns/{run}/ExternalEvents"),
            &identity.token,
            None,
        )
        .await;
    let events = events.result().as_array().unwrap().clone();
    let results: Vec<Value> = events
        .iter()
        .map(|e| json!({ "externalEventId": e["id"] }))
        .collect();
    let finalize = format!("/api/v2/SyncRuns/{run}/FinalizeExternalEventSync");
    app.sync_request(
        Method::PUT,
        &finalize,
        &identity.token,
        Some(json!({ "externalEventResults": results })),
    )
    .await
    .expect_status(200);
    events
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn a_request_is_created_from_a_template(app: TestApp) {
    let owner = app.create_identity().await;
    let requester = app.create_identity().await;
    let template = create_template(&app, &owner, json!({})).await;
    let body = json!({ "relationshipTemplateId": template, "creationContent": standard_base64(b"hello") });
    let response = app
        .post("/api/v2/Relationships", Some(&requester.token), body)
        .await;
    response.expect_status(201);
    let relationship = response.result();
    assert_keys(
        relationship,
        &[
            "id",
            "relationshipTemplateId",
            "from",
            "to",
            "createdAt",
            "status",
            "auditLog",
        ],
    );
    assert_eq!(relationship["status"], "Pending");
    assert_eq!(relationship["from"], requester.address.as_str());
    assert_eq!(relationship["to"], owner.address.as_str());
    assert_eq!(relationship["relationshipTemplateId"], template.as_str());
    let entry = &relationship["auditLog"][0];
    assert_keys(
        entry,
        &[
            "createdAt",
            "createdBy",
            "createdByDevice",
            "reason",
            "oldStatus",
            "newStatus",
        ],
    );
    assert_eq!(entry["reason"], "Creation");
    assert!(entry["oldStatus"].is_null());
    assert_eq!(entry["newStatus"], "Pending");
    assert_eq!(entry["createdByDevice"], requester.device_id.as_str());
    assert_eq!(
        app.count("relationship_template_allocations").await,
        1,
        "creating allocates the template"
    );

    app.process_events().await;
    let events = external_events_of(&app, &owner).await;
    assert_eq!(types(&events), ["RelationshipStatusChanged"]);
    assert_eq!(
        events[0]["payload"],
        json!({ "relationshipId": relationship["id"] })
    );
    assert!(
        external_events_of(&app, &requester).await.is_empty(),
        "the actor is not notified"
    );
}

async fn requests_are_refused_by_the_upstream_rules(app: TestApp) {
    let app = &app;
    let (owner, requester, _) = pending(app).await;
    let post = |who: &TestIdentity, template: &str| {
        let body = json!({ "relationshipTemplateId": template });
        let token = who.token.clone();
        async move { app.post("/api/v2/Relationships", Some(&token), body).await }
    };
    let second_template = create_template(app, &owner, json!({})).await;
    post(&requester, &second_template).await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipToTargetAlreadyExists",
    );
    let lonely = app.create_identity().await;
    let own = create_template(app, &lonely, json!({})).await;
    post(&lonely, &own).await.expect_error(
        400,
        "error.platform.validation.relationship.cannotCreateRelationshipWithYourself",
    );
    post(&lonely, "RLTthisisnonexisting")
        .await
        .expect_error(404, "error.platform.recordNotFound");
    post(&lonely, "RELnotatemplate")
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let protected = create_template(app, &owner, json!({ "password": standard_base64(b"pw") })).await;
    post(&lonely, &protected)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.post("/api/v2/Relationships", Some(&lonely.token), json!({}))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");

    backbone_db::sqlx::query("UPDATE identities SET status = 'ToBeDeleted' WHERE address = $1")
        .bind(&owner.address)
        .execute(app.app.db.writer())
        .await
        .unwrap();
    post(&lonely, &second_template)
        .await
        .expect_error(400, "error.platform.validation.relationship.peerIsToBeDeleted");
    assert_eq!(app.count("relationships").await, 1);
}

async fn accepting_rejecting_and_revoking(app: TestApp) {
    let (owner, requester, id) = pending(&app).await;
    act(&app, &requester, &id, "Accept").await.expect_error(
        400,
        "error.platform.validation.relationship.cannotAcceptOrRejectRelationshipAddressedToSomeoneElse",
    );
    act(&app, &owner, &id, "Revoke").await.expect_error(
        400,
        "error.platform.validation.relationship.cannotRevokeRelationshipNotCreatedByYourself",
    );
    let stranger = app.create_identity().await;
    act(&app, &stranger, &id, "Accept")
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.put(
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(&owner.token),
        json!(null),
    )
    .await
    .expect_error(400, "error.platform.inputCannotBeParsed");

    let body = json!({ "creationResponseContent": standard_base64(b"welcome") });
    let accepted = app
        .put(
            &format!("/api/v2/Relationships/{id}/Accept"),
            Some(&owner.token),
            body,
        )
        .await;
    accepted.expect_status(200);
    assert_eq!(accepted.result()["status"], "Active");
    assert_eq!(accepted.result()["auditLog"][1]["reason"], "AcceptanceOfCreation");
    assert_eq!(accepted.result()["auditLog"][1]["oldStatus"], "Pending");
    let read = app
        .get(&format!("/api/v2/Relationships/{id}"), Some(&requester.token))
        .await;
    assert_eq!(read.result()["creationResponseContent"], "d2VsY29tZQ");
    assert_eq!(read.result()["creationContent"], "aGVsbG8");
    act(&app, &owner, &id, "Accept").await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipIsNotInCorrectStatus",
    );
    app.process_events().await;
    assert_eq!(
        types(&external_events_of(&app, &requester).await),
        ["RelationshipStatusChanged"]
    );

    let (owner, requester, id) = pending(&app).await;
    let rejected = act(&app, &owner, &id, "Reject").await;
    assert_eq!(rejected.result()["status"], "Rejected");
    let read = app
        .get(&format!("/api/v2/Relationships/{id}"), Some(&requester.token))
        .await;
    assert_eq!(
        read.result()["creationResponseContent"],
        "",
        "an absent response is stored empty"
    );

    let (_, requester, id) = pending(&app).await;
    assert_eq!(
        act(&app, &requester, &id, "Revoke").await.result()["status"],
        "Revoked"
    );
}

#[expect(
    clippy::too_many_lines,
    reason = "one relationship's life, step by step; each step starts from the state the previous one left"
)]
async fn termination_reactivation_and_decomposition_notify_the_peer(app: TestApp) {
    let (owner, requester, id) = pending(&app).await;
    act(&app, &owner, &id, "Accept").await.expect_status(200);
    app.process_events().await;
    external_events_of(&app, &owner).await;
    external_events_of(&app, &requester).await;

    act(&app, &owner, &id, "Reactivate").await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipIsNotInCorrectStatus",
    );
    assert_eq!(
        act(&app, &requester, &id, "Terminate").await.result()["status"],
        "Terminated"
    );
    act(&app, &requester, &id, "Terminate").await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipIsNotInCorrectStatus",
    );
    act(&app, &owner, &id, "Reactivate/Accept").await.expect_error(
        400,
        "error.platform.validation.relationship.noAcceptableRelationshipReactivationRequestExists",
    );
    let reactivation = act(&app, &owner, &id, "Reactivate").await;
    assert_eq!(reactivation.result()["status"], "Terminated");
    assert_eq!(
        reactivation.result()["auditLog"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["reason"],
        "ReactivationRequested"
    );
    act(&app, &requester, &id, "Reactivate")
        .await
        .expect_error(400, "error.platform.validation.relationship.cannotRequestReactivationWhenThereIsAnOpenReactivationRequest");
    act(&app, &owner, &id, "Reactivate/Accept").await.expect_error(
        400,
        "error.platform.validation.relationship.noAcceptableRelationshipReactivationRequestExists",
    );
    act(&app, &requester, &id, "Reactivate/Revoke")
        .await
        .expect_error(
            400,
            "error.platform.validation.relationship.noRevocableReactivationRequestExists",
        );
    act(&app, &owner, &id, "Reactivate/Reject").await.expect_error(
        400,
        "error.platform.validation.relationship.noRejectableReactivationRequestExists",
    );
    app.process_events().await;
    assert_eq!(
        types(&external_events_of(&app, &owner).await),
        ["RelationshipStatusChanged"]
    );
    assert_eq!(
        types(&external_events_of(&app, &requester).await),
        ["RelationshipReactivationRequested"]
    );

    assert_eq!(
        act(&app, &requester, &id, "Reactivate/Accept").await.result()["status"],
        "Active"
    );
    app.process_events().await;
    assert_eq!(
        types(&external_events_of(&app, &owner).await),
        ["RelationshipReactivationCompleted"]
    );

    act(&app, &owner, &id, "Terminate").await.expect_status(200);
    act(&app, &requester, &id, "Reactivate").await.expect_status(200);
    assert_eq!(
        act(&app, &requester, &id, "Reactivate/Revoke").await.result()["status"],
        "Terminated"
    );
    act(&app, &owner, &id, "Reactivate").await.expect_status(200);
    assert_eq!(
        act(&app, &requester, &id, "Reactivate/Reject").await.result()["status"],
        "Terminated"
    );
    app.process_events().await;
    // The owner terminated and the requester asked, then revoked; the owner asked and the
    // requester rejected: each step reaches the other side.
    assert_eq!(
        types(&external_events_of(&app, &requester).await),
        ["RelationshipStatusChanged", "RelationshipReactivationRequested"]
    );
    assert_eq!(
        types(&external_events_of(&app, &owner).await),
        [
            "RelationshipReactivationRequested",
            "RelationshipReactivationCompleted",
            "RelationshipReactivationCompleted"
        ]
    );

    let decomposed = act(&app, &owner, &id, "Decompose").await;
    assert_eq!(decomposed.result()["status"], "DeletionProposed");
    act(&app, &owner, &id, "Decompose").await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipAlreadyDecomposed",
    );
    app.get(&format!("/api/v2/Relationships/{id}"), Some(&owner.token))
        .await
        .expect_error(
            400,
            "error.platform.validation.relationship.relationshipAlreadyDecomposed",
        );
    app.process_events().await;
    assert_eq!(
        types(&external_events_of(&app, &requester).await),
        ["RelationshipStatusChanged"]
    );
    assert_eq!(
        act(&app, &requester, &id, "Decompose").await.result()["status"],
        "ReadyForDeletion"
    );
    app.process_events().await;
    assert!(
        external_events_of(&app, &owner).await.is_empty(),
        "no event for ReadyForDeletion"
    );
}

async fn a_new_relationship_needs_both_sides_to_decompose_the_old_one(app: TestApp) {
    let app = &app;
    let (owner, requester, id) = pending(app).await;
    act(app, &owner, &id, "Accept").await.expect_status(200);
    act(app, &owner, &id, "Terminate").await.expect_status(200);
    let template = create_template(app, &owner, json!({})).await;
    let again = || {
        app.post(
            "/api/v2/Relationships",
            Some(&requester.token),
            json!({ "relationshipTemplateId": template }),
        )
    };
    again().await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipToTargetAlreadyExists",
    );
    act(app, &owner, &id, "Decompose").await.expect_status(200);
    again().await.expect_error(
        400,
        "error.platform.validation.relationship.relationshipToTargetAlreadyExists",
    );
    act(app, &requester, &id, "Decompose").await.expect_status(200);
    again().await.expect_status(201);
    // The new pending relationship blocks a further request in turn.
    let newest = app
        .post(
            "/api/v2/Relationships",
            Some(&requester.token),
            json!({ "relationshipTemplateId": template }),
        )
        .await;
    newest.expect_error(
        400,
        "error.platform.validation.relationship.relationshipToTargetAlreadyExists",
    );
}

async fn can_create_reports_why_not(app: TestApp) {
    let app = &app;
    let (owner, requester, id) = pending(app).await;
    let can = |peer: String| {
        let token = requester.token.clone();
        async move {
            app.get(
                &format!("/api/v2/Relationships/CanCreate?peer={peer}"),
                Some(&token),
            )
            .await
        }
    };
    let blocked = can(owner.address.clone()).await;
    assert_eq!(
        blocked.result(),
        &json!({ "canCreate": false, "code": "error.platform.validation.relationship.relationshipToTargetAlreadyExists" })
    );
    act(app, &requester, &id, "Revoke").await.expect_status(200);
    assert_eq!(
        can(owner.address.clone()).await.result(),
        &json!({ "canCreate": true, "code": null })
    );
    let unknown = backbone_core::IdentityAddress::derive(&[42; 32], "localhost");
    let response = can(unknown.to_string()).await;
    response.expect_error(404, "error.platform.recordNotFound");
    assert!(response.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Identity not found."));
    can("not-an-address".into())
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    backbone_db::sqlx::query("UPDATE identities SET status = 'ToBeDeleted' WHERE address = $1")
        .bind(&owner.address)
        .execute(app.app.db.writer())
        .await
        .unwrap();
    assert_eq!(
        can(owner.address.clone()).await.result(),
        &json!({ "canCreate": false, "code": "error.platform.validation.relationship.peerIsToBeDeleted" })
    );
}

async fn listing_and_reading_relationships(app: TestApp) {
    let (owner, requester, id) = pending(&app).await;
    let stranger = app.create_identity().await;
    let read = app
        .get(&format!("/api/v2/Relationships/{id}"), Some(&owner.token))
        .await;
    read.expect_status(200);
    assert_keys(
        read.result(),
        &[
            "id",
            "relationshipTemplateId",
            "from",
            "to",
            "createdAt",
            "status",
            "auditLog",
            "creationContent",
            "creationResponseContent",
        ],
    );
    app.get(&format!("/api/v2/Relationships/{id}"), Some(&stranger.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.get("/api/v2/Relationships/RLTnotarelationship", Some(&owner.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let list = app
        .get(
            &format!("/api/v2/Relationships?ids={id}&ids=RELthisisnonexisting"),
            Some(&requester.token),
        )
        .await;
    assert_eq!(list.result().as_array().unwrap().len(), 1);
    let theirs = app
        .get(&format!("/api/v2/Relationships?ids={id}"), Some(&stranger.token))
        .await;
    assert_eq!(theirs.result(), &json!([]));
    app.get("/api/v2/Relationships", Some(&owner.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    // Decomposed relationships stay in lists.
    act(&app, &requester, &id, "Revoke").await.expect_status(200);
    act(&app, &requester, &id, "Decompose").await.expect_status(200);
    let list = app
        .get(&format!("/api/v2/Relationships?ids={id}"), Some(&requester.token))
        .await;
    assert_eq!(list.result()[0]["status"], "DeletionProposed");
}

async fn feature_flags_reach_peers_and_allocators(app: TestApp) {
    let app = &app;
    let (owner, requester, _) = pending(app).await;
    let allocator = app.create_identity().await;
    let stranger = app.create_identity().await;
    let template = create_template(app, &owner, json!({})).await;
    app.get(
        &format!("/api/v2/RelationshipTemplates/{template}"),
        Some(&allocator.token),
    )
    .await
    .expect_status(200);
    app.process_events().await;
    for who in [&owner, &requester, &allocator, &stranger] {
        external_events_of(app, who).await;
    }

    app.request(
        Method::PATCH,
        "/api/v2/Identities/Self/FeatureFlags",
        Some(&owner.token),
        Some(json!({ "chat": true })),
    )
    .await
    .expect_status(204);
    app.process_events().await;
    for who in [&requester, &allocator] {
        let events = external_events_of(app, who).await;
        assert_eq!(types(&events), ["PeerFeatureFlagsChanged"]);
        assert_eq!(events[0]["payload"], json!({ "peerAddress": owner.address }));
    }
    assert!(external_events_of(app, &stranger).await.is_empty());

    let flags = |who: &TestIdentity| {
        let token = who.token.clone();
        let path = format!("/api/v2/Identities/{}/FeatureFlags", owner.address);
        async move { app.get(&path, Some(&token)).await }
    };
    assert_eq!(flags(&requester).await.result(), &json!({ "chat": true }));
    assert_eq!(flags(&allocator).await.result(), &json!({ "chat": true }));
    flags(&stranger)
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

/// Two racing accepts end with one success; two racing requests to the same peer create one.
#[tokio::test]
async fn concurrent_answers_and_requests_end_in_one_valid_state() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (owner, _, id) = pending(&app).await;
    let accept_path = format!("/api/v2/Relationships/{id}/Accept");
    let accept = || app.put(&accept_path, Some(&owner.token), json!({}));
    let (a, b) = tokio::join!(accept(), accept());
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
    let audit: i64 = backbone_db::sqlx::query_scalar("SELECT COUNT(*) FROM relationship_audit_log")
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
    assert_eq!(audit, 2, "creation and exactly one acceptance");

    let peer = app.create_identity().await;
    let requester = app.create_identity().await;
    let first = create_template(&app, &peer, json!({})).await;
    let second = create_template(&app, &peer, json!({})).await;
    let post = |template: String| {
        app.post(
            "/api/v2/Relationships",
            Some(&requester.token),
            json!({ "relationshipTemplateId": template }),
        )
    };
    let (a, b) = tokio::join!(post(first), post(second));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400]);
    let loser = if a.status == 400 { &a } else { &b };
    assert_eq!(
        loser.error_code(),
        "error.platform.validation.relationship.relationshipToTargetAlreadyExists"
    );
}
