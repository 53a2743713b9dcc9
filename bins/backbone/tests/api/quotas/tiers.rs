//! Tiers in the Admin API (admin-and-services §1.3/1.4): deleting one by upstream's rules, in
//! upstream's order, and moving an identity to another tier.

use reqwest::Method;
use serde_json::{json, Value};

use super::admin::count_where;
use super::{add_tier_quota, admin, create_tier, identity_with_quota, QUEUED_FOR_DELETION};
use crate::helpers::TestApp;
use crate::on_both_databases;

on_both_databases!(
    tiers_are_deleted_by_upstream_rules_in_upstream_order,
    operators_change_the_tier_of_an_identity,
);

async fn tiers_are_deleted_by_upstream_rules_in_upstream_order(app: TestApp) {
    let used = "error.platform.validation.device.usedTierCannotBeDeleted";
    let delete = |id: String| {
        let app = &app;
        async move { admin(app, Method::DELETE, &format!("/api/v1/Tiers/{id}"), None).await }
    };
    delete("TIRdoesnotexist00000".into())
        .await
        .expect_error(404, "error.platform.recordNotFound");
    delete("nonsense".into())
        .await
        .expect_error(400, "error.platform.validation.invalidId");

    let default_of_a_client = create_tier(&app, "Bronze").await;
    let client = json!({ "clientId": "bronze-app", "defaultTier": default_of_a_client });
    admin(&app, Method::POST, "/api/v1/Clients", Some(client))
        .await
        .expect_status(201);
    let (_member, assigned) = identity_with_quota(&app, "NumberOfTokens", 1, "Day").await;
    let refused = delete(default_of_a_client.clone()).await;
    refused.expect_error(400, used);
    assert!(
        refused.text.contains("default Tier of a Client (1 found)"),
        "{}",
        refused.text
    );
    let refused = delete(assigned.clone()).await;
    refused.expect_error(400, used);
    assert!(
        refused.text.contains("assigned to an Identity (1 found)"),
        "{}",
        refused.text
    );
    // Basic, once neither a client nor an identity uses it; then the fixed tier.
    admin(&app, Method::DELETE, "/api/v1/Clients/test", None)
        .await
        .expect_status(204);
    delete("TIRBasic000000000000".into())
        .await
        .expect_error(400, "error.platform.validation.device.basicTierCannotBeDeleted");
    delete(QUEUED_FOR_DELETION.into()).await.expect_error(
        400,
        "error.platform.validation.device.queuedForDeletionTierCannotBeDeleted",
    );
    let tiers_before = app.count("tiers").await;

    let unused = create_tier(&app, "Tin").await;
    add_tier_quota(&app, &unused, "NumberOfFiles", 3, "Month").await;
    delete(unused.clone()).await.expect_status(204);
    admin(&app, Method::GET, &format!("/api/v1/Tiers/{unused}"), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    // The Quotas module drops the deleted tier's definitions when it learns of the deletion.
    app.process_events().await;
    assert_eq!(
        count_where(&app, "tier_quota_definitions", "tier_id", &unused).await,
        0
    );
    assert_eq!(
        count_where(&app, "tier_quota_definitions", "tier_id", &assigned).await,
        1
    );
    assert_eq!(app.count("tiers").await, tiers_before);
}

async fn operators_change_the_tier_of_an_identity(app: TestApp) {
    let identity = app.create_identity().await;
    let gold = create_tier(&app, "Gold").await;
    let path = format!("/api/v1/Identities/{}", identity.address);
    let put = |path: String, body: Value| {
        let app = &app;
        async move { admin(app, Method::PUT, &path, Some(body)).await }
    };
    put(path.clone(), json!({ "tierId": gold }))
        .await
        .expect_status(204);
    let details = admin(&app, Method::GET, &path, None).await;
    assert_eq!(details.result()["tierId"], gold.as_str());
    assert_eq!(
        count_where(&app, "outbox_events", "event_type", "TierOfIdentityChanged").await,
        1
    );

    put(path.clone(), json!({ "tierId": gold }))
        .await
        .expect_error(400, "error.platform.validation.newAndOldMatch");
    let queued = "error.platform.validation.device.queuedForDeletionTierCannotBeManuallyAssignedOrUnassigned";
    put(path.clone(), json!({ "tierId": QUEUED_FOR_DELETION }))
        .await
        .expect_error(400, queued);
    put(path.clone(), json!({ "tierId": "TIRdoesnotexist00000" }))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    put(path.clone(), json!({ "tierId": "gold" }))
        .await
        .expect_error(400, "error.platform.validation.invalidId");
    put(path.clone(), json!({}))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    let stranger = backbone_core::IdentityAddress::derive(&[7; 32], "localhost");
    put(
        format!("/api/v1/Identities/{stranger}"),
        json!({ "tierId": gold }),
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");

    // A deleting identity stays in "Queued for Deletion" until its deletion is cancelled.
    app.post(
        "/api/v2/Identities/Self/DeletionProcesses",
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(201);
    let basic = "TIRBasic000000000000";
    put(path.clone(), json!({ "tierId": basic }))
        .await
        .expect_error(400, queued);
    let details = admin(&app, Method::GET, &path, None).await;
    assert_eq!(details.result()["tierId"], QUEUED_FOR_DELETION);
    // Only the deletion's own change was recorded.
    assert_eq!(
        count_where(&app, "outbox_events", "event_type", "TierOfIdentityChanged").await,
        2
    );
}
