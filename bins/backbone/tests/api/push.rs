//! Push notifications (spec consumer-api-identity §8, admin-and-services §5): registration,
//! the test push, text-only notifications to peers, a push for every event, and delivery through
//! local servers that speak FCM HTTP v1 (with its OAuth token exchange) and APNs over HTTP/2,
//! including invalid handles, failures, retries with back-off and an unblocked request path.
//!
//! Nothing here sleeps: the sender is driven step by step (`run_due`) with the manual clock, and
//! waits for conditions have deadlines.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use backbone_eventbus::EventHandler as _;
use backbone_push::config::{
    ApnsBundleConfig, ApnsKeyConfig, FcmAppConfig, FcmServiceAccountConfig, NotificationCodeConfig, Secret,
    TextConfig,
};
use backbone_push::{PushNotification, SendReport};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_date, Backend, TestApp, TestIdentity, PASSWORD};
use crate::relationships::request;
use crate::templates::create_template;
use fakes::{Answer, Fake};

/// Like `on_both_databases!`, for tests that configure the app themselves (against the fakes).
macro_rules! with_providers_on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

with_providers_on_both_databases!(
    registering_and_unregistering_a_device,
    bad_registrations_change_nothing,
    the_test_push_reaches_every_device_of_the_caller,
    every_event_pushes_its_notification,
    deletion_processes_push_to_the_identity,
    text_notifications_go_to_peers_in_their_language,
    invalid_fcm_handles_remove_the_registration,
    failing_providers_are_retried_with_back_off_without_blocking_requests,
    apns_is_spoken_over_http2_with_a_provider_token,
    invalid_apns_handles_remove_the_registration,
);

pub const FCM_APP_ID: &str = "eu.enmeshed.app.fcm";
pub const APNS_BUNDLE_ID: &str = "eu.enmeshed.app";
const REGISTRATION: &str = "/api/v2/Devices/Self/PushNotifications";
const TEST_PUSH: &str = "/api/v2/Devices/Self/PushNotifications/SendTestNotification";

/// Fakes the app is configured against.
struct Providers {
    fcm: Fake,
    apns: Fake,
    sandbox: Fake,
}

async fn providers() -> Providers {
    Providers {
        fcm: fakes::fcm().await,
        apns: fakes::apns().await,
        sandbox: fakes::apns().await,
    }
}

fn text(title: &str, body: &str) -> TextConfig {
    TextConfig {
        title: title.into(),
        body: body.into(),
    }
}

/// The app with FCM and APNs pointing at the fakes, short timeouts and quick retries.
async fn spawn(backend: Backend, providers: &Providers) -> TestApp {
    spawn_with_timeout(backend, providers, 300).await
}

async fn spawn_with_timeout(backend: Backend, providers: &Providers, timeout_milliseconds: u64) -> TestApp {
    let service_account = fakes::service_account_json(&providers.fcm);
    let (fcm_base, apns_base, sandbox_base) = (
        providers.fcm.base.clone(),
        providers.apns.base.clone(),
        providers.sandbox.base.clone(),
    );
    TestApp::spawn_with(backend, move |s| {
        let push = &mut s.push;
        push.delivery.request_timeout_milliseconds = timeout_milliseconds;
        push.delivery.first_retry_delay_seconds = 5;
        push.delivery.max_retry_delay_seconds = 60;
        push.delivery.max_attempts = 4;
        push.fcm.enabled = true;
        push.fcm.endpoint = fcm_base;
        push.fcm.service_accounts.insert(
            "main".into(),
            FcmServiceAccountConfig {
                service_account_json: Some(Secret::new(service_account)),
                ..Default::default()
            },
        );
        push.fcm.apps.insert(
            FCM_APP_ID.into(),
            FcmAppConfig {
                service_account: "main".into(),
            },
        );
        push.apns.enabled = true;
        push.apns.production_endpoint = apns_base;
        push.apns.development_endpoint = sandbox_base;
        push.apns.keys.insert(
            "main".into(),
            ApnsKeyConfig {
                team_id: fakes::APNS_TEAM_ID.into(),
                key_id: fakes::APNS_KEY_ID.into(),
                // Upstream's form: the base64 body of the .p8 file without the PEM lines.
                private_key: Secret::new(
                    fakes::APNS_PRIVATE_KEY
                        .lines()
                        .filter(|l| !l.starts_with("-----"))
                        .collect::<String>(),
                ),
            },
        );
        push.apns
            .bundles
            .insert(APNS_BUNDLE_ID.into(), ApnsBundleConfig { key: "main".into() });
        push.texts.insert(
            "de".into(),
            BTreeMap::from([(
                "DatawalletModificationsCreated".into(),
                text("Neue Daten", "Konfiguriert."),
            )]),
        );
        push.notifications.push(NotificationCodeConfig {
            code: "NewDocument".into(),
            translations: BTreeMap::from([
                ("en".into(), text("New document", "You received a document.")),
                (
                    "de".into(),
                    text("Neues Dokument", "Sie haben ein Dokument erhalten."),
                ),
            ]),
        });
    })
    .await
}

async fn register(app: &TestApp, token: &str, body: Value) -> crate::helpers::Response {
    app.put(REGISTRATION, Some(token), body).await
}

