//! Server-sent events (spec consumer-api-identity §9, admin-and-services §4.6): devices that
//! listen on `/api/v2/sse` get their pushes as events; several devices of one identity at once.

use std::pin::Pin;
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestIdentity, PASSWORD};

macro_rules! on_both_databases_with_keep_alive {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::spawn($crate::helpers::Backend::Sqlite).await).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name(super::spawn($crate::helpers::Backend::Postgres).await).await
                }
            }
        )*
    };
}

on_both_databases_with_keep_alive!(
    every_connected_device_of_an_identity_gets_its_pushes,
    a_closed_stream_or_a_missing_client_removes_the_registration,
);

const TEST_PUSH: &str = "/api/v2/Devices/Self/PushNotifications/SendTestNotification";

/// The app with a short keep-alive interval.
async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| s.push.sse.keep_alive_interval_milliseconds = 200).await
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An open event stream, read frame by frame.
struct Events {
    body: ByteStream,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, path: &str, token: &str) -> (reqwest::StatusCode, HeaderMap, Option<Self>) {
        let response = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let events = status.is_success().then(|| Self {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        });
        (status, headers, events)
    }

    /// The next event's name (within 10 s); every event carries the data `_`.
    async fn next(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let lines: Vec<&str> = frame.trim_end().lines().collect();
                assert_eq!(lines.len(), 2, "{frame:?}");
                assert_eq!(lines[1], "data: _", "{frame:?}");
                return lines[0]
                    .strip_prefix("event: ")
                    .expect("an event line")
                    .to_owned();
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event in time")
                .expect("the stream stays open")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event that is not a keep-alive.
    async fn next_push(&mut self) -> String {
        loop {
            let name = self.next().await;
            if name != "keep-alive" {
                return name;
            }
        }
    }
}

async fn second_device(app: &TestApp, identity: &TestIdentity) -> String {
    let device = app
        .register_device(identity, false)
        .await
        .expect_status(201)
        .result()
        .clone();
    app.token(device["username"].as_str().unwrap(), PASSWORD).await
}

async fn platforms(app: &TestApp) -> Vec<String> {
    backbone_db::sqlx::query_scalar("SELECT platform FROM push_registrations ORDER BY platform")
        .fetch_all(app.app.db.pool())
        .await
        .unwrap()
}

async fn every_connected_device_of_an_identity_gets_its_pushes(app: TestApp) {
    let identity = app.create_identity().await;
    let token_b = second_device(&app, &identity).await;
    let stranger = app.create_identity().await;

    let (status, headers, a) = Events::open(&app, "/api/v2/sse", &identity.token).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    let mut a = a.unwrap();
    let mut b = Events::open(&app, "/api/v1/sse", &token_b).await.2.unwrap();
    let mut stranger_events = Events::open(&app, "/api/v2/sse", &stranger.token)
        .await
        .2
        .unwrap();
    for events in [&mut a, &mut b, &mut stranger_events] {
        assert_eq!(events.next().await, "ConnectionOpened");
    }
    assert_eq!(platforms(&app).await, ["sse", "sse", "sse"]);

    // An external event for the identity reaches both of its devices, and nobody else.
    app.add_external_event(&identity.address, "MessageReceived").await;
    app.process_events().await;
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 2);
    assert_eq!(a.next_push().await, "ExternalEventCreated");
    assert_eq!(b.next_push().await, "ExternalEventCreated");

    app.post(TEST_PUSH, Some(&stranger.token), json!({}))
        .await
        .expect_status(204);
    app.post(TEST_PUSH, Some(&token_b), json!({}))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 3);
    assert_eq!(a.next_push().await, "Test");
    assert_eq!(b.next_push().await, "Test");
    assert_eq!(stranger_events.next_push().await, "Test");

    // Quiet streams get keep-alives.
    let mut names = Vec::new();
    while names.len() < 2 {
        names.push(a.next().await);
    }
    assert_eq!(names, ["keep-alive", "keep-alive"]);

    assert_eq!(app.get("/api/v2/sse", None).await.status, 401);
}

/// Waits (at most 10 s) until the number of registrations is `expected`.
async fn wait_for_registrations(app: &TestApp, expected: i64) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while app.count("push_registrations").await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {} registrations",
            app.count("push_registrations").await
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

async fn a_closed_stream_or_a_missing_client_removes_the_registration(app: TestApp) {
    let identity = app.create_identity().await;
    let dummy = json!({ "platform": "dummy", "handle": "dummy-handle", "appId": "app" });
    let registered = app
        .put(
            "/api/v2/Devices/Self/PushNotifications",
            Some(&identity.token),
            dummy,
        )
        .await;
    let identifier = registered.expect_status(200).result()["devicePushIdentifier"].clone();

    // Connecting replaces the registration (keeping its identifier); two streams of the device.
    let mut first = Events::open(&app, "/api/v2/sse", &identity.token)
        .await
        .2
        .unwrap();
    let mut second = Events::open(&app, "/api/v2/sse", &identity.token)
        .await
        .2
        .unwrap();
    assert_eq!(first.next().await, "ConnectionOpened");
    assert_eq!(second.next().await, "ConnectionOpened");
    assert_eq!(platforms(&app).await, ["sse"]);
    let device = backbone_core::ids::DeviceId::parse(&identity.device_id).unwrap();
    let stored = app
        .app
        .push
        .store
        .find_registration(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(json!(stored.device_push_identifier), identifier);

    // Closing one stream keeps the registration; closing the last removes it.
    drop(first);
    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    assert_eq!(app.app.push_sender.run_due(100).await.unwrap().sent, 1);
    assert_eq!(second.next_push().await, "Test");
    assert_eq!(app.count("push_registrations").await, 1);
    drop(second);
    wait_for_registrations(&app, 0).await;

    // Registered for SSE without listening.
    let sse = json!({ "platform": "sse", "handle": "sse-handle", "appId": "sse-client" });
    app.put(
        "/api/v2/Devices/Self/PushNotifications",
        Some(&identity.token),
        sse,
    )
    .await
    .expect_status(200);
    app.post(TEST_PUSH, Some(&identity.token), json!({}))
        .await
        .expect_status(204);
    let report = app.app.push_sender.run_due(100).await.unwrap();
    if app.app.db.dialect() == backbone_db::Dialect::Postgres {
        // On PostgreSQL the push fans out to every replica (any one may hold the stream), so
        // it counts as sent; the registration stays until the client unregisters.
        assert_eq!((report.sent, report.invalid_handles), (1, 0));
        assert_eq!(app.count("push_registrations").await, 1);
    } else {
        // One process: it sees there is no stream and removes the registration.
        assert_eq!(report.invalid_handles, 1);
        assert_eq!(app.count("push_registrations").await, 0);
    }
}

#[tokio::test]
async fn sse_and_dummy_can_be_disabled() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.push.sse.enabled = false;
        s.push.dummy.enabled = false;
    })
    .await;
    let identity = app.create_identity().await;
    assert_eq!(app.get("/api/v2/sse", Some(&identity.token)).await.status, 404);
    for platform in ["sse", "dummy"] {
        let body = json!({ "platform": platform, "handle": "some-handle", "appId": "app" });
        app.put(
            "/api/v2/Devices/Self/PushNotifications",
            Some(&identity.token),
            body,
        )
        .await
        .expect_error(400, "error.platform.validation.invalidPropertyValue");
    }
    assert_eq!(app.count("push_registrations").await, 0);
}
