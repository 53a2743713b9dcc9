//! `/api/v2/SyncRuns` and `/api/v2/Datawallet` (spec §10, S1–S6, W1–W3).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use backbone_core::encoding::{date_format, decode_bytes, encode_bytes};
use backbone_core::ids::{ExternalEventId, SyncRunId};
use backbone_core::Actor;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::json::{parse_optional_json, read_body};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{
    EventResult, ExternalEvent, Modification, ModificationType, NewModification, SyncRun, SyncRunType,
};
use crate::service::{CreatedModifications, StartOutcome};
use crate::{SyncError, SynchronizationService};

#[derive(Clone)]
pub struct SynchronizationState {
    pub service: SynchronizationService,
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Invalid(error) => error.into(),
            SyncError::NotFound(entity) => Self::not_found(entity),
            SyncError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            SyncError::Unexpected(error) => Self::Internal(error),
            SyncError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: SynchronizationState) -> Routes {
    Routes::new()
        .route("/api/v2/SyncRuns", axum::routing::post(post_sync_run))
        .route("/api/v2/SyncRuns/{id}", get(get_sync_run))
        .route("/api/v2/SyncRuns/{id}/ExternalEvents", get(get_external_events))
        .route("/api/v2/SyncRuns/{id}/RefreshExpirationTime", put(put_refresh))
        .route(
            "/api/v2/SyncRuns/{id}/FinalizeExternalEventSync",
            put(put_finalize_external_event_sync),
        )
        .route(
            "/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade",
            put(put_finalize_version_upgrade),
        )
        .route("/api/v2/Datawallet", get(get_datawallet))
        .route(
            "/api/v2/Datawallet/Modifications",
            get(get_modifications).post(post_modifications),
        )
        .with_state(state)
}

/// `X-Supported-Datawallet-Version`; missing or unreadable counts as 0.
fn supported_version(headers: &HeaderMap) -> i64 {
    headers
        .get("x-supported-datawallet-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u16>().ok())
        .map_or(0, i64::from)
}

fn parse_run_id(id: &str) -> ApiResult<SyncRunId> {
    SyncRunId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncRunDto {
    id: String,
    #[serde(rename = "type")]
    run_type: &'static str,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    index: i64,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    event_count: i64,
}

impl From<SyncRun> for SyncRunDto {
    fn from(run: SyncRun) -> Self {
        Self {
            id: run.id.into_string(),
            run_type: run.run_type.as_str(),
            expires_at: run.expires_at,
            index: run.index,
            created_at: run.created_at,
            created_by: run.owner.to_string(),
            created_by_device: run.created_by_device.into_string(),
            event_count: run.event_count,
        }
    }
}

#[derive(Deserialize, Default)]
struct StartSyncRunRequest {
    #[serde(rename = "type")]
    run_type: Option<Value>,
    duration: Option<i64>,
}

/// S1: 201 with the run, or 200 `NoNewEvents` when there is nothing to deliver.
async fn post_sync_run(
    State(state): State<SynchronizationState>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    let headers = request.headers().clone();
    let body = read_body(request, &()).await?;
    let request: StartSyncRunRequest = parse_optional_json(&body)?;
    let run_type = match request.run_type {
        None | Some(Value::Null) => SyncRunType::ExternalEventSync,
        Some(value) => {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            SyncRunType::parse(&text)
                .ok_or_else(|| ApiError::cannot_parse("'type': The value is not a valid sync run type."))?
        }
    };
    let outcome = state
        .service
        .start_sync_run(
            &Actor::from(caller),
            run_type,
            request.duration,
            supported_version(&headers),
        )
        .await?;
    Ok(match outcome {
        StartOutcome::NoNewEvents => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "result": { "status": "NoNewEvents", "syncRun": null } })),
        )
            .into_response(),
        StartOutcome::Created(run) => {
            Created::new(serde_json::json!({ "status": "Created", "syncRun": SyncRunDto::from(run) }))
                .into_response()
        }
    })
}

