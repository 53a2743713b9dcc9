//! Spec consumer-api-exchange §5.4: listing messages. The caller's sent and received messages
//! form one list, oldest first (ties by ID), paged, with the total on every page of a list of
//! several pages; a message to several recipients appears once, and decomposing hides each side
//! separately.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{standard_base64, TestApp, TestIdentity};
use crate::on_both_databases;
use crate::relationships::request;
use crate::templates::create_template;

on_both_databases!(
    pages_interleave_sent_and_received_messages_in_order,
    decomposing_hides_only_the_messages_of_that_relationship,
);

/// An active relationship between the two; returns its ID.
async fn relate(app: &TestApp, owner: &TestIdentity, requester: &TestIdentity) -> String {
    let template = create_template(app, owner, json!({})).await;
    let id = request(app, requester, &template).await;
    app.put(
        &format!("/api/v2/Relationships/{id}/Accept"),
        Some(&owner.token),
        json!({}),
    )
    .await
    .expect_status(200);
    id
}

async fn send(app: &TestApp, from: &TestIdentity, to: &[&TestIdentity]) -> String {
    let body = json!({
        "recipients": to.iter().map(|r| json!({ "address": r.address, "encryptedKey": standard_base64(&[7; 32]) })).collect::<Vec<_>>(),
        "body": standard_base64(b"encrypted body"),
        "attachments": [],
    });
    let response = app.post("/api/v2/Messages", Some(&from.token), body).await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The IDs on one page of the caller's list, and its pagination object.
async fn page(app: &TestApp, caller: &TestIdentity, number: u32, size: u32) -> (Vec<String>, Value) {
    let response = app
        .get(
            &format!("/api/v2/Messages?pageNumber={number}&pageSize={size}"),
            Some(&caller.token),
        )
        .await;
    response.expect_status(200);
    let ids = response
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, response.body["pagination"].clone())
}

/// Three identities, `a` related to `b` and `c`, `b` to `c`, and the messages they exchanged.
struct Exchange {
    a: TestIdentity,
    b: TestIdentity,
    c: TestIdentity,
    a_b: String,
    /// a→b and b→a at the same instant, a→[b, c], c→a, b→a: a's list, oldest first.
    seen_by_a: Vec<String>,
    b_to_c: String,
}

async fn exchange(app: &TestApp) -> Exchange {
    let (a, b, c) = (
        app.create_identity().await,
        app.create_identity().await,
        app.create_identity().await,
    );
    let a_b = relate(app, &a, &b).await;
    relate(app, &a, &c).await;
    relate(app, &b, &c).await;
    // The first two share their creation time: the ID decides their order.
    let mut same_instant = vec![send(app, &a, &[&b]).await, send(app, &b, &[&a]).await];
    same_instant.sort();
    let mut seen_by_a = same_instant;
    for (from, to) in [(&a, vec![&b, &c]), (&c, vec![&a]), (&b, vec![&a])] {
        app.clock.advance(Duration::seconds(1));
        seen_by_a.push(send(app, from, &to).await);
    }
    app.clock.advance(Duration::seconds(1));
    let b_to_c = send(app, &b, &[&c]).await;
    Exchange {
        a,
        b,
        c,
        a_b,
        seen_by_a,
        b_to_c,
    }
}

async fn pages_interleave_sent_and_received_messages_in_order(app: TestApp) {
    let e = exchange(&app).await;
    let mut listed = Vec::new();
    for number in 1..=3 {
        let (ids, pagination) = page(&app, &e.a, number, 2).await;
        assert_eq!(
            pagination,
            json!({ "pageNumber": number, "pageSize": 2, "totalPages": 3, "totalRecords": 5 })
        );
        listed.extend(ids);
    }
    assert_eq!(listed, e.seen_by_a, "every visible message once, oldest first");
    let (beyond, pagination) = page(&app, &e.a, 4, 2).await;
    assert!(beyond.is_empty());
    assert_eq!(pagination["totalRecords"], 5);

    let (ids, pagination) = page(&app, &e.b, 1, 50).await;
    assert_eq!(ids, seen_by_b(&e));
    assert!(pagination.is_null(), "one page needs no pagination");
    let (ids, _) = page(&app, &e.c, 1, 50).await;
    assert_eq!(
        ids,
        [&e.seen_by_a[2], &e.seen_by_a[3], &e.b_to_c].map(String::as_str)
    );
}

async fn decomposing_hides_only_the_messages_of_that_relationship(app: TestApp) {
    let e = exchange(&app).await;
    for step in ["Terminate", "Decompose"] {
        app.put(
            &format!("/api/v2/Relationships/{}/{step}", e.a_b),
            Some(&e.a.token),
            json!({}),
        )
        .await
        .expect_status(200);
    }
    app.process_events().await;
    // a no longer sees what it exchanged with b alone; the message also sent to c stays.
    let (ids, _) = page(&app, &e.a, 1, 50).await;
    assert_eq!(ids, [&e.seen_by_a[2], &e.seen_by_a[3]].map(String::as_str));
    let (ids, pagination) = page(&app, &e.a, 1, 1).await;
    assert_eq!(ids, [e.seen_by_a[2].as_str()]);
    assert_eq!(pagination["totalRecords"], 2);
    // b did not decompose: its list is unchanged.
    let (ids, _) = page(&app, &e.b, 1, 50).await;
    assert_eq!(ids, seen_by_b(&e));
}

/// Everything but c→a, and b→c last.
fn seen_by_b(e: &Exchange) -> Vec<String> {
    let s = &e.seen_by_a;
    [&s[0], &s[1], &s[2], &s[4], &e.b_to_c]
        .map(String::clone)
        .to_vec()
}