async fn register_fcm(app: &TestApp, token: &str, handle: &str) -> String {
    let body = json!({ "platform": "fcm", "handle": handle, "appId": FCM_APP_ID });
    register(app, token, body).await.expect_status(200).result()["devicePushIdentifier"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Relays pending events (handlers queue pushes), then sends what is due.
async fn deliver(app: &TestApp) -> SendReport {
    app.process_events().await;
    app.app.push_sender.run_due(100).await.unwrap()
}

async fn set_language(app: &TestApp, token: &str, language: &str) {
    app.put(
        "/api/v2/Devices/Self",
        Some(token),
        json!({ "communicationLanguage": language }),
    )
    .await
    .expect_status(204);
}

/// Another device of the identity, logged in: (device id, token).
async fn second_device(app: &TestApp, identity: &TestIdentity) -> (String, String) {
    let device = app
        .register_device(identity, false)
        .await
        .expect_status(201)
        .result()
        .clone();
    let token = app.token(device["username"].as_str().unwrap(), PASSWORD).await;
    (device["id"].as_str().unwrap().to_owned(), token)
}

/// The content object inside an FCM message.
fn content(message: &Value) -> Value {
    serde_json::from_str(message["data"]["content"].as_str().expect("content")).unwrap()
}

async fn registrations(app: &TestApp) -> i64 {
    app.count("push_registrations").await
}

async fn queued(app: &TestApp) -> usize {
    app.app.push.store.queued().await.unwrap().len()
}

/// Every FCM message the fake received, by (event name or "" for text-only, device token).
fn fcm_by_event(fcm: &Fake) -> BTreeMap<(String, String), Value> {
    let mut messages = BTreeMap::new();
    for (_, message) in fcm.take().into_iter().map(|r| {
        assert!(r.authorized, "sent with an issued access token: {r:?}");
        (r.path.clone(), r.body["message"].clone())
    }) {
        let event = message["data"]["content"]
            .as_str()
            .map(|c| {
                serde_json::from_str::<Value>(c).unwrap()["eventName"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap_or_default();
        let token = message["token"].as_str().unwrap().to_owned();
        assert!(
            messages.insert((event, token), message).is_none(),
            "one push per event and device"
        );
    }
    messages
}

fn message<'a>(messages: &'a BTreeMap<(String, String), Value>, event: &str, token: &str) -> &'a Value {
    messages
        .get(&(event.to_owned(), token.to_owned()))
        .unwrap_or_else(|| panic!("no {event} push to {token} in {:?}", messages.keys()))
}

fn title(message: &Value) -> &str {
    message["notification"]["title"].as_str().unwrap()
}

async fn registering_and_unregistering_a_device(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let token = identity.token.as_str();

    let first = register(
        &app,
        token,
        json!({ "platform": "dummy", "handle": "dummy-handle", "appId": "any" }),
    )
    .await;
    first.expect_status(200);
    crate::helpers::assert_keys(first.result(), &["devicePushIdentifier"]);
    let identifier = first.result()["devicePushIdentifier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        identifier.starts_with("DPI") && identifier.len() == 20,
        "{identifier}"
    );

    // One registration per device: later ones overwrite it and keep the identifier.
    assert_eq!(
        register_fcm(&app, token, "fcm-token-of-the-device").await,
        identifier
    );
    let device = backbone_core::ids::DeviceId::parse(&identity.device_id).unwrap();
    let stored = app
        .app
        .push
        .store
        .find_registration(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.platform,
            stored.handle.as_str(),
            stored.app_id.as_str(),
            stored.environment
        ),
        (
            backbone_push::domain::Platform::Fcm,
            "fcm-token-of-the-device",
            FCM_APP_ID,
            backbone_push::domain::PushEnvironment::Production
        )
    );
    let apns = json!({ "platform": "apns", "handle": "apns-device-token", "appId": APNS_BUNDLE_ID, "environment": "Development" });
    register(&app, token, apns).await.expect_status(200);
    let stored = app
        .app
        .push
        .store
        .find_registration(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.environment,
        backbone_push::domain::PushEnvironment::Development
    );
    assert_eq!(stored.device_push_identifier.as_str(), identifier);

    // Property names bind case-insensitively, as everywhere.
    let pascal = json!({ "Platform": "sse", "Handle": "sse-handle", "AppId": "sse-client" });
    register(&app, token, pascal).await.expect_status(200);

    let (_, other_token) = second_device(&app, &identity).await;
    assert_ne!(
        register_fcm(&app, &other_token, "fcm-token-other").await,
        identifier
    );
    assert_eq!(registrations(&app).await, 2);

    app.delete(REGISTRATION, Some(token)).await.expect_status(204);
    assert_eq!(registrations(&app).await, 1);
    app.delete(REGISTRATION, Some(token)).await.expect_status(204);
    assert_eq!(registrations(&app).await, 1);
    assert_eq!(app.delete(REGISTRATION, None).await.status, 401);
}

async fn bad_registrations_change_nothing(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let token = identity.token.as_str();
    register_fcm(&app, token, "fcm-token-kept").await;

    let valid = json!({ "platform": "fcm", "handle": "0123456789", "appId": FCM_APP_ID });
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let invalid = [
        with("platform", json!("gcm")),
        with("platform", json!("FCM")),
        without("platform"),
        with("handle", json!("012345678")),
        with("handle", json!("x".repeat(501))),
        without("handle"),
        with("appId", json!("")),
        without("appId"),
        with("environment", json!("production")),
    ];
    for body in invalid {
        register(&app, token, body.clone())
            .await
            .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    register(&app, token, with("handle", json!(12_345_678_901_i64)))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");

    let unknown_app = register(&app, token, with("appId", json!("com.example.unknown"))).await;
    unknown_app.expect_error(400, "error.platform.unsupportedAppId");
    assert_eq!(
        unknown_app.body["error"]["message"],
        format!("The given app id is not supported. Supported app ids are: '{FCM_APP_ID}'.")
    );
    let apns_with_fcm_app = json!({ "platform": "apns", "handle": "0123456789", "appId": FCM_APP_ID });
    let response = register(&app, token, apns_with_fcm_app).await;
    response.expect_error(400, "error.platform.unsupportedAppId");
    assert!(response.text.contains(APNS_BUNDLE_ID), "{}", response.text);
    assert_eq!(app.put(REGISTRATION, None, valid).await.status, 401);

    assert_eq!(registrations(&app).await, 1);
    let device = backbone_core::ids::DeviceId::parse(&identity.device_id).unwrap();
    let stored = app
        .app
        .push
        .store
        .find_registration(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.handle, "fcm-token-kept");
}

async fn the_test_push_reaches_every_device_of_the_caller(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let (_, token_b) = second_device(&app, &identity).await;
    let identifier_a = register_fcm(&app, &identity.token, "fcm-token-a").await;
    register_fcm(&app, &token_b, "fcm-token-b").await;
    let stranger = app.create_identity().await;
    register_fcm(&app, &stranger.token, "fcm-token-stranger").await;

    app.request(Method::POST, TEST_PUSH, Some(&token_b), Some(Value::Null))
        .await
        .expect_error(400, "error.platform.inputCannotBeParsed");
    assert_eq!(queued(&app).await, 0);

    let data = json!({ "Some": { "Nested": [1, "x"] } });
    app.post(TEST_PUSH, Some(&token_b), data.clone())
        .await
        .expect_status(204);
    assert_eq!(queued(&app).await, 2, "queued, not sent, by the request");
    assert!(providers.fcm.take().is_empty());

    let report = app.app.push_sender.run_due(100).await.unwrap();
    assert_eq!(
        report,
        SendReport {
            sent: 2,
            ..Default::default()
        }
    );
    assert_eq!(queued(&app).await, 0);
    let received = providers.fcm.take();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(
            request.path,
            format!("/v1/projects/{}/messages:send", fakes::PROJECT_ID)
        );
        assert!(request.authorized);
        assert_eq!(request.version, axum::http::Version::HTTP_11);
        assert!(request
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
    }
    let messages: BTreeMap<String, Value> = received
        .into_iter()
        .map(|r| {
            (
                r.body["message"]["token"].as_str().unwrap().to_owned(),
                r.body["message"].clone(),
            )
        })
        .collect();
    assert_eq!(
        messages.keys().collect::<Vec<_>>(),
        ["fcm-token-a", "fcm-token-b"]
    );
    let a = &messages["fcm-token-a"];
    assert_eq!(
        a["notification"],
        json!({ "title": "Test", "body": "This is a Test push notification." })
    );
    assert_eq!(
        a["android"],
        json!({ "notification": { "channel_id": "ENMESHED" } }),
        "no collapse id"
    );
    assert_eq!(a["data"]["android_channel_id"], "ENMESHED");
    assert_eq!(a["data"]["content-available"], "1");
    let content = content(a);
    assert_eq!(content["accRef"], identity.address.as_str());
    assert_eq!(content["devicePushIdentifier"], identifier_a.as_str());
    assert_eq!(content["eventName"], "Test");
    assert_eq!(
        content["payload"],
        json!({ "data": data }),
        "the data is passed on untouched"
    );
    assert_date(&content["sentAt"]);

    // One token exchange, its assertion signed with the service account's key; reused after.
    let exchanges = providers.fcm.token_requests();
    assert_eq!(exchanges.len(), 1);
    let claims = exchanges[0].clone().expect("the assertion verifies");
    assert_eq!(claims["iss"], fakes::CLIENT_EMAIL);
    assert_eq!(claims["aud"], format!("{}/token", providers.fcm.base));
    app.post(TEST_PUSH, Some(&token_b), json!(1))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 2);
    assert_eq!(providers.fcm.token_requests().len(), 1);
    let bearer = providers.fcm.take()[0].bearer.clone();

    // Shortly before the access token expires, a new one is fetched.
    app.clock.advance(Duration::minutes(59));
    let identity = app.relogin(&identity).await;
    app.post(TEST_PUSH, Some(&identity.token), json!("again"))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 2);
    let exchanges = providers.fcm.token_requests();
    assert_eq!(exchanges.len(), 2);
    assert!(exchanges[1].is_ok(), "{:?}", exchanges[1]);
    let renewed = providers.fcm.take();
    assert!(renewed.iter().all(|r| r.authorized && r.bearer != bearer));
}

#[expect(
    clippy::too_many_lines,
    reason = "one case per event type, in the order of upstream's table; splitting it would hide the table"
)]
async fn every_event_pushes_its_notification(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let (device_b, token_b) = second_device(&app, &identity).await;
    // German (built in, with a configured override) and French (falls back to English).
    set_language(&app, &identity.token, "de").await;
    set_language(&app, &token_b, "fr").await;
    register_fcm(&app, &identity.token, "fcm-token-a").await;
    register_fcm(&app, &token_b, "fcm-token-b").await;
    app.create_datawallet(&identity).await;
    deliver(&app).await;
    providers.fcm.take();

    // ExternalEventCreated → all devices of the owner.
    app.add_external_event(&identity.address, "MessageReceived").await;
    assert_eq!(deliver(&app).await.sent, 2);
    let messages = fcm_by_event(&providers.fcm);
    let a = message(&messages, "ExternalEventCreated", "fcm-token-a");
    assert_eq!(title(a), "Neuigkeiten verfügbar");
    assert_eq!(
        a["notification"]["body"],
        "Es sind Neuigkeiten in der App verfügbar."
    );
    assert_eq!(a["android"]["collapse_key"], "ExternalEventCreated");
    assert_eq!(a["android"]["notification"]["tag"], "ExternalEventCreated");
    assert_eq!(content(a)["payload"], json!({}));
    let b = message(&messages, "ExternalEventCreated", "fcm-token-b");
    assert_eq!(title(b), "Updates available");
    assert_eq!(b["notification"]["body"], "New updates are available in the app.");

    // Delivery-blocked external events push nothing.
    let blocked = backbone_synchronization::store::NewExternalEvent {
        owner: backbone_core::IdentityAddress::parse(&identity.address).unwrap(),
        event_type: "MessageReceived",
        payload: json!({ "id": "MSGaaaaaaaaaaaaaaaaa" }),
        context: Some("RELaaaaaaaaaaaaaaaaa".into()),
        delivery_blocked: true,
    };
    app.app
        .synchronization
        .store
        .add_external_events_once("Tests", "blocked", &[blocked], &[], app.clock_now())
        .await
        .unwrap();
    assert_eq!(deliver(&app).await.total(), 0);

    // DatawalletModified → the other devices, with the device that made the change.
    let modifications = json!({ "localIndex": -1, "modifications": [{
        "type": "Create", "objectIdentifier": "a", "collection": "Attributes",
        "payloadCategory": null, "encryptedPayload": "AQID", "datawalletVersion": 1,
    }]});
    app.sync_request(
        Method::POST,
        "/api/v2/Datawallet/Modifications",
        &token_b,
        Some(modifications),
    )
    .await
    .expect_status(201);
    assert_eq!(deliver(&app).await.sent, 1);
    let messages = fcm_by_event(&providers.fcm);
    let a = message(&messages, "DatawalletModificationsCreated", "fcm-token-a");
    assert_eq!(title(a), "Neue Daten", "configured text");
    assert_eq!(content(a)["payload"], json!({ "createdByDevice": device_b }));
    assert_eq!(a["android"]["collapse_key"], "DatawalletModified");

    // BackupDeviceUsed → all devices, on the backup device's first login.
    let backup = app
        .register_device(&identity, true)
        .await
        .expect_status(201)
        .result()
        .clone();
    app.token(backup["username"].as_str().unwrap(), PASSWORD).await;
    assert_eq!(deliver(&app).await.sent, 2);
    let messages = fcm_by_event(&providers.fcm);
    assert_eq!(
        title(message(&messages, "BackupDeviceUsed", "fcm-token-a")),
        "Wiederherstellungsgerät benutzt"
    );
    let b = message(&messages, "BackupDeviceUsed", "fcm-token-b");
    assert_eq!(b["notification"]["body"], "Your backup device was used.");
    assert_eq!(
        b["android"],
        json!({ "notification": { "channel_id": "ENMESHED" } })
    );

    // TokenLocked → the token's creator (and the external event it gets is pushed as well).
    let mut conn = app.app.db.writer().acquire().await.unwrap();
    let token_locked = |id: &str, created_by: Option<&str>| {
        backbone_core::events::DomainEvent::from_event(&backbone_core::events::tokens::TokenLocked {
            token_id: backbone_core::ids::TokenId::from_trusted(id.into()),
            created_by: created_by.map(|a| backbone_core::IdentityAddress::parse(a).unwrap()),
        })
    };
    let locked = token_locked("TOKaaaaaaaaaaaaaaaaa", Some(&identity.address));
    backbone_db::outbox::enqueue(&mut conn, &locked, app.clock_now())
        .await
        .unwrap();
    let anonymous = token_locked("TOKbbbbbbbbbbbbbbbbb", None);
    backbone_db::outbox::enqueue(&mut conn, &anonymous, app.clock_now())
        .await
        .unwrap();
    drop(conn);
    deliver(&app).await;
    let messages = fcm_by_event(&providers.fcm);
    let b = message(&messages, "TokenLocked", "fcm-token-b");
    assert_eq!(title(b), "Token locked");
    assert_eq!(content(b)["payload"], json!({}));
    assert_eq!(
        title(message(&messages, "TokenLocked", "fcm-token-a")),
        "Token gesperrt"
    );
    assert_eq!(
        messages
            .keys()
            .filter(|(event, _)| event == "TokenLocked")
            .count(),
        2
    );

    // Handling an event again queues nothing (idempotent).
    let event = backbone_eventbus::Event {
        id: "the-same-event".into(),
        event_type: "BackupDeviceUsed".into(),
        payload: json!({ "IdentityAddress": identity.address }),
        created_at: app.clock_now(),
    };
    let handler = backbone_push::PushEventsHandler {
        service: app.app.push.clone(),
    };
    handler.handle(&event).await.unwrap();
    handler.handle(&event).await.unwrap();
    assert_eq!(queued(&app).await, 2);
}

