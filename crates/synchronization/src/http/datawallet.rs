//! `/api/v2/Datawallet` (spec §10, W1–W3).

use axum::extract::State;
use axum::http::HeaderMap;
use backbone_core::encoding::{date_format, encode_bytes};
use backbone_core::Actor;
use backbone_web::openapi::{
    BadRequest, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests, Unauthorized,
};
use backbone_web::ApiResult;
use backbone_web::{Caller, CiJson, Created, Envelope, PagedEnvelope, QueryParams};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::modifications::{created_dtos, to_new_modifications, CreatedModificationDto, NewModificationDto};
use super::{schemas, supported_version, SupportedVersionHeader, SynchronizationState};
use crate::domain::Modification;

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DatawalletDto {
    version: i64,
}

/// Get the datawallet's version
///
/// 404 until a version upgrade created it (spec §10, W1).
#[utoipa::path(
    get, path = "/api/v2/Datawallet", tag = "Datawallet",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The datawallet", body = ResultBody<DatawalletDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
pub(super) async fn get_datawallet(
    State(state): State<SynchronizationState>,
    caller: Caller,
) -> ApiResult<Envelope<DatawalletDto>> {
    let version = state.service.datawallet_version(&caller.address).await?;
    Ok(Envelope(DatawalletDto { version }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct DatawalletModificationDto {
    id: String,
    datawallet_version: i64,
    index: i64,
    object_identifier: String,
    payload_category: Option<String>,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by_device: String,
    collection: String,
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::modification_type)]
    modification_type: String,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    encrypted_payload: Option<String>,
}

impl From<Modification> for DatawalletModificationDto {
    fn from(m: Modification) -> Self {
        Self {
            id: m.id.into_string(),
            datawallet_version: m.datawallet_version,
            index: m.index,
            object_identifier: m.object_identifier,
            payload_category: m.payload_category,
            created_at: m.created_at,
            created_by_device: m.created_by_device.into_string(),
            collection: m.collection,
            modification_type: m.modification_type,
            encrypted_payload: m.encrypted_payload.as_deref().map(encode_bytes),
        }
    }
}

/// Datawallet modifications after a local index
///
/// Empty while there is no datawallet (spec §10, W2).
#[utoipa::path(
    get, path = "/api/v2/Datawallet/Modifications", tag = "Datawallet",
    params(
        ("localIndex" = Option<i64>, Query, description = "The newest index the device has; all when absent"),
        SupportedVersionHeader,
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of modifications", body = PagedResultBody<DatawalletModificationDto>),
        BadRequest, Unauthorized,
    ),
)]
pub(super) async fn get_modifications(
    State(state): State<SynchronizationState>,
    caller: Caller,
    headers: HeaderMap,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<DatawalletModificationDto>> {
    let page = query.page(state.service.paging)?;
    let local_index = query.integer("localIndex")?;
    let modifications = state
        .service
        .modifications(&caller.address, local_index, supported_version(&headers), page)
        .await?;
    Ok(PagedEnvelope(modifications.map(DatawalletModificationDto::from)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PushModificationsRequest {
    local_index: Option<i64>,
    modifications: Vec<NewModificationDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PushedModificationsDto {
    new_index: Option<i64>,
    modifications: Vec<CreatedModificationDto>,
}

/// Push datawallet modifications
///
/// On top of the newest modification the device knows, never during a sync run (spec §10,
/// W3); counts for the `NumberOfCreatedDatawalletModifications` quota.
#[utoipa::path(
    post, path = "/api/v2/Datawallet/Modifications", tag = "Datawallet",
    params(SupportedVersionHeader),
    security(("bearer" = [])),
    request_body = PushModificationsRequest,
    responses(
        (status = 201, description = "The modifications were stored", body = ResultBody<PushedModificationsDto>,
            headers(("Location" = String, description = "Always empty"))),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
pub(super) async fn post_modifications(
    State(state): State<SynchronizationState>,
    caller: Caller,
    headers: HeaderMap,
    CiJson(request): CiJson<PushModificationsRequest>,
) -> ApiResult<Created<PushedModificationsDto>> {
    let modifications = to_new_modifications(request.modifications)?;
    let created = state
        .service
        .push_modifications(
            &Actor::from(caller),
            request.local_index.filter(|i| *i >= 0),
            modifications,
            supported_version(&headers),
        )
        .await?;
    Ok(Created::new(PushedModificationsDto {
        new_index: created.newest_index,
        modifications: created_dtos(&created),
    }))
}
