//! Spec consumer-api-identity §6 (D1–D6).

use serde_json::json;

use crate::helpers::{assert_date, assert_keys, sign_challenge, TestApp, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    registering_devices_and_listing_them,
    only_one_backup_device_per_identity,
    registration_needs_a_signature_of_the_identity_key,
    listing_pages_and_filters_by_ids,
    communication_language_can_be_changed,
    password_change_needs_the_old_password,
    only_unonboarded_own_devices_can_be_deleted,
);

async fn registering_devices_and_listing_them(app: TestApp) {
    let identity = app.create_identity().await;
    let response = app.register_device(&identity, false).await;
    response.expect_status(201);
    let device = response.result().clone();
    assert_keys(
        &device,
        &["id", "username", "createdAt", "createdByDevice", "isBackupDevice"],
    );
    assert_eq!(device["createdByDevice"], identity.device_id.as_str());
    assert_eq!(device["isBackupDevice"], false);

    let list = app.get("/api/v2/Devices", Some(&identity.token)).await;
    list.expect_status(200);
    assert_keys(&list.body, &["result"]);
    let devices = list.result().as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["id"], identity.device_id.as_str());
    assert_keys(
        &devices[0],
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
    assert_date(&devices[0]["lastLogin"]["time"]);
    assert!(devices[1]["lastLogin"].is_null());
    assert_eq!(devices[1]["communicationLanguage"], "en");

    // The new device can log in with the initial password.
    app.token(device["username"].as_str().unwrap(), PASSWORD).await;
}

async fn only_one_backup_device_per_identity(app: TestApp) {
    let identity = app.create_identity().await;
    let backup = app.register_device(&identity, true).await;
    backup.expect_status(201);
    assert_eq!(backup.result()["isBackupDevice"], true);
    app.register_device(&identity, true).await.expect_error(
        400,
        "error.platform.validation.device.onlyOneBackupDeviceCanExist",
    );
    assert_eq!(app.count("devices").await, 2);
}

async fn registration_needs_a_signature_of_the_identity_key(app: TestApp) {
    let identity = app.create_identity().await;
    let other = app.create_identity().await;
    let challenge = app.challenge(Some(&identity.token)).await;
    let body = json!({ "devicePassword": PASSWORD, "signedChallenge": sign_challenge(&other.key, &challenge, "Device") });
    app.post("/api/v2/Devices", Some(&identity.token), body)
        .await
        .expect_error(400, "error.platform.validation.device.invalidSignature");
    app.post(
        "/api/v2/Devices",
        Some(&identity.token),
        json!({ "devicePassword": PASSWORD }),
    )
    .await
    .expect_error(400, "error.platform.inputCannotBeParsed");
    let body = json!({
        "devicePassword": PASSWORD,
        "signedChallenge": sign_challenge(&identity.key, &challenge, "Device"),
        "communicationLanguage": "xx",
    });
    app.post("/api/v2/Devices", Some(&identity.token), body)
        .await
        .expect_error(
            400,
            "error.platform.validation.invalidDeviceCommunicationLanguage",
        );
    assert_eq!(app.count("devices").await, 2);
    assert_eq!(app.post("/api/v2/Devices", None, json!({})).await.status, 401);
}