const PROCESSES: &str = "/api/v2/Identities/Self/DeletionProcesses";

async fn deletion_processes_push_to_the_identity(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    register_fcm(&app, &identity.token, "fcm-token-doomed").await;
    let address = backbone_core::IdentityAddress::parse(&identity.address).unwrap();
    let expect = |event: &str, payload: Value| {
        let messages = fcm_by_event(&providers.fcm);
        assert_eq!(messages.len(), 1, "{:?}", messages.keys());
        let message = message(&messages, event, "fcm-token-doomed").clone();
        assert_eq!(content(&message)["payload"], payload, "{event}");
        assert!(message["android"]["collapse_key"].is_null(), "{event}");
        message
    };

    let started = app.post(PROCESSES, Some(&identity.token), json!({})).await;
    let id = started.expect_status(201).result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    deliver(&app).await;
    assert_eq!(
        title(&expect("DeletionProcessStarted", json!({}))),
        "Deletion process started"
    );

    // An identity being deleted gets no pushes for external events.
    app.add_external_event(&identity.address, "MessageReceived").await;
    assert_eq!(deliver(&app).await.total(), 0);

    app.put(
        &format!("{PROCESSES}/{id}/Cancel"),
        Some(&identity.token),
        json!({}),
    )
    .await
    .expect_status(200);
    deliver(&app).await;
    let cancelled = expect("DeletionProcessCancelledByOwner", json!({}));
    assert_eq!(
        cancelled["notification"]["body"],
        "A deletion process of one of your identities has been cancelled by you."
    );

    app.post(PROCESSES, Some(&identity.token), json!({}))
        .await
        .expect_status(201);
    deliver(&app).await;
    expect("DeletionProcessStarted", json!({}));

    // The reminder job's pushes, and the function jobs can call directly.
    app.clock.advance(Duration::days(2));
    backbone::jobs::run(&app.app, "grace-period-reminders")
        .await
        .unwrap();
    deliver(&app).await;
    let reminder = expect(
        "DeletionProcessGracePeriodReminder",
        json!({ "daysUntilDeletion": 12 }),
    );
    assert_eq!(title(&reminder), "Your Identity will be deleted");
    let queued_now = app
        .app
        .push
        .send_to_identity(
            &address,
            &PushNotification::DeletionProcessGracePeriodReminder {
                days_until_deletion: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(queued_now, 1);
    deliver(&app).await;
    expect(
        "DeletionProcessGracePeriodReminder",
        json!({ "daysUntilDeletion": 3 }),
    );

    // The deletion job: the push is queued before the devices go, and still delivered.
    app.clock.advance(Duration::days(13));
    let report = backbone::jobs::delete_identities(&app.app).await.unwrap();
    assert_eq!(report.deleted.len(), 1, "{report:?}");
    assert_eq!(registrations(&app).await, 0, "registrations go with the devices");
    deliver(&app).await;
    let deleted = expect("DeletionStarts", json!({}));
    assert_eq!(title(&deleted), "Your identity is now deleted");
    assert_eq!(queued(&app).await, 0);
}

/// `requester` asks for a relationship from `owner`'s template; `accept`s or rejects it.
async fn relationship(app: &TestApp, owner: &TestIdentity, requester: &TestIdentity, action: Option<&str>) {
    let template = create_template(app, owner, json!({})).await;
    let id = request(app, requester, &template).await;
    if let Some(action) = action {
        app.put(
            &format!("/api/v2/Relationships/{id}/{action}"),
            Some(&owner.token),
            json!({}),
        )
        .await
        .expect_status(200);
    }
}

async fn text_notifications_go_to_peers_in_their_language(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let sender = app.create_identity().await;
    let peer = app.create_identity().await;
    let stranger = app.create_identity().await;
    let rejected = app.create_identity().await;
    let pending = app.create_identity().await;
    relationship(&app, &sender, &peer, Some("Accept")).await;
    relationship(&app, &sender, &rejected, Some("Reject")).await;
    relationship(&app, &sender, &pending, None).await;
    set_language(&app, &peer.token, "de").await;
    register_fcm(&app, &peer.token, "fcm-token-peer").await;
    // The peer's other device listens via SSE: text-only notifications are not sent there.
    let (_, sse_token) = second_device(&app, &peer).await;
    register(
        &app,
        &sse_token,
        json!({ "platform": "sse", "handle": "sse-handle", "appId": "sse-client" }),
    )
    .await
    .expect_status(200);
    deliver(&app).await;
    providers.fcm.take();

    let send = |recipients: Value, code: Value| {
        app.post(
            "/api/v2/Notifications",
            Some(&sender.token),
            json!({ "recipients": recipients, "code": code }),
        )
    };
    let invalid = "error.platform.validation.invalidPropertyValue";
    send(json!([]), json!("NewDocument"))
        .await
        .expect_error(400, invalid);
    app.post(
        "/api/v2/Notifications",
        Some(&sender.token),
        json!({ "code": "NewDocument" }),
    )
    .await
    .expect_error(400, invalid);
    send(json!(["not an address"]), json!("NewDocument"))
        .await
        .expect_error(400, invalid);
    let too_many: Vec<&str> = std::iter::repeat_n(peer.address.as_str(), 101).collect();
    send(json!(too_many), json!("NewDocument"))
        .await
        .expect_error(400, invalid);
    send(json!([peer.address]), json!(""))
        .await
        .expect_error(400, invalid);
    send(json!([peer.address]), json!("Unknown"))
        .await
        .expect_error(400, "error.platform.validation.notification.codeDoesNotExist");
    let no_relationship = "error.platform.validation.notification.noRelationshipToOneOrMoreRecipientsExists";
    send(json!([stranger.address]), json!("NewDocument"))
        .await
        .expect_error(400, no_relationship);
    send(json!([peer.address, stranger.address]), json!("NewDocument"))
        .await
        .expect_error(400, no_relationship);
    send(json!([rejected.address]), json!("NewDocument"))
        .await
        .expect_error(
            400,
            "error.platform.validation.notification.relationshipToRecipientIsNotInCorrectStatus",
        );
    assert_eq!(queued(&app).await, 0);
    assert_eq!(
        app.post("/api/v2/Notifications", None, json!({})).await.status,
        401
    );

    send(json!([pending.address]), json!("NewDocument"))
        .await
        .expect_status(204);
    send(json!([peer.address]), json!("NewDocument"))
        .await
        .expect_status(204);
    assert_eq!(queued(&app).await, 1, "only the peer's FCM registration");
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 1);
    let received = providers.fcm.take();
    let message = &received[0].body["message"];
    assert_eq!(message["token"], "fcm-token-peer");
    assert_eq!(
        message["notification"],
        json!({ "title": "Neues Dokument", "body": "Sie haben ein Dokument erhalten." })
    );
    assert_eq!(
        message["android"],
        json!({ "collapse_key": "notification_NewDocument", "notification": { "channel_id": "ENMESHED", "tag": "notification_NewDocument" } })
    );
    assert_eq!(
        message["data"],
        json!({ "android_channel_id": "ENMESHED" }),
        "no content"
    );
}

async fn invalid_fcm_handles_remove_the_registration(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let (_, token_b) = second_device(&app, &identity).await;
    let (_, token_c) = second_device(&app, &identity).await;
    register_fcm(&app, &identity.token, "fcm-unregistered").await;
    register_fcm(&app, &token_b, "fcm-invalid-argument").await;
    register_fcm(&app, &token_c, "fcm-renewed-old").await;
    providers.fcm.answer("fcm-unregistered", &[Answer::Unregistered]);
    providers
        .fcm
        .answer("fcm-invalid-argument", &[Answer::InvalidToken]);
    providers.fcm.answer("fcm-renewed-old", &[Answer::Unregistered]);

    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    // The third device registers a new handle before the old one turns out to be invalid.
    register_fcm(&app, &token_c, "fcm-renewed-new").await;
    let report = app.app.push_sender.run_due(100).await.unwrap();
    assert_eq!(
        report,
        SendReport {
            invalid_handles: 3,
            ..Default::default()
        }
    );
    assert_eq!(
        registrations(&app).await,
        1,
        "only the renewed registration is left"
    );
    assert_eq!(queued(&app).await, 0);

    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 1);
}