/// S2
async fn get_sync_run(
    State(state): State<SynchronizationState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<SyncRunDto>> {
    Ok(Envelope(
        state
            .service
            .sync_run(&caller.address, &parse_run_id(&id)?)
            .await?
            .into(),
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalEventDto {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    index: i64,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    sync_error_count: i64,
    payload: Value,
}

impl From<ExternalEvent> for ExternalEventDto {
    fn from(event: ExternalEvent) -> Self {
        Self {
            id: event.id.into_string(),
            event_type: event.event_type,
            index: event.index,
            created_at: event.created_at,
            sync_error_count: event.sync_error_count,
            payload: event.payload,
        }
    }
}

/// S3
async fn get_external_events(
    State(state): State<SynchronizationState>,
    caller: Caller,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<ExternalEventDto>> {
    let page = query.page(state.service.paging)?;
    let events = state
        .service
        .events_of_run(&Actor::from(caller), &parse_run_id(&id)?, page)
        .await?;
    Ok(PagedEnvelope(events.map(ExternalEventDto::from)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefreshedDto {
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
}

/// S4
async fn put_refresh(
    State(state): State<SynchronizationState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RefreshedDto>> {
    let expires_at = state
        .service
        .refresh_expiration(&Actor::from(caller), &parse_run_id(&id)?)
        .await?;
    Ok(Envelope(RefreshedDto { expires_at }))
}

/// A modification item (spec §10.5) as it arrives.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModificationDto {
    #[serde(rename = "type")]
    modification_type: Value,
    object_identifier: String,
    collection: String,
    payload_category: Option<String>,
    encrypted_payload: Option<String>,
    datawallet_version: i64,
}

fn to_new_modifications(items: Vec<ModificationDto>) -> ApiResult<Vec<NewModification>> {
    items
        .into_iter()
        .map(|item| {
            let type_text = item
                .modification_type
                .as_str()
                .map_or_else(|| item.modification_type.to_string(), str::to_owned);
            let modification_type = ModificationType::parse(&type_text).ok_or_else(|| {
                ApiError::cannot_parse("'type': The value is not a valid modification type.")
            })?;
            let encrypted_payload = item
                .encrypted_payload
                .map(|p| {
                    decode_bytes(&p).ok_or_else(|| {
                        ApiError::cannot_parse("'encryptedPayload': The value is not valid base64.")
                    })
                })
                .transpose()?;
            Ok(NewModification {
                modification_type,
                object_identifier: item.object_identifier,
                collection: item.collection,
                payload_category: item.payload_category,
                encrypted_payload,
                datawallet_version: item.datawallet_version,
            })
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedModificationDto {
    id: String,
    index: i64,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

fn created_dtos(created: &CreatedModifications) -> Vec<CreatedModificationDto> {
    created
        .items
        .iter()
        .map(|(id, index)| CreatedModificationDto {
            id: id.to_string(),
            index: *index,
            created_at: created.created_at,
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventResultDto {
    external_event_id: String,
    error_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinalizeExternalEventSyncRequest {
    #[serde(default)]
    external_event_results: Vec<EventResultDto>,
    #[serde(default)]
    datawallet_modifications: Vec<ModificationDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinalizedExternalEventSyncDto {
    new_datawallet_modification_index: Option<i64>,
    datawallet_modifications: Vec<CreatedModificationDto>,
    new_unsynced_external_events_exist: bool,
}

/// S5
async fn put_finalize_external_event_sync(
    State(state): State<SynchronizationState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<FinalizeExternalEventSyncRequest>,
) -> ApiResult<Envelope<FinalizedExternalEventSyncDto>> {
    let id = parse_run_id(&id)?;
    let results = request
        .external_event_results
        .into_iter()
        .map(|r| {
            let external_event_id = ExternalEventId::parse(&r.external_event_id)
                .ok_or_else(|| ApiError::invalid_id("externalEventId"))?;
            if r.error_code.as_ref().is_some_and(|c| c.chars().count() > 100) {
                return Err(ApiError::invalid_property_value(
                    "'errorCode' must be 100 characters or fewer.",
                ));
            }
            Ok(EventResult {
                external_event_id,
                error_code: r.error_code,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let modifications = to_new_modifications(request.datawallet_modifications)?;
    let (created, more) = state
        .service
        .finalize_external_event_sync(&Actor::from(caller), &id, results, modifications)
        .await?;
    Ok(Envelope(FinalizedExternalEventSyncDto {
        new_datawallet_modification_index: created.newest_index,
        datawallet_modifications: created_dtos(&created),
        new_unsynced_external_events_exist: more,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinalizeVersionUpgradeRequest {
    new_datawallet_version: i64,
    #[serde(default)]
    datawallet_modifications: Vec<ModificationDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FinalizedVersionUpgradeDto {
    new_datawallet_modification_index: Option<i64>,
    datawallet_modifications: Vec<CreatedModificationDto>,
}

/// S6
async fn put_finalize_version_upgrade(
    State(state): State<SynchronizationState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<FinalizeVersionUpgradeRequest>,
) -> ApiResult<Envelope<FinalizedVersionUpgradeDto>> {
    let id = parse_run_id(&id)?;
    let modifications = to_new_modifications(request.datawallet_modifications)?;
    let created = state
        .service
        .finalize_datawallet_version_upgrade(
            &Actor::from(caller),
            &id,
            request.new_datawallet_version,
            modifications,
        )
        .await?;
    Ok(Envelope(FinalizedVersionUpgradeDto {
        new_datawallet_modification_index: created.newest_index,
        datawallet_modifications: created_dtos(&created),
    }))
}

/// W1
async fn get_datawallet(
    State(state): State<SynchronizationState>,
    caller: Caller,
) -> ApiResult<Envelope<Value>> {
    let version = state.service.datawallet_version(&caller.address).await?;
    Ok(Envelope(serde_json::json!({ "version": version })))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModificationOutDto {
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
    modification_type: String,
    encrypted_payload: Option<String>,
}

impl From<Modification> for ModificationOutDto {
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

/// W2
async fn get_modifications(
    State(state): State<SynchronizationState>,
    caller: Caller,
    headers: HeaderMap,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<ModificationOutDto>> {
    let page = query.page(state.service.paging)?;
    let local_index = query.integer("localIndex")?;
    let modifications = state
        .service
        .modifications(&caller.address, local_index, supported_version(&headers), page)
        .await?;
    Ok(PagedEnvelope(modifications.map(ModificationOutDto::from)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PushModificationsRequest {
    local_index: Option<i64>,
    modifications: Vec<ModificationDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushedModificationsDto {
    new_index: Option<i64>,
    modifications: Vec<CreatedModificationDto>,
}

/// W3
async fn post_modifications(
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
