//! Every operation a quota limits (consumer-api-exchange §1.10, and the four metrics upstream
//! does not enforce), the "Queued for Deletion" tier of a deleting identity, and the
//! identity deletion job.

use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

use super::{
    add_tier_quota, admin, assign_tier, create_tier, create_token, expect_exhausted, identity_with_quota,
    push_modification, upload, QUEUED_FOR_DELETION,
};
use crate::helpers::{sign_challenge, TestApp, PASSWORD};
use crate::messages::{message_to, related};
use crate::on_both_databases;
use crate::relationships::request;
use crate::templates::create_template;

on_both_databases!(
    templates_relationships_and_acceptance_are_limited,
    authenticated_tokens_are_limited_and_anonymous_ones_never,
    files_are_limited_by_number_and_by_megabytes,
    devices_challenges_datawallet_and_deletion_processes_are_limited,
    a_deleting_identity_may_only_write_its_datawallet_and_cancel,
    the_deletion_job_removes_the_individual_quotas,
);

/// The end of a `Total` window, as the 429 body writes it.
const FOREVER: &str = "9999-12-31T23:59:59.999Z";

async fn templates_relationships_and_acceptance_are_limited(app: TestApp) {
    let (owner, tier) = identity_with_quota(&app, "NumberOfRelationshipTemplates", 1, "Day").await;
    add_tier_quota(&app, &tier, "NumberOfRelationships", 1, "Total").await;
    let template = create_template(&app, &owner, json!({})).await;
    let refused = app
        .post(
            "/api/v2/RelationshipTemplates",
            Some(&owner.token),
            json!({ "content": "AQID" }),
        )
        .await;
    expect_exhausted(&refused, &["NumberOfRelationshipTemplates"], None);
    assert_eq!(app.count("relationship_templates").await, 1);

    // A pending request counts for its requester only: the owner may still accept one.
    let first = app.create_identity().await;
    let pending = request(&app, &first, &template).await;
    app.put(
        &format!("/api/v2/Relationships/{pending}/Accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    // Now the owner has one active relationship: no second acceptance, no own request.
    let second = app.create_identity().await;
    let waiting = request(&app, &second, &template).await;
    let refused = app
        .put(
            &format!("/api/v2/Relationships/{waiting}/Accept"),
            Some(&owner.token),
            json!({}),
        )
        .await;
    expect_exhausted(&refused, &["NumberOfRelationships"], Some(FOREVER));
    let others = create_template(&app, &second, json!({})).await;
    let body = json!({ "relationshipTemplateId": others, "creationContent": "AQID" });
    let refused = app.post("/api/v2/Relationships", Some(&owner.token), body).await;
    expect_exhausted(&refused, &["NumberOfRelationships"], Some(FOREVER));
    // Refused before the template was read: no allocation for the owner.
    let allocations: i64 = backbone_db::sqlx::query_scalar(
        "SELECT COUNT(*) FROM relationship_template_allocations WHERE template_id = $1",
    )
    .bind(&others)
    .fetch_one(app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(allocations, 0);
    // Rejecting is not limited.
    app.put(
        &format!("/api/v2/Relationships/{waiting}/Reject"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
}

async fn authenticated_tokens_are_limited_and_anonymous_ones_never(app: TestApp) {
    let (identity, _) = identity_with_quota(&app, "NumberOfTokens", 1, "Month").await;
    create_token(&app, Some(&identity)).await.expect_status(201);
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        None,
    );
    for _ in 0..3 {
        create_token(&app, None).await.expect_status(201);
    }
    assert_eq!(app.count("tokens").await, 4);
}

async fn files_are_limited_by_number_and_by_megabytes(app: TestApp) {
    let (counted, _) = identity_with_quota(&app, "NumberOfFiles", 1, "Year").await;
    upload(&app, &counted, 10).await.expect_status(201);
    expect_exhausted(&upload(&app, &counted, 10).await, &["NumberOfFiles"], None);

    // Whole MiB, truncated: 1.5 MiB use 1 of 2; the next upload brings the usage to 3.
    let (stored, _) = identity_with_quota(&app, "UsedFileStorageSpace", 2, "Total").await;
    upload(&app, &stored, 1024 * 1024 + 512 * 1024)
        .await
        .expect_status(201);
    upload(&app, &stored, 1024 * 1024 + 512 * 1024)
        .await
        .expect_status(201);
    expect_exhausted(
        &upload(&app, &stored, 10).await,
        &["UsedFileStorageSpace"],
        Some(FOREVER),
    );
    assert_eq!(app.count("files").await, 3);
    // A refused upload keeps no blob.
    let blobs: Vec<_> = app.app.files.blobs.list().collect().await;
    assert_eq!(blobs.len(), 3);
}

async fn devices_challenges_datawallet_and_deletion_processes_are_limited(app: TestApp) {
    // The first device counts too.
    let (identity, tier) = identity_with_quota(&app, "NumberOfCreatedDevices", 2, "Total").await;
    add_tier_quota(&app, &tier, "NumberOfCreatedChallenges", 2, "Total").await;
    add_tier_quota(&app, &tier, "NumberOfCreatedDatawalletModifications", 1, "Day").await;
    add_tier_quota(&app, &tier, "NumberOfStartedDeletionProcesses", 1, "Year").await;
    app.register_device(&identity, false).await.expect_status(201);
    // register_device created the first challenge; the second one is the last allowed.
    let challenge = app.challenge(Some(&identity.token)).await;
    let body = json!({ "devicePassword": PASSWORD, "signedChallenge": sign_challenge(&identity.key, &challenge, "Device") });
    expect_exhausted(
        &app.post("/api/v2/Devices", Some(&identity.token), body).await,
        &["NumberOfCreatedDevices"],
        Some(FOREVER),
    );
    let refused = app
        .post("/api/v2/Challenges", Some(&identity.token), json!({}))
        .await;
    expect_exhausted(&refused, &["NumberOfCreatedChallenges"], None);
    app.post("/api/v2/Challenges", None, json!({}))
        .await
        .expect_status(201);

    app.create_datawallet(&identity).await;
    push_modification(&app, &identity, None).await.expect_status(201);
    expect_exhausted(
        &push_modification(&app, &identity, Some(0)).await,
        &["NumberOfCreatedDatawalletModifications"],
        None,
    );

    let processes = "/api/v2/Identities/Self/DeletionProcesses";
    let started = app.post(processes, Some(&identity.token), json!({})).await;
    let id = started.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(
        &format!("{processes}/{id}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(200);
    let refused = app.post(processes, Some(&identity.token), json!({})).await;
    expect_exhausted(&refused, &["NumberOfStartedDeletionProcesses"], None);
    assert_eq!(app.count("identity_deletion_processes").await, 1);
}

async fn a_deleting_identity_may_only_write_its_datawallet_and_cancel(app: TestApp) {
    let (peer, identity, _) = related(&app).await;
    app.create_datawallet(&identity).await;
    let template = create_template(&app, &peer, json!({})).await;
    let processes = "/api/v2/Identities/Self/DeletionProcesses";
    let started = app.post(processes, Some(&identity.token), json!({})).await;
    let id = started.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let details = admin(
        &app,
        Method::GET,
        &format!("/api/v1/Identities/{}", identity.address),
        None,
    )
    .await;
    assert_eq!(details.result()["tierId"], QUEUED_FOR_DELETION);

    let token = Some(identity.token.as_str());
    let refusals = [
        (
            app.post("/api/v2/Messages", token, message_to(&[&peer])).await,
            "NumberOfSentMessages",
        ),
        (
            app.post(
                "/api/v2/RelationshipTemplates",
                token,
                json!({ "content": "AQID" }),
            )
            .await,
            "NumberOfRelationshipTemplates",
        ),
        (
            app.post(
                "/api/v2/Relationships",
                token,
                json!({ "relationshipTemplateId": template }),
            )
            .await,
            "NumberOfRelationships",
        ),
        (create_token(&app, Some(&identity)).await, "NumberOfTokens"),
        (
            app.post("/api/v2/Challenges", token, json!({})).await,
            "NumberOfCreatedChallenges",
        ),
    ];
    for (response, metric) in &refusals {
        expect_exhausted(response, &[metric], Some(FOREVER));
    }
    expect_exhausted(
        &upload(&app, &identity, 10).await,
        &["NumberOfFiles", "UsedFileStorageSpace"],
        Some(FOREVER),
    );
    // Its datawallet stays writable, and it can change its mind.
    push_modification(&app, &identity, None).await.expect_status(201);
    app.put(&format!("{processes}/{id}/Cancel"), token, json!({}))
        .await
        .expect_status(200);
    create_token(&app, Some(&identity)).await.expect_status(201);
    app.post("/api/v2/Messages", token, message_to(&[&peer]))
        .await
        .expect_status(201);
}

async fn the_deletion_job_removes_the_individual_quotas(app: TestApp) {
    let identity = app.create_identity().await;
    let tier = create_tier(&app, "Doomed").await;
    assign_tier(&app, &identity, &tier).await;
    super::add_individual_quota(&app, &identity, "NumberOfTokens", 3, "Day").await;
    let body = json!({ "lengthOfGracePeriodInDays": 0 });
    app.post(
        "/api/v2/Identities/Self/DeletionProcesses",
        Some(&identity.token),
        body,
    )
    .await
    .expect_status(201);
    app.clock.advance(chrono::Duration::seconds(1));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
    assert_eq!(app.count("individual_quotas").await, 0);
}
