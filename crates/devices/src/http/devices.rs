//! `/api/v2/Devices` (spec D1–D6).

use axum::extract::{Path, State};
use axum::routing::{delete, get, put};
use backbone_core::encoding::date_format;
use backbone_core::ids::DeviceId;
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::{lenient_bool, DeviceDto, SignedChallengeDto};
use super::DevicesState;
use crate::service::RegisterDevice;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .route("/api/v2/Devices", get(get_devices).post(post_device))
        .route("/api/v2/Devices/Self", get(get_self).put(put_self))
        .route("/api/v2/Devices/Self/Password", put(put_password))
        .route("/api/v2/Devices/{id}", delete(delete_device))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterDeviceRequest {
    device_password: String,
    signed_challenge: SignedChallengeDto,
    communication_language: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    is_backup_device: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegisteredDeviceDto {
    id: String,
    username: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by_device: String,
    is_backup_device: bool,
}

/// D1
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

/// D2: the caller's identity's devices, optionally filtered by repeated `ids`.
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

/// D3
async fn get_self(State(state): State<DevicesState>, caller: Caller) -> ApiResult<Envelope<DeviceDto>> {
    Ok(Envelope(state.service.device(&caller.device_id).await?.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateDeviceRequest {
    communication_language: Option<String>,
}

/// D4
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePasswordRequest {
    old_password: String,
    new_password: String,
}

/// D5
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

/// D6
async fn delete_device(
    State(state): State<DevicesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = DeviceId::parse(&id).ok_or_else(|| ApiError::invalid_id("id"))?;
    state.service.delete_device(&caller.address, &id).await?;
    Ok(NoContent)
}
