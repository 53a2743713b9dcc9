//! `/api/v2/Devices/Self/PushNotifications` (N1–N3), `/api/v2/Notifications` (N4) and the
//! server-sent-events stream `/api/v2/sse` (also `/api/v1/sse`, spec §9).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::openapi::{routes, BadRequest, ResultBody, TooManyRequests, Unauthorized};
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
        .routes(routes!(put_registration, delete_registration))
        .routes(routes!(send_test_notification))
        .routes(routes!(send_notification))
        .routes(routes!(events))
        .routes(routes!(events_v1))
        .with_state(state)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RegistrationBody {
    /// `fcm`, `apns`, `dummy` or `sse` (those enabled on this server)
    platform: Option<String>,
    /// The platform's device token
    handle: Option<String>,
    app_id: Option<String>,
    /// `Development` or `Production` (APNs)
    environment: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RegistrationDto {
    device_push_identifier: String,
}

/// Register the calling device for push notifications
///
/// N1: `fcm`, `apns`, `dummy` or `sse`; replaces the device's previous registration.
#[utoipa::path(
    put, path = "/api/v2/Devices/Self/PushNotifications", tag = "PushNotifications",
    request_body = RegistrationBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Registered", body = ResultBody<RegistrationDto>),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
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

/// Unregister the calling device from push notifications
///
/// N2
#[utoipa::path(
    delete, path = "/api/v2/Devices/Self/PushNotifications", tag = "PushNotifications",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unregistered (also when it was not registered)"),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
async fn delete_registration(State(state): State<PushState>, caller: Caller) -> ApiResult<NoContent> {
    state.service.unregister(&caller.device_id).await?;
    Ok(NoContent)
}

/// Send a test push to every device of the caller
///
/// N3: the body is any non-null JSON value, passed on untouched (keys keep their case) as the
/// push's data.
#[utoipa::path(
    post, path = "/api/v2/Devices/Self/PushNotifications/SendTestNotification",
    tag = "PushNotifications",
    request_body(content = Value, description = "Any JSON value but `null`"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Sent"),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationBody {
    /// Addresses of identities the caller has a relationship with
    #[serde(default)]
    recipients: Option<Vec<String>>,
    /// A notification code configured on this server
    #[serde(default)]
    code: Option<String>,
}

/// Send a configured text-only notification to peers
///
/// N4
#[utoipa::path(
    post, path = "/api/v2/Notifications", tag = "Notifications",
    request_body = NotificationBody,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Sent"),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
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

/// Server-sent events: the calling device's pushes
///
/// §9.1: registers the calling device for `sse` (replacing an FCM or APNs registration) and
/// streams its pushes until the client goes away; the device's last stream closing removes the
/// registration again. Every device of an identity may be connected, each any number of times.
/// Each event is `event: <name>` with `data: _`; the first is `ConnectionOpened`, and
/// `keep-alive` comes when nothing else did for a while.
#[utoipa::path(
    get, path = "/api/v2/sse", tag = "PushNotifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 404, description = "SSE is not enabled on this server (no body)"),
        BadRequest, Unauthorized,
    ),
)]
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

/// Server-sent events (the same as `/api/v2/sse`)
#[utoipa::path(
    get, path = "/api/v1/sse", tag = "PushNotifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 404, description = "SSE is not enabled on this server (no body)"),
        BadRequest, Unauthorized,
    ),
)]
async fn events_v1(state: State<PushState>, caller: Caller) -> ApiResult<Response> {
    events(state, caller).await
}
