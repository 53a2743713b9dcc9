//! `/api/v2/Devices/Self/PushNotifications` (N1–N3), `/api/v2/Notifications` (N4) and the
//! server-sent-events stream `/api/v2/sse` (also `/api/v1/sse`, spec §9).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Envelope, NoContent, Routes};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Platform, RegistrationRequest, SSE_HANDLE};
use crate::{PushError, PushService};

#[derive(Clone)]
pub struct PushState {
    pub service: PushService,
    /// A `keep-alive` event goes out after this long without other events.
    pub keep_alive: Duration,
}

impl From<PushError> for ApiError {
    fn from(error: PushError) -> Self {
        match error {
            PushError::Invalid(error) => error.into(),
            PushError::Unexpected(error) => Self::Internal(error),
            PushError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: PushState) -> Routes {
    Routes::new()
        .route(
            "/api/v2/Devices/Self/PushNotifications",
            put(put_registration).delete(delete_registration),
        )
        .route(
            "/api/v2/Devices/Self/PushNotifications/SendTestNotification",
            post(send_test_notification),
        )
        .route("/api/v2/Notifications", post(send_notification))
        .route("/api/v2/sse", get(events))
        .route("/api/v1/sse", get(events))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationBody {
    platform: Option<String>,
    handle: Option<String>,
    app_id: Option<String>,
    environment: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationDto {
    device_push_identifier: String,
}

/// N1
async fn put_registration(
    State(state): State<PushState>,
    caller: Caller,
    CiJson(body): CiJson<RegistrationBody>,
) -> ApiResult<Envelope<RegistrationDto>> {
    let request = RegistrationRequest {
        platform: body.platform,
        handle: body.handle,
        app_id: body.app_id,
        environment: body.environment,
    };
    let identifier = state
        .service
        .register(&caller.address, &caller.device_id, request)
        .await?;
    Ok(Envelope(RegistrationDto {
        device_push_identifier: identifier.into_string(),
    }))
}

/// N2
async fn delete_registration(State(state): State<PushState>, caller: Caller) -> ApiResult<NoContent> {
    state.service.unregister(&caller.device_id).await?;
    Ok(NoContent)
}

/// N3: the body is any non-null JSON value, passed on untouched (keys keep their case).
async fn send_test_notification(
    State(state): State<PushState>,
    caller: Caller,
    request: Request,
) -> ApiResult<NoContent> {
    let bytes = backbone_web::json::read_body(request, &()).await?;
    let data: Value = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::cannot_parse(format!("The request body is not valid JSON: {error}")))?;
    if data.is_null() {
        return Err(ApiError::cannot_parse("A non-empty request body is required."));
    }
    state.service.send_test(&caller.address, data).await?;
    Ok(NoContent)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationBody {
    #[serde(default)]
    recipients: Option<Vec<String>>,
    #[serde(default)]
    code: Option<String>,
}

/// N4
async fn send_notification(
    State(state): State<PushState>,
    caller: Caller,
    CiJson(body): CiJson<NotificationBody>,
) -> ApiResult<NoContent> {
    state
        .service
        .send_text_notification(
            &caller.address,
            &body.recipients.unwrap_or_default(),
            body.code.as_deref().unwrap_or_default(),
        )
        .await?;
    Ok(NoContent)
}

/// `event: <name>` / `data: _`, as upstream writes every event.
fn frame(name: &str) -> Event {
    Event::default().event(name).data("_")
}

/// §9.1: registers the calling device for `sse` (replacing an FCM or APNs registration) and
/// streams its pushes until the client goes away; the device's last stream closing removes the
/// registration again. Every device of an identity may be connected, each any number of times.
async fn events(State(state): State<PushState>, caller: Caller) -> ApiResult<Response> {
    let Some(hub) = state.service.connectors.sse.clone() else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let device = caller.device_id.clone();
    // Connect first, so that no push between registering and connecting finds nobody.
    let mut connection = hub.connect(device.clone());
    state.service.register_sse(&caller.address, &device).await?;
    let store = state.service.store.clone();
    connection.on_last_close(move || {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if hub.is_connected(&device) {
                return; // reconnected meanwhile
            }
            if let Err(error) = store
                .delete_registration_if(&device, Platform::Sse, SSE_HANDLE)
                .await
            {
                tracing::error!(%device, %error, "could not remove the SSE registration");
            }
        });
    });
    let opened = futures::stream::once(async { Ok::<_, Infallible>(frame("ConnectionOpened")) });
    let pushed = futures::stream::unfold(connection, |mut connection| async move {
        let name = connection.recv().await?;
        Some((Ok(frame(&name)), connection))
    });
    let keep_alive = KeepAlive::new()
        .interval(state.keep_alive)
        .event(frame("keep-alive"));
    let mut response = Sse::new(opened.chain(pushed))
        .keep_alive(keep_alive)
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    Ok(response)
}
