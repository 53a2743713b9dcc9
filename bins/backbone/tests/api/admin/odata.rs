//! admin-and-services §1.5: `GET /odata/Identities` with the filters, sorting and paging the
//! Admin UI sends, answered as raw OData JSON; every other query is a 400.

use ed25519_dalek::SigningKey;
use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get};
use crate::helpers::{assert_date, assert_keys, rand_core, TestApp, TestIdentity};
use crate::on_both_databases;

on_both_databases!(
    identities_are_filtered_sorted_and_paged,
    the_overview_shows_devices_logins_datawallet_and_tier,
    malformed_queries_are_refused,
);

/// The `value` array of a successful answer, with the whole body for further checks.
async fn list(app: &TestApp, query: &str) -> (Vec<Value>, Value) {
    let response = admin_get(app, &format!("/odata/Identities?{query}")).await;
    let body = response.expect_status(200).body.clone();
    (body["value"].as_array().expect("a value array").clone(), body)
}

async fn addresses(app: &TestApp, query: &str) -> Vec<String> {
    let (value, _) = list(app, query).await;
    value
        .iter()
        .map(|i| i["address"].as_str().unwrap().to_owned())
        .collect()
}

/// Three identities: `a` with two devices and a datawallet, `b` in the Gold tier, and `c`
/// created through the client `other` that never logged in. Returned sorted by address.
struct Fixture {
    a: TestIdentity,
    b: TestIdentity,
    c: String,
    gold: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let a = app.create_identity().await;
    app.register_device(&a, false).await.expect_status(201);
    app.create_datawallet(&a).await;
    let b = app.create_identity().await;
    let gold = admin(
        app,
        Method::POST,
        "/api/v1/Tiers",
        Some(json!({ "name": "Gold" })),
    )
    .await;
    let gold = gold.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    admin(
        app,
        Method::PUT,
        &format!("/api/v1/Identities/{}", b.address),
        Some(json!({ "tierId": gold })),
    )
    .await
    .expect_status(204);
    let client = json!({ "clientId": "other", "clientSecret": "other-secret", "defaultTier": "Basic" });
    admin(app, Method::POST, "/api/v1/Clients", Some(client))
        .await
        .expect_status(201);
    let key = SigningKey::generate(&mut rand_core());
    let mut request = app.identity_request(&key).await;
    request["clientId"] = json!("other");
    request["clientSecret"] = json!("other-secret");
    let c = app.post("/api/v2/Identities", None, request).await;
    let c = c.expect_status(201).result()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture { a, b, c, gold }
}

fn sorted(mut addresses: Vec<&str>) -> Vec<String> {
    addresses.sort_unstable();
    addresses.into_iter().map(str::to_owned).collect()
}

