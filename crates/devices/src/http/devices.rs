//! `/api/v2/Devices` (spec D1–D6).

use axum::extract::{Path, State};
use backbone_core::encoding::date_format;
use backbone_core::ids::DeviceId;
use backbone_web::openapi::{
    routes, BadRequest, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests, Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::{lenient_bool, DeviceDto, SignedChallengeDto};
use super::DevicesState;
use crate::service::RegisterDevice;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .routes(routes!(get_devices, post_device))
        .routes(routes!(get_self, put_self))
        .routes(routes!(put_password))
        .routes(routes!(delete_device))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RegisterDeviceRequest {
    device_password: String,
    signed_challenge: SignedChallengeDto,
    /// ISO 639-1; default `en`
    #[schema(pattern = "^[a-z]{2}$")]
    communication_language: Option<String>,
    /// A boolean (the strings `true`/`false` are accepted too); default `false`
    #[serde(default, deserialize_with = "lenient_bool")]
    #[schema(required = false)]
    is_backup_device: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct RegisteredDeviceDto {
    id: String,
    username: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by_device: String,
    is_backup_device: bool,
}

/// Register another device of the caller's identity
///
/// D1
#[utoipa::path(
    post, path = "/api/v2/Devices", tag = "Devices",
    request_body = RegisterDeviceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new device", body = ResultBody<RegisteredDeviceDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn post_device(
    State(state): State<DevicesState>,
    caller: Caller,
    CiJson(request): CiJson<RegisterDeviceRequest>,
) -> ApiResult<Created<RegisteredDeviceDto>> {
    let device = state
        .service
        .register_device(
            &caller.address,
            &caller.device_id,
            RegisterDevice {
                device_password: request.device_password,
                signed_challenge: request.signed_challenge.into(),
                communication_language: request.communication_language,
                is_backup_device: request.is_backup_device,
            },
        )
        .await?;
    Ok(Created::new(RegisteredDeviceDto {
        id: device.id.into_string(),
        username: device.username.into_string(),
        created_at: device.created_at,
        created_by_device: device.created_by_device.into_string(),
        is_backup_device: device.is_backup_device,
    }))
}

/// List the devices of the caller's identity (paged)
///
/// D2: optionally filtered by repeated `ids`.
#[utoipa::path(
    get, path = "/api/v2/Devices", tag = "Devices",
    params(
        ("ids" = Option<Vec<String>>, Query, style = Form, explode,
            description = "Device IDs (`DVC` and up to 17 letters or digits)"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The devices", body = PagedResultBody<DeviceDto>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_devices(
    State(state): State<DevicesState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<DeviceDto>> {
    let page = query.page(state.service.settings.paging)?;
    let ids = query
        .all("ids")
        .into_iter()
        .map(|id| DeviceId::parse(id).ok_or_else(|| ApiError::invalid_id("ids")))
        .collect::<ApiResult<Vec<_>>>()?;
    let devices = state.service.list_devices(&caller.address, &ids, page).await?;
    Ok(PagedEnvelope(devices.map(DeviceDto::from)))
}

/// Get the calling device
///
/// D3
#[utoipa::path(
    get, path = "/api/v2/Devices/Self", tag = "Devices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The device", body = ResultBody<DeviceDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_self(State(state): State<DevicesState>, caller: Caller) -> ApiResult<Envelope<DeviceDto>> {
    Ok(Envelope(state.service.device(&caller.device_id).await?.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateDeviceRequest {
    /// ISO 639-1 (required in effect: absent is 400)
    #[schema(pattern = "^[a-z]{2}$")]
    communication_language: Option<String>,
}

/// Change the calling device's communication language
///
/// D4
#[utoipa::path(
    put, path = "/api/v2/Devices/Self", tag = "Devices",
    request_body = UpdateDeviceRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_self(
    State(state): State<DevicesState>,
    caller: Caller,
    CiJson(request): CiJson<UpdateDeviceRequest>,
) -> ApiResult<NoContent> {
    state
        .service
        .update_communication_language(&caller.device_id, request.communication_language)
        .await?;
    Ok(NoContent)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordRequest {
    old_password: String,
    new_password: String,
}

/// Change the calling device's password
///
/// D5
#[utoipa::path(
    put, path = "/api/v2/Devices/Self/Password", tag = "Devices",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Changed"),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_password(
    State(state): State<DevicesState>,
    caller: Caller,
    CiJson(request): CiJson<ChangePasswordRequest>,
) -> ApiResult<NoContent> {
    state
        .service
        .change_password(&caller.device_id, request.old_password, request.new_password)
        .await?;
    Ok(NoContent)
}

/// Delete a device of the caller's identity that never logged in
///
/// D6
#[utoipa::path(
    delete, path = "/api/v2/Devices/{id}", tag = "Devices",
    params(("id" = String, Path, pattern = r"^DVC[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn delete_device(
    State(state): State<DevicesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = DeviceId::parse(&id).ok_or_else(|| ApiError::invalid_id("id"))?;
    state.service.delete_device(&caller.address, &id).await?;
    Ok(NoContent)
}