async fn failing_providers_are_retried_with_back_off_without_blocking_requests(backend: Backend) {
    let providers = providers().await;
    // Long enough that the request below surely finishes while the provider still hangs.
    let app = spawn_with_timeout(backend, &providers, 3000).await;
    let identity = app.create_identity().await;
    register_fcm(&app, &identity.token, "fcm-flaky-token").await;
    providers.fcm.answer(
        "fcm-flaky-token",
        &[Answer::ServerError, Answer::Hang, Answer::Ok],
    );

    app.post(TEST_PUSH, Some(&identity.token), json!("first"))
        .await
        .expect_status(204);
    let sender = app.app.push_sender.clone();
    assert_eq!(sender.run_due(100).await.unwrap().retried, 1, "500");
    let delivery = app.app.push.store.queued().await.unwrap().remove(0);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(sender.run_due(100).await.unwrap().total(), 0, "not due yet");
    app.clock.advance(Duration::seconds(4));
    assert_eq!(sender.run_due(100).await.unwrap().total(), 0, "backs off 5 s");
    app.clock.advance(Duration::seconds(1));

    // The provider hangs; meanwhile requests that cause pushes are answered at once.
    providers.fcm.take();
    let background = tokio::spawn({
        let sender = sender.clone();
        async move { sender.run_due(100).await.unwrap() }
    });
    providers.fcm.wait_for(1).await;
    app.post(TEST_PUSH, Some(&identity.token), json!("second"))
        .await
        .expect_status(204);
    assert!(
        !background.is_finished(),
        "the request did not wait for the provider"
    );
    let report = tokio::time::timeout(StdDuration::from_secs(20), background)
        .await
        .expect("the send times out")
        .unwrap();
    assert_eq!(report.retried, 1, "timeout");

    // The second push goes out now; the first one after 10 more seconds.
    assert_eq!(sender.run_due(100).await.unwrap().sent, 1);
    let queued_now = app.app.push.store.queued().await.unwrap();
    assert_eq!(queued_now.len(), 1);
    assert_eq!(queued_now[0].attempts, 2);
    app.clock.advance(Duration::seconds(9));
    assert_eq!(sender.run_due(100).await.unwrap().total(), 0);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(sender.run_due(100).await.unwrap().sent, 1);
    assert_eq!(queued(&app).await, 0);

    // A push that keeps failing is given up after the last attempt; the registration stays.
    providers.fcm.answer("fcm-flaky-token", &[Answer::ServerError; 4]);
    app.post(TEST_PUSH, Some(&identity.token), json!("third"))
        .await
        .expect_status(204);
    let mut reports = Vec::new();
    for wait in [0, 5, 10, 20] {
        app.clock.advance(Duration::seconds(wait));
        reports.push(sender.run_due(100).await.unwrap());
    }
    assert_eq!(
        reports.iter().map(|r| (r.retried, r.dropped)).collect::<Vec<_>>(),
        [(1, 0), (1, 0), (1, 0), (0, 1)]
    );
    assert_eq!(queued(&app).await, 0);
    assert_eq!(registrations(&app).await, 1);
}