async fn identities_are_filtered_sorted_and_paged(app: TestApp) {
    let f = fixture(&app).await;
    let (a, b, c) = (f.a.address.as_str(), f.b.address.as_str(), f.c.as_str());
    let all = sorted(vec![a, b, c]);
    // The Admin UI's first page: count, expand, top/skip and its `$orderBy` spelling.
    let (value, body) = list(
        &app,
        "$top=2&$skip=0&$count=true&$orderBy=address%20asc&$expand=Tier",
    )
    .await;
    assert_keys(&body, &["@odata.context", "@odata.count", "value"]);
    assert_eq!(body["@odata.count"], 3);
    let context = body["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("/odata/$metadata#Identities(tier())"),
        "{context}"
    );
    assert_eq!(value.len(), 2);
    assert_eq!(addresses(&app, "$skip=2&$orderby=address").await, all[2..]);
    assert_eq!(
        addresses(&app, "$orderby=address desc").await,
        all.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(addresses(&app, "$orderby=numberOfDevices desc&$top=1").await, [a]);
    assert_eq!(addresses(&app, "$top=0").await, Vec::<String>::new());

    let today = app.clock_now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let part = &a[a.len() - 8..];
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("(contains(address, '{part}'))"), vec![a]),
        (
            format!("(tier/Id eq '{}' or tier/Id eq 'TIRxxxxxxxxxxxxxxxxx')", f.gold),
            vec![b],
        ),
        ("(createdWithClient eq 'other')".into(), vec![c]),
        ("createdWithClient ne 'other'".into(), vec![a, b]),
        ("(numberOfDevices gt 1)".into(), vec![a]),
        ("datawalletVersion eq 1".into(), vec![a]),
        // A missing value differs from every value, as in C#.
        ("datawalletVersion ne 1".into(), vec![b, c]),
        ("lastLoginAt eq null".into(), vec![c]),
        (format!("(createdAt eq {today})"), vec![a, b, c]),
        (format!("(createdAt ge {tomorrow})"), vec![]),
        (
            format!("(lastLoginAt lt {tomorrow}) and (identityVersion eq 1)"),
            vec![a, b],
        ),
        (
            format!("(createdAt le {today}) and (not (numberOfDevices eq 1))"),
            vec![a],
        ),
    ];
    for (filter, expected) in cases {
        let query = format!("$filter={}&$count=true", urlencode(&filter));
        let (value, body) = list(&app, &query).await;
        let found: Vec<String> = value
            .iter()
            .map(|i| i["address"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(found, sorted(expected.clone()), "{filter}");
        assert_eq!(body["@odata.count"], expected.len(), "{filter}");
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn the_overview_shows_devices_logins_datawallet_and_tier(app: TestApp) {
    let f = fixture(&app).await;
    let (value, body) = list(
        &app,
        &format!("$filter={}", urlencode(&format!("address eq '{}'", f.a.address))),
    )
    .await;
    // No `$count`, no `$expand`: neither the count nor the tier.
    assert_keys(&body, &["@odata.context", "value"]);
    let a = &value[0];
    assert_keys(
        a,
        &[
            "address",
            "createdAt",
            "lastLoginAt",
            "createdWithClient",
            "datawalletVersion",
            "identityVersion",
            "numberOfDevices",
        ],
    );
    assert_date(&a["createdAt"]);
    assert_date(&a["lastLoginAt"]);
    assert_eq!(
        (
            &a["createdWithClient"],
            &a["datawalletVersion"],
            &a["identityVersion"],
            &a["numberOfDevices"]
        ),
        (&json!("test"), &json!(1), &json!(1), &json!(2))
    );
    let (value, _) = list(
        &app,
        &format!(
            "$expand=tier&$filter={}",
            urlencode(&format!("address eq '{}'", f.c))
        ),
    )
    .await;
    let c = &value[0];
    assert_eq!(
        (&c["lastLoginAt"], &c["datawalletVersion"]),
        (&Value::Null, &Value::Null)
    );
    assert_keys(&c["tier"], &["id", "name"]);
    assert_eq!(c["tier"]["name"], "Basic");
    let (value, _) = list(
        &app,
        &format!("$expand=Tier&$filter={}", urlencode("tier/name eq 'Gold'")),
    )
    .await;
    assert_eq!(value[0]["tier"], json!({ "id": f.gold, "name": "Gold" }));
    assert_eq!(value[0]["address"], f.b.address.as_str());
}

async fn malformed_queries_are_refused(app: TestApp) {
    app.create_identity().await;
    for query in [
        "$top=101",
        "$top=-1",
        "$skip=abc",
        "$count=maybe",
        "$select=address",
        "$expand=Devices",
        "$orderby=unknown",
        "$orderby=address%20sideways",
        "$top=1&$TOP=2",
        "$filter=",
        "$filter=address",
        "$filter=address%20eq%20'open",
        "$filter=(address%20eq%20'a'",
        "$filter=numberOfDevices%20eq%20'one'",
        "$filter=createdAt%20ge%20'2024-01-01'",
        "$filter=unknown%20eq%201",
        "$filter=address%20gt%20'a'",
        "$filter=startswith(address,'a')",
    ] {
        let response = admin_get(&app, &format!("/odata/Identities?{query}")).await;
        response.expect_error(400, "error.platform.inputCannotBeParsed");
        let message = response.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("The query specified in the URI is not valid."),
            "{query}: {message}"
        );
    }
    // The maximum is allowed; the key is required like everywhere else.
    let (value, _) = list(&app, "$top=100").await;
    assert_eq!(value.len(), 1);
    let refused = app
        .raw(app.http.get(format!("{}/odata/Identities", app.admin_base)))
        .await;
    assert_eq!((refused.status.as_u16(), refused.text.as_str()), (401, ""));
    // Routes match in any case, as upstream's.
    admin_get(&app, "/OData/identities?$Top=1")
        .await
        .expect_status(200);
    let metadata = admin_get(&app, "/odata/$metadata").await;
    metadata.expect_status(200);
    assert!(
        metadata.text.contains(r#"<EntitySet Name="Identities""#),
        "{}",
        metadata.text
    );
    assert!(metadata.text.contains(r#"<NavigationProperty Name="tier""#));
}
