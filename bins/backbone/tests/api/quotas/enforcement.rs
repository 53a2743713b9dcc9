//! How quotas are enforced (admin-and-services §1.6): exactly under bursts, per period window,
//! individual quotas hiding the tier's, tier changes applying at once, and the caller's view
//! (`GET /api/v2/Quotas`).

use chrono::{Duration, Timelike};
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use super::{
    add_individual_quota, add_tier_quota, admin, assign_tier, create_tier, create_token, expect_exhausted,
    identity_with_quota,
};
use crate::helpers::{assert_keys, Backend, TestApp};
use crate::messages::{message_to, related};
use crate::on_both_databases;

on_both_databases!(
    exhausted_quotas_free_up_in_the_next_period,
    individual_quotas_hide_the_tier_quotas_of_their_metric,
    tier_changes_apply_to_the_next_request,
    the_caller_sees_its_quotas_grouped_by_metric,
);

/// `yyyy-MM-ddTHH:59:59.999Z` of the hour `now` lies in, as the 429 body writes it.
fn end_of_hour(now: chrono::DateTime<chrono::Utc>) -> String {
    let start = now
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    (start + Duration::hours(1) - Duration::milliseconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

mod a_burst_of_sends_gets_exactly_the_quota {
    use super::*;

    /// 50 parallel sends against 10 per hour: the check and the insert are one transaction
    /// under the sender's quota lock, so exactly 10 pass, whatever the interleaving. The pool
    /// has its default size on PostgreSQL, so many sends are in flight at once.
    async fn fifty_sends_against_ten(app: TestApp) {
        let (recipient, sender, _) = related(&app).await;
        let tier = create_tier(&app, "Burst").await;
        add_tier_quota(&app, &tier, "NumberOfSentMessages", 10, "Hour").await;
        assign_tier(&app, &sender, &tier).await;
        let sends =
            (0..50).map(|_| app.post("/api/v2/Messages", Some(&sender.token), message_to(&[&recipient])));
        let answers = join_all(sends).await;
        let created = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(
            created,
            10,
            "{:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        let until = end_of_hour(app.clock_now());
        for refused in answers.iter().filter(|a| a.status != 201) {
            expect_exhausted(refused, &["NumberOfSentMessages"], Some(&until));
        }
        assert_eq!(app.count("messages").await, 10);
        // The recipient, without a quota, is not affected.
        let reply = app
            .post("/api/v2/Messages", Some(&recipient.token), message_to(&[&sender]))
            .await;
        reply.expect_status(201);
    }

    async fn spawn(backend: Backend) -> TestApp {
        let defaults = backbone::config::Settings::default().database;
        TestApp::spawn_with(backend, |settings| {
            settings.database.max_connections = defaults.max_connections;
        })
        .await
    }

    #[tokio::test]
    async fn sqlite() {
        fifty_sends_against_ten(spawn(Backend::Sqlite).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        fifty_sends_against_ten(spawn(Backend::Postgres).await).await;
    }
}

mod a_locked_identity_holds_up_no_other_identity {
    use super::*;
    use backbone_core::quotas::MetricKey;
    use backbone_core::IdentityAddress;

    /// PostgreSQL only: on SQLite every write waits for the one writer connection anyway.
    /// While a transaction holds one identity's quota lock, another identity's limited write
    /// completes; the first identity's own write waits for the lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let app = TestApp::spawn(Backend::Postgres).await;
        let (first, _) = identity_with_quota(&app, "NumberOfTokens", 5, "Hour").await;
        let (second, _) = identity_with_quota(&app, "NumberOfTokens", 5, "Hour").await;
        let mut held = app.app.db.begin_write().await.unwrap();
        let address = IdentityAddress::parse(&first.address).unwrap();
        app.app
            .quotas
            .check(&mut held, &address, &[MetricKey::NumberOfTokens], app.clock_now())
            .await
            .unwrap();
        let waiting = tokio::spawn({
            let (base, token) = (app.base.clone(), first.token.clone());
            async move {
                let expires =
                    backbone_core::encoding::format_date(&(chrono::Utc::now() + Duration::hours(1)));
                let body = json!({ "content": "AQID", "expiresAt": expires });
                reqwest::Client::new()
                    .post(format!("{base}/api/v2/Tokens"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        });
        create_token(&app, Some(&second)).await.expect_status(201);
        assert!(
            !waiting.is_finished(),
            "the first identity's write waits for its lock"
        );
        held.rollback().await.unwrap();
        assert_eq!(waiting.await.unwrap(), 201);
    }
}

async fn exhausted_quotas_free_up_in_the_next_period(app: TestApp) {
    // Away from the end of an hour, so that the writes below share one.
    let minutes = i64::from(app.clock_now().minute());
    app.clock
        .advance(Duration::minutes(60 - minutes) + Duration::minutes(5));
    let (identity, _) = identity_with_quota(&app, "NumberOfTokens", 2, "Hour").await;
    create_token(&app, Some(&identity)).await.expect_status(201);
    create_token(&app, Some(&identity)).await.expect_status(201);
    let until = end_of_hour(app.clock_now());
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        Some(&until),
    );
    // The last millisecond of the hour still belongs to it.
    let last_millisecond = chrono::DateTime::parse_from_rfc3339(&until)
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.clock.advance(last_millisecond - app.clock_now());
    let identity = app.relogin(&identity).await;
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        Some(&until),
    );
    app.clock.advance(Duration::milliseconds(1));
    create_token(&app, Some(&identity)).await.expect_status(201);
    assert_eq!(app.count("tokens").await, 3);
}

async fn individual_quotas_hide_the_tier_quotas_of_their_metric(app: TestApp) {
    let (identity, tier) = identity_with_quota(&app, "NumberOfTokens", 1, "Hour").await;
    add_tier_quota(&app, &tier, "NumberOfRelationshipTemplates", 1, "Total").await;
    let individual = add_individual_quota(&app, &identity, "NumberOfTokens", 3, "Day").await;
    for _ in 0..3 {
        create_token(&app, Some(&identity)).await.expect_status(201);
    }
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        None,
    );
    // The tier's quota of another metric still applies.
    let template = json!({ "content": "AQID" });
    app.post(
        "/api/v2/RelationshipTemplates",
        Some(&identity.token),
        template.clone(),
    )
    .await
    .expect_status(201);
    let refused = app
        .post("/api/v2/RelationshipTemplates", Some(&identity.token), template)
        .await;
    expect_exhausted(
        &refused,
        &["NumberOfRelationshipTemplates"],
        Some("9999-12-31T23:59:59.999Z"),
    );
    // Without the individual quota the tier's applies again: 3 tokens this hour, 1 allowed.
    let path = format!("/api/v1/Identities/{}/Quotas/{individual}", identity.address);
    admin(&app, Method::DELETE, &path, None).await.expect_status(204);
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        None,
    );
    assert_eq!(app.count("tokens").await, 3);
}

async fn tier_changes_apply_to_the_next_request(app: TestApp) {
    let identity = app.create_identity().await;
    let strict = create_tier(&app, "Strict").await;
    add_tier_quota(&app, &strict, "NumberOfTokens", 1, "Total").await;
    create_token(&app, Some(&identity)).await.expect_status(201);
    assign_tier(&app, &identity, &strict).await;
    expect_exhausted(
        &create_token(&app, Some(&identity)).await,
        &["NumberOfTokens"],
        None,
    );
    assign_tier(&app, &identity, "TIRBasic000000000000").await;
    create_token(&app, Some(&identity)).await.expect_status(201);
}

async fn the_caller_sees_its_quotas_grouped_by_metric(app: TestApp) {
    let (identity, tier) = identity_with_quota(&app, "NumberOfTokens", 5, "Hour").await;
    add_tier_quota(&app, &tier, "NumberOfFiles", 2, "Total").await;
    add_individual_quota(&app, &identity, "NumberOfTokens", 8, "Week").await;
    create_token(&app, Some(&identity)).await.expect_status(201);
    let quotas = app.get("/api/v2/Quotas", Some(&identity.token)).await;
    let groups = quotas.expect_status(200).result().as_array().unwrap().clone();
    assert_keys(&groups[0], &["metricKey", "quotas"]);
    assert_keys(
        &groups[0]["quotas"][0],
        &["source", "metricKey", "max", "usage", "period"],
    );
    assert_eq!(
        groups,
        [
            json!({ "metricKey": "NumberOfTokens", "quotas": [
                { "source": "Individual", "metricKey": "NumberOfTokens", "max": 8, "usage": 1, "period": "Week" },
                { "source": "Tier", "metricKey": "NumberOfTokens", "max": 5, "usage": 1, "period": "Hour" },
            ] }),
            json!({ "metricKey": "NumberOfFiles", "quotas": [
                { "source": "Tier", "metricKey": "NumberOfFiles", "max": 2, "usage": 0, "period": "Total" },
            ] }),
        ]
    );
    let without_quotas = app.create_identity().await;
    let empty = app.get("/api/v2/Quotas", Some(&without_quotas.token)).await;
    assert_eq!(empty.expect_status(200).result(), &json!([]));
    assert_eq!(app.get("/api/v2/Quotas", None).await.status, 401);
}