async fn apns_is_spoken_over_http2_with_a_provider_token(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let (_, token_b) = second_device(&app, &identity).await;
    let apns = |handle: &str, environment: Option<&str>| {
        let mut body = json!({ "platform": "apns", "handle": handle, "appId": APNS_BUNDLE_ID });
        if let Some(environment) = environment {
            body["environment"] = json!(environment);
        }
        body
    };
    let identifier = register(&app, &identity.token, apns("apns-token-production", None))
        .await
        .expect_status(200)
        .result()["devicePushIdentifier"]
        .clone();
    register(&app, &token_b, apns("apns-token-sandbox", Some("Development")))
        .await
        .expect_status(200);

    app.add_external_event(&identity.address, "MessageReceived").await;
    assert_eq!(deliver(&app).await.sent, 2);
    let production = providers.apns.take();
    assert_eq!(production.len(), 1);
    let request = &production[0];
    assert_eq!(request.version, axum::http::Version::HTTP_2);
    assert_eq!(request.path, "/3/device/apns-token-production");
    assert!(request.authorized, "ES256 provider token of the key and team");
    assert_eq!(request.header("apns-topic"), Some(APNS_BUNDLE_ID));
    assert_eq!(request.header("apns-push-type"), Some("alert"));
    assert_eq!(request.header("apns-priority"), Some("5"));
    assert_eq!(request.header("apns-expiration"), Some("0"));
    assert_eq!(request.header("apns-collapse-id"), Some("ExternalEventCreated"));
    let body = &request.body;
    assert_eq!(
        body["aps"],
        json!({ "content-available": "1", "alert": { "title": "Updates available", "body": "New updates are available in the app." } })
    );
    assert_eq!(body["content"]["eventName"], "ExternalEventCreated");
    assert_eq!(body["content"]["accRef"], identity.address.as_str());
    assert_eq!(body["content"]["devicePushIdentifier"], identifier);
    assert_eq!(body["content"]["payload"], json!({}));
    assert_date(&body["content"]["sentAt"]);
    let sandbox = providers.sandbox.take();
    assert_eq!(sandbox.len(), 1, "Development registrations go to the sandbox");
    assert_eq!(sandbox[0].path, "/3/device/apns-token-sandbox");
    assert!(sandbox[0].authorized);
    let first_token = request.bearer.clone();
    let claims = fakes::verify_provider_token(&first_token).unwrap();
    assert_eq!(claims["iss"], fakes::APNS_TEAM_ID);

    // The provider token is reused, and renewed after 50 minutes.
    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 2);
    let test = providers.apns.take().remove(0);
    assert_eq!(test.bearer, first_token);
    assert_eq!(test.header("apns-collapse-id"), None);
    assert_eq!(test.body["content"]["eventName"], "Test");
    providers.sandbox.take();
    app.clock.advance(Duration::minutes(51));
    let identity = app.relogin(&identity).await;
    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 2);
    let renewed = providers.apns.take().remove(0);
    assert!(renewed.authorized);
    assert_ne!(renewed.bearer, first_token);
    let renewed_claims = fakes::verify_provider_token(&renewed.bearer).unwrap();
    assert!(renewed_claims["iat"].as_i64() > claims["iat"].as_i64());
}

