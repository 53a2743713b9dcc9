//! admin-and-services §1.3/1.4, the read-only views of the Admin UI's identity page: an
//! identity's relationships, its incoming and outgoing messages and its tokens (paged as
//! upstream, §0.3), and unlocking a token.

use chrono::Duration;
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use super::{admin, admin_get};
use crate::helpers::{assert_date, assert_keys, standard_base64, TestApp, TestIdentity};
use crate::messages::{message_to, related};
use crate::on_both_databases;
use crate::relationships::request;
use crate::templates::create_template;

on_both_databases!(
    relationships_are_shown_from_the_participants_side,
    messages_are_shown_by_direction,
    tokens_are_listed_without_content_and_unlocked,
    parallel_unlocks_all_succeed_and_each_token_opens,
    views_refuse_bad_queries,
);

const PAGE_SIZE_CODE: &str = "error.platform.validation.pagination.invalidPageSize";

async fn relationships_are_shown_from_the_participants_side(app: TestApp) {
    let (owner, requester, _) = related(&app).await;
    // A second, pending relationship in which the owner asked.
    let third = app.create_identity().await;
    let template = create_template(&app, &third, json!({})).await;
    app.clock.advance(Duration::seconds(1));
    request(&app, &owner, &template).await;

    let list = admin_get(
        &app,
        &format!("/api/v1/Relationships?participant={}", owner.address),
    )
    .await;
    let body = list.expect_status(200).body.clone();
    // One page: no `pagination`, as upstream.
    assert_keys(&body, &["result"]);
    let list = body["result"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = &list[0];
    assert_keys(
        first,
        &[
            "peer",
            "requestedBy",
            "templateId",
            "status",
            "creationDate",
            "answeredAt",
            "answeredByDevice",
            "createdByDevice",
        ],
    );
    // Oldest first; the owner was asked for the accepted one and asked for the pending one.
    assert_eq!(
        (&first["peer"], &first["requestedBy"], &first["status"]),
        (&json!(requester.address), &json!("Peer"), &json!("Active"))
    );
    assert_eq!(first["createdByDevice"], json!(requester.device_id));
    assert_eq!(first["answeredByDevice"], json!(owner.device_id));
    assert_date(&first["answeredAt"]);
    assert_date(&first["creationDate"]);
    let second = &list[1];
    assert_eq!(
        (&second["peer"], &second["requestedBy"], &second["status"]),
        (&json!(third.address), &json!("Self"), &json!("Pending"))
    );
    assert_eq!(
        (&second["answeredAt"], &second["answeredByDevice"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(second["templateId"], json!(template));

    // Pages of one: `pagination` tells the total.
    let page = admin_get(
        &app,
        &format!(
            "/api/v1/Relationships?participant={}&PageNumber=2&PageSize=1",
            owner.address
        ),
    )
    .await;
    let body = page.expect_status(200).body.clone();
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["pagination"],
        json!({ "pageNumber": 2, "pageSize": 1, "totalPages": 2, "totalRecords": 2 })
    );
    let nobody = admin_get(
        &app,
        "/api/v1/Relationships?participant=did:e:localhost:dids:0000000000000000000000",
    )
    .await;
    assert_eq!(nobody.expect_status(200).result(), &json!([]));
}

async fn send(app: &TestApp, from: &TestIdentity, to: &[&TestIdentity]) -> String {
    app.clock.advance(Duration::milliseconds(10));
    let response = app
        .post("/api/v2/Messages", Some(&from.token), message_to(to))
        .await;
    response.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn messages_are_shown_by_direction(app: TestApp) {
    let (owner, requester, relationship) = related(&app).await;
    let sent = send(&app, &requester, &[&owner]).await;
    let answer = send(&app, &owner, &[&requester]).await;
    // The owner reads the message: its `receivedAt` is set.
    app.get(&format!("/api/v2/Messages/{sent}"), Some(&owner.token))
        .await
        .expect_status(200);

    let url =
        |who: &TestIdentity, kind: &str| format!("/api/v1/Messages?participant={}&type={kind}", who.address);
    let incoming = admin_get(&app, &url(&owner, "Incoming")).await;
    let incoming = incoming.expect_status(200).result().as_array().unwrap().clone();
    assert_eq!(incoming.len(), 1);
    let message = &incoming[0];
    assert_keys(
        message,
        &[
            "messageId",
            "senderAddress",
            "senderDevice",
            "sendDate",
            "numberOfAttachments",
            "recipients",
        ],
    );
    assert_eq!(
        (
            &message["messageId"],
            &message["senderAddress"],
            &message["senderDevice"],
            &message["numberOfAttachments"]
        ),
        (
            &json!(sent),
            &json!(requester.address),
            &json!(requester.device_id),
            &json!(1)
        )
    );
    assert_date(&message["sendDate"]);
    let recipient = &message["recipients"][0];
    assert_keys(
        recipient,
        &["id", "messageId", "relationshipId", "address", "receivedAt"],
    );
    assert_eq!(
        (
            &recipient["messageId"],
            &recipient["relationshipId"],
            &recipient["address"]
        ),
        (&json!(sent), &json!(relationship), &json!(owner.address))
    );
    assert_date(&recipient["receivedAt"]);

    let outgoing = admin_get(&app, &url(&owner, "Outgoing")).await;
    let outgoing = outgoing.expect_status(200).result().as_array().unwrap().clone();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0]["messageId"], json!(answer));
    assert_eq!(outgoing[0]["recipients"][0]["receivedAt"], Value::Null);

    // Upstream matches the type exactly.
    admin_get(&app, &url(&owner, "incoming"))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    admin_get(&app, &format!("/api/v1/Messages?participant={}", owner.address))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
}

async fn create_token(app: &TestApp, creator: &TestIdentity, password: Option<&[u8]>) -> String {
    app.clock.advance(Duration::milliseconds(10));
    let mut body = json!({
        "content": standard_base64(b"content"),
        "expiresAt": backbone_core::encoding::format_date(&(app.clock_now() + Duration::hours(1))),
    });
    if let Some(password) = password {
        body["password"] = json!(standard_base64(password));
    }
    let created = app.post("/api/v2/Tokens", Some(&creator.token), body).await;
    created.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn tokens_are_listed_without_content_and_unlocked(app: TestApp) {
    let creator = app.create_identity().await;
    let other = app.create_identity().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_token(&app, &creator, None).await);
    }
    let locked = create_token(&app, &creator, Some(b"secret")).await;
    ids.push(locked.clone());
    create_token(&app, &other, None).await;

    // No `PageSize`: every token, content omitted.
    let all = admin_get(&app, &format!("/api/v1/Tokens?createdBy={}", creator.address)).await;
    let all = all.expect_status(200).result().as_array().unwrap().clone();
    let listed: Vec<&str> = all.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_keys(
        &all[0],
        &[
            "id",
            "createdBy",
            "createdByDevice",
            "forIdentity",
            "createdAt",
            "expiresAt",
            "content",
            "isPasswordProtected",
        ],
    );
    assert_eq!(
        (&all[0]["content"], &all[3]["isPasswordProtected"]),
        (&Value::Null, &json!(true))
    );
    let page = admin_get(
        &app,
        &format!(
            "/api/v1/Tokens?createdBy={}&PageSize=3&PageNumber=1",
            creator.address
        ),
    )
    .await;
    let page = page.expect_status(200).body.clone();
    assert_eq!(
        page["pagination"],
        json!({ "pageNumber": 1, "pageSize": 3, "totalPages": 2, "totalRecords": 4 })
    );

    // Locked by wrong passwords; the operator unlocks it.
    backbone_db::sqlx::query("UPDATE tokens SET access_failed_count = 100 WHERE id = $1")
        .bind(&locked)
        .execute(app.app.db.writer())
        .await
        .unwrap();
    let password = standard_base64(b"secret")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let read = format!("/api/v2/Tokens/{locked}?password={password}");
    app.get(&read, Some(&other.token))
        .await
        .expect_error(400, "error.platform.token.tooManyFailedPasswordAttempts");
    let reset = format!("/api/v1/Tokens/{locked}/ResetAccessFailedCount");
    let response = admin(&app, Method::PATCH, &reset, None).await;
    assert_eq!((response.status.as_u16(), response.text.as_str()), (204, ""));
    app.get(&read, Some(&other.token)).await.expect_status(200);

    admin(
        &app,
        Method::PATCH,
        "/api/v1/Tokens/TOKaaaaaaaaaaaaaaaaa/ResetAccessFailedCount",
        None,
    )
    .await
    .expect_error(404, "error.platform.recordNotFound");
    admin(
        &app,
        Method::PATCH,
        "/api/v1/Tokens/not-a-token/ResetAccessFailedCount",
        None,
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
}

/// Operators unlock the same tokens at once (twice each, interleaved): every answer is 204,
/// and every token is unlocked and readable with its password afterwards.
async fn parallel_unlocks_all_succeed_and_each_token_opens(app: TestApp) {
    let creator = app.create_identity().await;
    let reader = app.create_identity().await;
    let mut locked = Vec::new();
    for _ in 0..4 {
        let id = create_token(&app, &creator, Some(b"secret")).await;
        backbone_db::sqlx::query("UPDATE tokens SET access_failed_count = 100 WHERE id = $1")
            .bind(&id)
            .execute(app.app.db.writer())
            .await
            .unwrap();
        locked.push(id);
    }
    let paths: Vec<String> = locked
        .iter()
        .chain(&locked)
        .map(|id| format!("/api/v1/Tokens/{id}/ResetAccessFailedCount"))
        .collect();
    let answers = join_all(paths.iter().map(|path| admin(&app, Method::PATCH, path, None))).await;
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status.as_u16()).collect();
    assert_eq!(statuses, [204; 8]);
    let password = standard_base64(b"secret")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    for id in &locked {
        let count: i64 =
            backbone_db::sqlx::query_scalar("SELECT access_failed_count FROM tokens WHERE id = $1")
                .bind(id)
                .fetch_one(app.app.db.pool())
                .await
                .unwrap();
        assert_eq!(count, 0, "{id}");
        app.get(
            &format!("/api/v2/Tokens/{id}?password={password}"),
            Some(&reader.token),
        )
        .await
        .expect_status(200);
    }
}

async fn views_refuse_bad_queries(app: TestApp) {
    let identity = app.create_identity().await;
    let a = &identity.address;
    for path in [
        format!("/api/v1/Relationships?participant={a}&PageSize=201"),
        format!("/api/v1/Messages?participant={a}&type=Incoming&PageSize=201"),
        format!("/api/v1/Tokens?createdBy={a}&PageSize=201"),
    ] {
        admin_get(&app, &path).await.expect_error(400, PAGE_SIZE_CODE);
    }
    for path in [
        "/api/v1/Relationships".to_owned(),
        "/api/v1/Relationships?participant=".to_owned(),
        "/api/v1/Messages?type=Incoming".to_owned(),
        "/api/v1/Tokens".to_owned(),
        format!("/api/v1/Tokens?createdBy={a}&PageSize=abc"),
    ] {
        admin_get(&app, &path)
            .await
            .expect_error(400, "error.platform.inputCannotBeParsed");
    }
    for path in [
        format!("/api/v1/Relationships?participant={a}&PageSize=0"),
        format!("/api/v1/Messages?participant={a}&type=Sideways"),
    ] {
        admin_get(&app, &path)
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    // Behind the API key, like every operation.
    let refused = app
        .raw(
            app.http
                .get(format!("{}/api/v1/Tokens?createdBy={a}", app.admin_base)),
        )
        .await;
    assert_eq!((refused.status.as_u16(), refused.text.as_str()), (401, ""));
}
