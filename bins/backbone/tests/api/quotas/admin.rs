//! The Admin API of quotas and metrics (admin-and-services §1.3/1.4), with upstream's codes
//! and order of checks; refused requests write nothing.

use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::{
    add_individual_quota, add_tier_quota, admin, create_tier, create_token, identity_with_quota, quota,
    QUEUED_FOR_DELETION,
};
use crate::helpers::{assert_date, assert_keys, TestApp};
use crate::on_both_databases;

on_both_databases!(
    metrics_are_listed_with_their_display_names,
    tier_quotas_are_added_shown_and_removed,
    bad_tier_quotas_are_refused_without_writing,
    the_queued_for_deletion_tier_keeps_its_seeded_quotas,
    individual_quotas_are_added_and_removed,
    identity_details_show_every_quota_with_its_live_usage,
    concurrent_duplicates_give_one_quota,
);

const QUOTA_KEYS: &[&str] = &["id", "metric", "max", "period"];

pub(super) async fn count_where(app: &TestApp, table: &str, condition: &str, value: &str) -> i64 {
    backbone_db::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {condition} = $1"))
        .bind(value)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap()
}

async fn metrics_are_listed_with_their_display_names(app: TestApp) {
    let metrics = admin(&app, Method::GET, "/api/v1/Metrics", None).await;
    let list = metrics.expect_status(200).result().as_array().unwrap().clone();
    assert_eq!(list.len(), 10);
    assert_keys(&list[0], &["key", "displayName"]);
    assert_eq!(
        list[0],
        json!({ "key": "NumberOfSentMessages", "displayName": "Number of Sent Messages" })
    );
    assert!(list.contains(
        &json!({ "key": "UsedFileStorageSpace", "displayName": "File Storage Capacity (in Megabytes)" })
    ));
    assert!(list
        .contains(&json!({ "key": "NumberOfCreatedDevices", "displayName": "Number of Created Devices" })));
    let without_key = app
        .raw(app.http.get(format!("{}/api/v1/Metrics", app.admin_base)))
        .await;
    assert_eq!(without_key.status, 401);
}