async fn invalid_apns_handles_remove_the_registration(backend: Backend) {
    let providers = providers().await;
    let app = spawn(backend, &providers).await;
    let identity = app.create_identity().await;
    let (_, token_b) = second_device(&app, &identity).await;
    let (_, token_c) = second_device(&app, &identity).await;
    for (token, handle) in [
        (identity.token.as_str(), "apns-unregistered"),
        (&token_b, "apns-bad-device-token"),
        (&token_c, "apns-server-error"),
    ] {
        let body = json!({ "platform": "apns", "handle": handle, "appId": APNS_BUNDLE_ID });
        register(&app, token, body).await.expect_status(200);
    }
    providers
        .apns
        .answer("apns-unregistered", &[Answer::Unregistered]);
    providers
        .apns
        .answer("apns-bad-device-token", &[Answer::InvalidToken]);
    providers.apns.answer("apns-server-error", &[Answer::ServerError]);

    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    let report = app.app.push_sender.run_due(100).await.unwrap();
    assert_eq!(
        report,
        SendReport {
            invalid_handles: 2,
            retried: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        registrations(&app).await,
        1,
        "a server error is no reason to forget a device"
    );
    app.clock.advance(Duration::seconds(5));
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 1);
}

/// Local servers that speak FCM's and APNs' protocols, with throwaway test keys.
pub mod fakes {
    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode, Uri, Version};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::{Form, Json, Router};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use serde_json::{json, Value};
    use tokio::net::TcpListener;
    use tokio::sync::Notify;

    /// A throwaway RSA key for the fake Firebase service account (tests only).
    pub const FCM_PRIVATE_KEY: &str = concat!(
        "-----BEGIN PRIVATE KEY-----\n",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCubQSz61PgBp/H\n",
        "CfjQ8J/y4XZLyGbZndfw7Dn0NCD2tafkzeI98umCEFkb8zjfEPX9uMRjnXuLFVp0\n",
        "2FpkXPj19M79poCN4OTM36qW1zUqgdKiIRZYdcjJ1EhZQZjrzvnQ61XGnXRN2FQN\n",
        "JzzLkPJ1M43QGp+mfMoAWYRVhQ4oEgGf0xqNRJbQ8RBSOMsVQCYFpLQCJEWesaDD\n",
        "B1dEzvfXNzmOm9Q1sB4ovh/aB3HS1brPA/CB4JKTsfz3K6nbMgj6+sNKDYhrZiT8\n",
        "fCFSia64x2q14KSleowmdR2ZrKbGWDuqfOiLS5HD4ngLMYeZZdSonNlVgVe3E1pN\n",
        "K/sWqhLvAgMBAAECggEAFQ1ncefHWdSy2C0l8OH6DDCWPJNVhpJ8i8GXRRg9mklW\n",
        "mFEZK2z0LhSXDL6QcKv1ZMg2O+e4D5NmNZAfaNmn2tfPW+IKxhUMyIV+a3JSIm1E\n",
        "5PilX8vnjiSnDs7SDDQRBtxAoBZFAVhI3MWNmuxFt0ufpCxydH+/SceEJ2ZFzSQb\n",
        "+zSHyUzOdGM4QFx05Yf5Yf4qHPZHz+U85kqowj81AlVMnOYv1CrHvjs5PgTbh1vj\n",
        "S0qJx9RFC+wokGIheuBroR5aqKwNL64e3YeuGbL8eZ75RbvMkQWmZpvHnLFPp0FH\n",
        "co/Br8EmEh65vRBb1B+LzYgpql03cT+7gWhubXzWkQKBgQDoo/mSf/1Yu8xWRcmQ\n",
        "PpdsuHDEL3yI5wZUIkfmvODABbGFgK3fNUGKoiTlciL7NVnQIoC08NEBs7oRrntu\n",
        "waq5VIcH4sfYv/r8exbkeWeQo+sderLJjtyL6YUIngJMVNVQBq37QFNAlukXo+Lg\n",
        "zwKbPR+Ep/aGAXtYrbgA+/RS2wKBgQC/8KKcH4MwUlJ4ChTUHYIdwsOQs2D21nIe\n",
        "XMwoM0RlNTGXPnMk45ux2b40ebCAUUDMeO3/4Beg69bkVyo/d/hf+gRG/SjjAfuM\n",
        "lifSlaa9bDJce+/3SIP/tjuMQwff1HNc61vVCR1IVOK57fBQTFE7dM/BeAxYt6CG\n",
        "qshSuEg6fQKBgGXyDVjci3nJ+hZISLbUJuk2vfvKz2jyzDwsNZPwaxDardtR81+f\n",
        "59PHkCGX7aply7DAneQsr3pudvhunJqBdb33Q6D6CRd7sZHYosSGSxMAMfTeIuDe\n",
        "oNkTAQAwtdMbTcre0nkKzDC+sPByGebn8D11AI3SSN6aYaIPplWQE5YHAoGAbP+Z\n",
        "SHG4zVsijBqlg2OSfZYZ+vVy7hoPymBGa9nZUGQp2krTlrJOu2v80M3+RpBd7QAL\n",
        "oBBBOthTO26ohkx51v8jKLEhY/C/SjIHQVZMzys/WjfjqRkcJL33CQsT0K9UKANc\n",
        "Lhmz8FyMOKv/mYoNY2dNh//FeygkV/VqN1eBZP0CgYEAgqgGeoWDFn2U/u7Yqb0F\n",
        "iNgsaZmSZdgSCu5wIv4HTLRq6Ai6ccqjN4jRSG/PzjczylBtUK/pRg9VQrWcrEIH\n",
        "P9MJskKg2ILG0Y5YXnO8A4d6YW7axVZjn+JB2adtPWMwh0nwJrLCNTA2tss0Z6Cs\n",
        "PSJgDNf2frLczY/IJDcKnNA=\n",
        "-----END PRIVATE KEY-----\n",
    );
    const FCM_PUBLIC_KEY: &str = concat!(
        "-----BEGIN PUBLIC KEY-----\n",
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArm0Es+tT4Aafxwn40PCf\n",
        "8uF2S8hm2Z3X8Ow59DQg9rWn5M3iPfLpghBZG/M43xD1/bjEY517ixVadNhaZFz4\n",
        "9fTO/aaAjeDkzN+qltc1KoHSoiEWWHXIydRIWUGY68750OtVxp10TdhUDSc8y5Dy\n",
        "dTON0BqfpnzKAFmEVYUOKBIBn9MajUSW0PEQUjjLFUAmBaS0AiRFnrGgwwdXRM73\n",
        "1zc5jpvUNbAeKL4f2gdx0tW6zwPwgeCSk7H89yup2zII+vrDSg2Ia2Yk/HwhUomu\n",
        "uMdqteCkpXqMJnUdmaymxlg7qnzoi0uRw+J4CzGHmWXUqJzZVYFXtxNaTSv7FqoS\n",
        "7wIDAQAB\n",
        "-----END PUBLIC KEY-----\n",
    );
    /// A throwaway P-256 key standing in for an APNs `.p8` key (tests only).
    pub const APNS_PRIVATE_KEY: &str = concat!(
        "-----BEGIN PRIVATE KEY-----\n",
        "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVOXubtCqsMKZiLZa\n",
        "8opSugaRp8ZLItZwSs1Pz+w0jgKhRANCAATJpVlRZARa0jKI1Yk90tiHhb3gOfd7\n",
        "zQ2ZmRf7J1jo/CPObDC7Edcyiiyw9KnRwxvnXcLfBY78uUPQq0+WtnCo\n",
        "-----END PRIVATE KEY-----\n",
    );
    const APNS_PUBLIC_KEY: &str = concat!(
        "-----BEGIN PUBLIC KEY-----\n",
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyaVZUWQEWtIyiNWJPdLYh4W94Dn3\n",
        "e80NmZkX+ydY6PwjzmwwuxHXMoossPSp0cMb513C3wWO/LlD0KtPlrZwqA==\n",
        "-----END PUBLIC KEY-----\n",
    );

    pub const PROJECT_ID: &str = "test-project";
    pub const CLIENT_EMAIL: &str = "push@test-project.iam.gserviceaccount.com";
    pub const PRIVATE_KEY_ID: &str = "service-account-key-1";
    pub const APNS_KEY_ID: &str = "ABC123DEFG";
    pub const APNS_TEAM_ID: &str = "TEAM123456";

    /// What a fake answers for a device token (`Ok` once the script for it is used up).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Answer {
        Ok,
        /// FCM 404 `UNREGISTERED` / APNs 410 `Unregistered`.
        Unregistered,
        /// FCM 400 `INVALID_ARGUMENT` / APNs 400 `BadDeviceToken`.
        InvalidToken,
        /// 500
        ServerError,
        /// Never answers.
        Hang,
    }

    /// One request a fake received.
    #[derive(Debug, Clone)]
    pub struct Received {
        pub path: String,
        pub version: Version,
        pub headers: HeaderMap,
        pub body: Value,
        /// The bearer credential was valid (an issued access token, or a correctly signed JWT).
        pub authorized: bool,
        pub bearer: String,
    }

    impl Received {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    #[derive(Default)]
    struct Shared {
        base: String,
        answers: HashMap<String, VecDeque<Answer>>,
        received: Vec<Received>,
        issued_tokens: Vec<String>,
        token_requests: Vec<Result<Value, String>>,
    }

    #[derive(Clone)]
    struct FakeState {
        shared: Arc<Mutex<Shared>>,
        arrived: Arc<Notify>,
    }

    impl FakeState {
        fn next_answer(&self, token: &str) -> Answer {
            let mut shared = self.shared.lock().unwrap();
            shared
                .answers
                .get_mut(token)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Answer::Ok)
        }

        fn record(&self, received: Received) {
            self.shared.lock().unwrap().received.push(received);
            self.arrived.notify_one();
        }
    }

    /// Shared by both fakes: scripting answers and reading what arrived.
    pub struct Fake {
        pub base: String,
        state: FakeState,
    }

    impl Fake {
        /// Scripts the next answers for a device token.
        pub fn answer(&self, token: &str, answers: &[Answer]) {
            self.state
                .shared
                .lock()
                .unwrap()
                .answers
                .insert(token.to_owned(), answers.iter().copied().collect());
        }

        /// Takes every request received so far.
        pub fn take(&self) -> Vec<Received> {
            std::mem::take(&mut self.state.shared.lock().unwrap().received)
        }

        /// Waits (at most 10 s) until `count` requests arrived since the last [`Self::take`].
        pub async fn wait_for(&self, count: usize) {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
            while self.state.shared.lock().unwrap().received.len() < count {
                tokio::time::timeout_at(deadline, self.state.arrived.notified())
                    .await
                    .expect("the requests reach the fake in time");
            }
        }

        /// The token exchanges so far: the verified assertion claims, or why it was refused.
        pub fn token_requests(&self) -> Vec<Result<Value, String>> {
            self.state.shared.lock().unwrap().token_requests.clone()
        }
    }

    fn new_state() -> FakeState {
        FakeState {
            shared: Arc::default(),
            arrived: Arc::new(Notify::new()),
        }
    }

    fn bearer(headers: &HeaderMap) -> String {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default()
            .to_owned()
    }

    /// FCM HTTP v1 over HTTP/1.1, with its OAuth token endpoint at `/token`.
    pub async fn fcm() -> Fake {
        let state = new_state();
        let router = Router::new()
            .route("/token", post(fcm_token))
            .fallback(fcm_send)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        state.shared.lock().unwrap().base.clone_from(&base);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Fake { base, state }
    }

    /// The service-account key file for the fake (its token URI points at the fake).
    pub fn service_account_json(fcm: &Fake) -> String {
        json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": FCM_PRIVATE_KEY,
            "client_email": CLIENT_EMAIL,
            "client_id": "1234567890",
            "token_uri": format!("{}/token", fcm.base),
        })
        .to_string()
    }

    /// Verifies the service account's JWT assertion with the public key and issues a token.
    async fn fcm_token(
        State(state): State<FakeState>,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let token_uri = format!("{}/token", state.shared.lock().unwrap().base);
        let verified = (|| {
            if form.get("grant_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            {
                return Err("wrong grant_type".to_owned());
            }
            let assertion = form.get("assertion").ok_or("no assertion")?;
            let header = jsonwebtoken::decode_header(assertion).map_err(|e| e.to_string())?;
            if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(PRIVATE_KEY_ID) {
                return Err(format!("unexpected header {header:?}"));
            }
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_audience(&[token_uri.as_str()]);
            validation.set_issuer(&[CLIENT_EMAIL]);
            validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
            let key = DecodingKey::from_rsa_pem(FCM_PUBLIC_KEY.as_bytes()).unwrap();
            let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
                .map_err(|e| e.to_string())?
                .claims;
            if claims["scope"] != "https://www.googleapis.com/auth/firebase.messaging" {
                return Err(format!("wrong scope in {claims}"));
            }
            Ok(claims)
        })();
        let mut shared = state.shared.lock().unwrap();
        shared.token_requests.push(verified.clone());
        match verified {
            Ok(_) => {
                let token = format!("ya29.test-access-token-{}", shared.issued_tokens.len() + 1);
                shared.issued_tokens.push(token.clone());
                Json(json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }))
                    .into_response()
            }
            Err(reason) => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid_grant", "error_description": reason })),
            )
                .into_response(),
        }
    }

    fn fcm_error(status: StatusCode, general: &str, code: &str) -> Response {
        let body = json!({ "error": {
            "code": status.as_u16(),
            "message": "Requested entity was not found.",
            "status": general,
            "details": [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code }],
        }});
        (status, Json(body)).into_response()
    }

    async fn fcm_send(
        State(state): State<FakeState>,
        uri: Uri,
        version: Version,
        headers: HeaderMap,
        body: Json<Value>,
    ) -> Response {
        let bearer = bearer(&headers);
        let authorized = state.shared.lock().unwrap().issued_tokens.contains(&bearer);
        let token = body["message"]["token"].as_str().unwrap_or_default().to_owned();
        state.record(Received {
            path: uri.path().to_owned(),
            version,
            headers,
            body: body.0,
            authorized,
            bearer,
        });
        if !authorized {
            return fcm_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "THIRD_PARTY_AUTH_ERROR",
            );
        }
        match state.next_answer(&token) {
            Answer::Ok => {
                Json(json!({ "name": format!("projects/{PROJECT_ID}/messages/1") })).into_response()
            }
            Answer::Unregistered => fcm_error(StatusCode::NOT_FOUND, "NOT_FOUND", "UNREGISTERED"),
            Answer::InvalidToken => {
                fcm_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
            }
            Answer::ServerError => fcm_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "INTERNAL"),
            Answer::Hang => std::future::pending().await,
        }
    }

    /// APNs: an HTTP/2-only server (h2c with prior knowledge), checking the provider token.
    pub async fn apns() -> Fake {
        let state = new_state();
        let router = Router::new()
            .route("/3/device/{token}", post(apns_send))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        state.shared.lock().unwrap().base.clone_from(&base);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { base, state }
    }

    /// The provider token's claims if it is an ES256 JWT of our key and team.
    pub fn verify_provider_token(jwt: &str) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
        if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(APNS_KEY_ID) {
            return Err(format!("unexpected header {header:?}"));
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_issuer(&[APNS_TEAM_ID]);
        let key = DecodingKey::from_ec_pem(APNS_PUBLIC_KEY.as_bytes()).unwrap();
        let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
            .map_err(|e| e.to_string())?
            .claims;
        if !claims["iat"].is_i64() {
            return Err(format!("no iat in {claims}"));
        }
        Ok(claims)
    }

    async fn apns_send(
        State(state): State<FakeState>,
        Path(token): Path<String>,
        uri: Uri,
        version: Version,
        headers: HeaderMap,
        body: Json<Value>,
    ) -> Response {
        let bearer = bearer(&headers);
        let authorized = verify_provider_token(&bearer).is_ok();
        state.record(Received {
            path: uri.path().to_owned(),
            version,
            headers,
            body: body.0,
            authorized,
            bearer,
        });
        let reason = |status: StatusCode, reason: &str| {
            (
                status,
                Json(json!({ "reason": reason, "timestamp": 1_700_000_000_000_i64 })),
            )
                .into_response()
        };
        if !authorized {
            return reason(StatusCode::FORBIDDEN, "InvalidProviderToken");
        }
        match state.next_answer(&token) {
            Answer::Ok => StatusCode::OK.into_response(),
            Answer::Unregistered => reason(StatusCode::GONE, "Unregistered"),
            Answer::InvalidToken => reason(StatusCode::BAD_REQUEST, "BadDeviceToken"),
            Answer::ServerError => reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            Answer::Hang => std::future::pending().await,
        }
    }
}