async fn listing_pages_and_filters_by_ids(app: TestApp) {
    let identity = app.create_identity().await;
    let second = app.register_device(&identity, false).await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.register_device(&identity, false).await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let page = app
        .get("/api/v2/Devices?pageSize=2&pageNumber=2", Some(&identity.token))
        .await;
    page.expect_status(200);
    assert_eq!(page.result().as_array().unwrap().len(), 1);
    assert_eq!(page.result()[0]["id"], third.as_str());
    assert_eq!(
        page.body["pagination"],
        json!({ "pageNumber": 2, "pageSize": 2, "totalPages": 2, "totalRecords": 3 })
    );

    let filtered = app
        .get(
            &format!("/api/v2/Devices?ids={second}&ids={third}"),
            Some(&identity.token),
        )
        .await;
    let ids: Vec<&str> = filtered
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), third.as_str()]);
    assert!(filtered.body.get("pagination").is_none());

    app.get("/api/v2/Devices?pageSize=201", Some(&identity.token))
        .await
        .expect_error(400, "error.platform.validation.pagination.invalidPageSize");
    app.get("/api/v2/Devices?ids=MSGnotadevice", Some(&identity.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.get("/api/v2/Devices?pageNumber=abc", Some(&identity.token))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    // Devices of other identities are never listed.
    let other = app.create_identity().await;
    let theirs = app
        .get(&format!("/api/v2/Devices?ids={second}"), Some(&other.token))
        .await;
    assert_eq!(theirs.result(), &json!([]));
}

async fn communication_language_can_be_changed(app: TestApp) {
    let identity = app.create_identity().await;
    app.put(
        "/api/v2/Devices/Self",
        Some(&identity.token),
        json!({ "communicationLanguage": "de" }),
    )
    .await
    .expect_status(204);
    let device = app.get("/api/v2/Devices/Self", Some(&identity.token)).await;
    assert_eq!(device.result()["communicationLanguage"], "de");
    assert_eq!(device.result()["id"], identity.device_id.as_str());
    app.put(
        "/api/v2/Devices/Self",
        Some(&identity.token),
        json!({ "communicationLanguage": "german" }),
    )
    .await
    .expect_error(
        400,
        "error.platform.validation.invalidDeviceCommunicationLanguage",
    );
    app.put("/api/v2/Devices/Self", Some(&identity.token), json!({}))
        .await
        .expect_error(
            400,
            "error.platform.validation.invalidDeviceCommunicationLanguage",
        );
    let device = app.get("/api/v2/Devices/Self", Some(&identity.token)).await;
    assert_eq!(device.result()["communicationLanguage"], "de");
}

async fn password_change_needs_the_old_password(app: TestApp) {
    let identity = app.create_identity().await;
    let path = "/api/v2/Devices/Self/Password";
    app.put(
        path,
        Some(&identity.token),
        json!({ "oldPassword": "wrong", "newPassword": "new" }),
    )
    .await
    .expect_error(400, "error.platform.validation.device.changePasswordFailed");
    app.put(
        path,
        Some(&identity.token),
        json!({ "oldPassword": PASSWORD, "newPassword": "" }),
    )
    .await
    .expect_error(400, "error.platform.validation.invalidPropertyValue");
    app.put(
        path,
        Some(&identity.token),
        json!({ "oldPassword": PASSWORD, "newPassword": "new password" }),
    )
    .await
    .expect_status(204);
    // The old token stays valid; the old password does not.
    app.get("/api/v2/Devices/Self", Some(&identity.token))
        .await
        .expect_status(200);
    assert_eq!(app.login(&identity.username, PASSWORD).await.status, 400);
    app.token(&identity.username, "new password").await;
}

async fn only_unonboarded_own_devices_can_be_deleted(app: TestApp) {
    let identity = app.create_identity().await;
    let fresh = app.register_device(&identity, false).await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app.create_identity().await;
    let other_fresh = app.register_device(&other, false).await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.delete(
        &format!("/api/v2/Devices/{}", identity.device_id),
        Some(&identity.token),
    )
    .await
    .expect_error(400, "error.platform.validation.device.deviceCannotBeDeleted");
    app.delete(&format!("/api/v2/Devices/{other_fresh}"), Some(&identity.token))
        .await
        .expect_error(400, "error.platform.validation.device.deviceCannotBeDeleted");
    app.delete("/api/v2/Devices/DVCthisisnonexisting", Some(&identity.token))
        .await
        .expect_error(404, "error.platform.recordNotFound");
    app.delete("/api/v2/Devices/not-an-id", Some(&identity.token))
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    assert_eq!(app.count("devices").await, 4);

    app.delete(&format!("/api/v2/Devices/{fresh}"), Some(&identity.token))
        .await
        .expect_status(204);
    assert_eq!(app.count("devices").await, 3);
    let list = app.get("/api/v2/Devices", Some(&identity.token)).await;
    assert_eq!(list.result().as_array().unwrap().len(), 1);
}