async fn tier_quotas_are_added_shown_and_removed(app: TestApp) {
    let tier = create_tier(&app, "Gold").await;
    let path = format!("/api/v1/Tiers/{tier}/Quotas");
    let created = admin(
        &app,
        Method::POST,
        &path,
        Some(quota("NumberOfSentMessages", 5, "Hour")),
    )
    .await;
    let definition = created.expect_status(201).result().clone();
    assert_keys(&definition, QUOTA_KEYS);
    let id = definition["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("TQD") && id.len() == 20, "{id}");
    assert_eq!(
        definition["metric"],
        json!({ "key": "NumberOfSentMessages", "displayName": "Number of Sent Messages" })
    );
    assert_eq!(
        (definition["max"].clone(), definition["period"].clone()),
        (json!(5), json!("Hour"))
    );
    // Property names in any case, `max` as text, periods by number or in any case (ASP.NET).
    app.clock.advance(chrono::Duration::milliseconds(1));
    let by_number = json!({ "MetricKey": "NumberOfTokens", "Max": "3", "Period": 1 });
    let second = admin(&app, Method::POST, &path, Some(by_number)).await;
    assert_eq!(second.expect_status(201).result()["period"], "Day");
    app.clock.advance(chrono::Duration::milliseconds(1));
    let third = admin(&app, Method::POST, &path, Some(quota("NumberOfFiles", 2, "week"))).await;
    assert_eq!(third.expect_status(201).result()["period"], "Week");

    let details = admin(&app, Method::GET, &format!("/api/v1/Tiers/{tier}"), None).await;
    let details = details.expect_status(200).result().clone();
    assert_keys(&details, &["id", "name", "quotas"]);
    assert_eq!(
        (details["id"].as_str(), details["name"].as_str()),
        (Some(tier.as_str()), Some("Gold"))
    );
    let keys: Vec<&str> = details["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["metric"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["NumberOfSentMessages", "NumberOfTokens", "NumberOfFiles"]);
    assert_eq!(details["quotas"][0], definition);

    admin(&app, Method::DELETE, &format!("{path}/{id}"), None)
        .await
        .expect_status(204);
    admin(&app, Method::DELETE, &format!("{path}/{id}"), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    let details = admin(&app, Method::GET, &format!("/api/v1/Tiers/{tier}"), None).await;
    assert_eq!(details.result()["quotas"].as_array().unwrap().len(), 2);
    admin(&app, Method::GET, "/api/v1/Tiers/TIRdoesnotexist00000", None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
    admin(&app, Method::GET, "/api/v1/Tiers/nonsense", None)
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

async fn bad_tier_quotas_are_refused_without_writing(app: TestApp) {
    let tier = create_tier(&app, "Silver").await;
    let before = app.count("tier_quota_definitions").await;
    let path = format!("/api/v1/Tiers/{tier}/Quotas");
    let refused = |body: Value, code: &'static str| {
        let path = path.clone();
        let app = &app;
        async move {
            admin(app, Method::POST, &path, Some(body))
                .await
                .expect_error(400, code);
        }
    };
    let unsupported = "error.platform.quotas.unsupportedMetricKey";
    let invalid = "error.platform.validation.invalidPropertyValue";
    let unparsable = "error.platform.inputCannotBeParsed";
    refused(quota("NumberOfMessages", 1, "Hour"), unsupported).await;
    refused(quota("numberOfSentMessages", 1, "Hour"), unsupported).await;
    refused(quota("NumberOfSentMessages", 0, "Hour"), invalid).await;
    refused(quota("NumberOfSentMessages", -1, "Hour"), invalid).await;
    refused(json!({ "metricKey": null, "max": 1, "period": "Hour" }), invalid).await;
    refused(quota("NumberOfSentMessages", 1, "Fortnight"), unparsable).await;
    refused(
        json!({ "metricKey": "NumberOfSentMessages", "max": 1, "period": 6 }),
        unparsable,
    )
    .await;
    refused(
        json!({ "metricKey": "NumberOfSentMessages", "period": "Hour" }),
        unparsable,
    )
    .await;
    refused(
        json!({ "metricKey": "NumberOfSentMessages", "max": 1 }),
        unparsable,
    )
    .await;
    refused(json!({ "max": 1, "period": "Hour" }), unparsable).await;
    refused(
        json!({ "metricKey": "NumberOfSentMessages", "max": 1.5, "period": "Hour" }),
        unparsable,
    )
    .await;
    refused(
        json!({ "metricKey": "NumberOfSentMessages", "max": 3_000_000_000_i64, "period": "Hour" }),
        unparsable,
    )
    .await;
    // Upstream's order: the request's validity, then the tier, then the metric, then the rules.
    let unknown_tier = "/api/v1/Tiers/TIRdoesnotexist00000/Quotas";
    let response = admin(
        &app,
        Method::POST,
        unknown_tier,
        Some(quota("NumberOfMessages", 1, "Hour")),
    )
    .await;
    response.expect_error(404, "error.platform.recordNotFound");
    let response = admin(
        &app,
        Method::POST,
        unknown_tier,
        Some(quota("NumberOfTokens", 0, "Hour")),
    )
    .await;
    response.expect_error(400, invalid);
    let response = admin(
        &app,
        Method::POST,
        "/api/v1/Tiers/notatier/Quotas",
        Some(quota("NumberOfTokens", 1, "Hour")),
    )
    .await;
    response.expect_error(400, invalid);
    let queued = format!("/api/v1/Tiers/{QUEUED_FOR_DELETION}/Quotas");
    let response = admin(
        &app,
        Method::POST,
        &queued,
        Some(quota("NumberOfCreatedDatawalletModifications", 1, "Hour")),
    )
    .await;
    response.expect_error(
        400,
        "error.platform.quotas.cannotCreateOrDeleteQuotaOnQueuedForDeletionTier",
    );
    let response = admin(&app, Method::POST, &queued, Some(quota("Nothing", 1, "Hour"))).await;
    response.expect_error(400, unsupported);
    add_tier_quota(&app, &tier, "NumberOfSentMessages", 5, "Hour").await;
    refused(
        quota("NumberOfSentMessages", 7, "Hour"),
        "error.platform.quotas.duplicateQuota",
    )
    .await;
    // Another period of the same metric is another quota.
    add_tier_quota(&app, &tier, "NumberOfSentMessages", 7, "Day").await;
    assert_eq!(app.count("tier_quota_definitions").await, before + 2);
}

async fn the_queued_for_deletion_tier_keeps_its_seeded_quotas(app: TestApp) {
    let path = format!("/api/v1/Tiers/{QUEUED_FOR_DELETION}");
    let details = admin(&app, Method::GET, &path, None).await;
    let details = details.expect_status(200).result().clone();
    assert_eq!(details["name"], "Queued for Deletion");
    let quotas = details["quotas"].as_array().unwrap().clone();
    let mut keys: Vec<&str> = quotas
        .iter()
        .map(|q| q["metric"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "NumberOfCreatedChallenges",
            "NumberOfCreatedDevices",
            "NumberOfFiles",
            "NumberOfRelationshipTemplates",
            "NumberOfRelationships",
            "NumberOfSentMessages",
            "NumberOfTokens",
            "UsedFileStorageSpace",
        ]
    );
    assert!(quotas.iter().all(|q| q["max"] == 0 && q["period"] == "Total"));
    let seeded = quotas[0]["id"].as_str().unwrap();
    let response = admin(&app, Method::DELETE, &format!("{path}/Quotas/{seeded}"), None).await;
    response.expect_error(
        400,
        "error.platform.quotas.cannotCreateOrDeleteQuotaOnQueuedForDeletionTier",
    );
    assert_eq!(
        count_where(&app, "tier_quota_definitions", "tier_id", QUEUED_FOR_DELETION).await,
        8
    );
}

async fn individual_quotas_are_added_and_removed(app: TestApp) {
    let identity = app.create_identity().await;
    let path = format!("/api/v1/Identities/{}/Quotas", identity.address);
    let created = admin(&app, Method::POST, &path, Some(quota("NumberOfTokens", 3, "Day"))).await;
    let created = created.expect_status(201).result().clone();
    assert_keys(&created, QUOTA_KEYS);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("QUO") && id.len() == 20, "{id}");
    assert_eq!(created["metric"]["displayName"], "Number of Tokens");

    let post = |path: String, body: Value| {
        let app = &app;
        async move { admin(app, Method::POST, &path, Some(body)).await }
    };
    post(path.clone(), quota("NumberOfTokens", 9, "Day"))
        .await
        .expect_error(400, "error.platform.quotas.duplicateQuota");
    post(path.clone(), quota("NumberOfThings", 9, "Day"))
        .await
        .expect_error(400, "error.platform.quotas.unsupportedMetricKey");
    post(path.clone(), quota("NumberOfTokens", 0, "Week"))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    let stranger = backbone_core::IdentityAddress::derive(&[9; 32], "localhost");
    let strangers = format!("/api/v1/Identities/{stranger}/Quotas");
    post(strangers.clone(), quota("NumberOfTokens", 1, "Day"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    post(
        "/api/v1/Identities/nobody/Quotas".into(),
        quota("NumberOfTokens", 1, "Day"),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(app.count("individual_quotas").await, 1);

    let delete = |path: String| {
        let app = &app;
        async move { admin(app, Method::DELETE, &path, None).await }
    };
    delete(format!("{path}/QUOdoesnotexist00000"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    delete(format!("{path}/nonsense"))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    delete(format!("{strangers}/{id}"))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    delete(format!("{path}/{id}")).await.expect_status(204);
    assert_eq!(app.count("individual_quotas").await, 0);
}

async fn identity_details_show_every_quota_with_its_live_usage(app: TestApp) {
    let (identity, tier) = identity_with_quota(&app, "NumberOfTokens", 5, "Hour").await;
    let individual = add_individual_quota(&app, &identity, "NumberOfTokens", 10, "Day").await;
    for _ in 0..2 {
        create_token(&app, Some(&identity)).await.expect_status(201);
    }
    let details = admin(
        &app,
        Method::GET,
        &format!("/api/v1/Identities/{}", identity.address),
        None,
    )
    .await;
    let details = details.expect_status(200).result().clone();
    assert_keys(
        &details,
        &[
            "address",
            "clientId",
            "publicKey",
            "tierId",
            "createdAt",
            "identityVersion",
            "numberOfDevices",
            "devices",
            "quotas",
        ],
    );
    assert_eq!(details["address"], identity.address.as_str());
    assert_eq!(
        (details["clientId"].as_str(), details["tierId"].as_str()),
        (Some("test"), Some(tier.as_str()))
    );
    assert_eq!(
        (
            details["identityVersion"].clone(),
            details["numberOfDevices"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_date(&details["createdAt"]);
    let device = &details["devices"][0];
    assert_keys(
        device,
        &[
            "id",
            "username",
            "createdAt",
            "createdByDevice",
            "lastLogin",
            "communicationLanguage",
            "isBackupDevice",
        ],
    );
    assert_eq!(device["id"], identity.device_id.as_str());
    assert_date(&device["lastLogin"]["time"]);
    // Individual quotas first; the tier's quota is listed although it does not apply.
    let quotas = details["quotas"].as_array().unwrap();
    assert_keys(&quotas[0], &["id", "source", "metric", "max", "usage", "period"]);
    let summary: Vec<(&str, &str, i64, i64, &str)> = quotas
        .iter()
        .map(|q| {
            let id = q["id"].as_str().unwrap();
            (
                &id[..3],
                q["source"].as_str().unwrap(),
                q["max"].as_i64().unwrap(),
                q["usage"].as_i64().unwrap(),
                q["period"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("QUO", "Individual", 10, 2, "Day"), ("TQD", "Tier", 5, 2, "Hour")]
    );
    assert_eq!(quotas[0]["id"], individual.as_str());
    let stranger = backbone_core::IdentityAddress::derive(&[8; 32], "localhost");
    admin(&app, Method::GET, &format!("/api/v1/Identities/{stranger}"), None)
        .await
        .expect_error(404, "error.platform.recordNotFound");
}

async fn concurrent_duplicates_give_one_quota(app: TestApp) {
    let tier = create_tier(&app, "Platinum").await;
    let identity = app.create_identity().await;
    let tier_path = format!("/api/v1/Tiers/{tier}/Quotas");
    let identity_path = format!("/api/v1/Identities/{}/Quotas", identity.address);
    let body = quota("NumberOfRelationships", 4, "Month");
    let answers = join_all((0..10).flat_map(|_| {
        [
            admin(&app, Method::POST, &tier_path, Some(body.clone())),
            admin(&app, Method::POST, &identity_path, Some(body.clone())),
        ]
    }))
    .await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        created,
        2,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for refused in answers.iter().filter(|a| a.status != 201) {
        refused.expect_error(400, "error.platform.quotas.duplicateQuota");
    }
    assert_eq!(
        count_where(&app, "tier_quota_definitions", "tier_id", &tier).await,
        1
    );
    assert_eq!(app.count("individual_quotas").await, 1);
}
