//! `/api/v2/SyncRuns` (spec §10, S1–S6).

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use backbone_core::encoding::date_format;
use backbone_core::ids::ExternalEventId;
use backbone_core::Actor;
use backbone_web::json::{parse_optional_json, read_body};
use backbone_web::openapi::{
    BadRequest, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests, Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, PagedEnvelope, QueryParams};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::modifications::{created_dtos, to_new_modifications, CreatedModificationDto, NewModificationDto};
use super::SynchronizationState;
use super::{parse_run_id, schemas, supported_version, SupportedVersionHeader};
use crate::domain::{EventResult, ExternalEvent, SyncRun, SyncRunType};
use crate::service::StartOutcome;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SyncRunDto {
    id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::sync_run_type)]
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

/// The optional body of `POST /SyncRuns`: none, `null` or this object.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct StartSyncRunRequest {
    /// The run's type by name (any case) or number; `ExternalEventSync` when absent.
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::sync_run_type_input)]
    run_type: Option<Value>,
    /// Seconds until the run expires (10 when absent).
    #[schema(minimum = 0, maximum = 65535)]
    duration: Option<i64>,
}

/// Whether `POST /SyncRuns` started a run.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) enum SyncRunStartStatus {
    Created,
    NoNewEvents,
}

/// The answer of `POST /SyncRuns`: 201 with the new run, or 200 with `NoNewEvents` and no run.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartedSyncRunDto {
    status: SyncRunStartStatus,
    sync_run: Option<SyncRunDto>,
}

/// Start a sync run
///
/// An external event sync (the default) or a datawallet version upgrade (spec §10, S1). The
/// body is optional: none, `null` or an object.
#[utoipa::path(
    post, path = "/api/v2/SyncRuns", tag = "Synchronization",
    params(SupportedVersionHeader),
    security(("bearer" = [])),
    request_body(content = Option<StartSyncRunRequest>, description = "Optional"),
    responses(
        (status = 201, description = "A run was started", body = ResultBody<StartedSyncRunDto>,
            headers(("Location" = String, description = "Always empty"))),
        (status = 200, description = "No run: there are no new external events (`NoNewEvents`, `syncRun` null)",
            body = ResultBody<StartedSyncRunDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
pub(super) async fn post_sync_run(
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
        StartOutcome::NoNewEvents => Envelope(StartedSyncRunDto {
            status: SyncRunStartStatus::NoNewEvents,
            sync_run: None,
        })
        .into_response(),
        StartOutcome::Created(run) => Created::new(StartedSyncRunDto {
            status: SyncRunStartStatus::Created,
            sync_run: Some(run.into()),
        })
        .into_response(),
    })
}

/// Get a sync run
///
/// One of the caller's sync runs (spec §10, S2).
#[utoipa::path(
    get, path = "/api/v2/SyncRuns/{id}", tag = "Synchronization",
    params(("id" = String, Path, pattern = r"^SYR[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sync run", body = ResultBody<SyncRunDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
pub(super) async fn get_sync_run(
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

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExternalEventDto {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    index: i64,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    sync_error_count: i64,
    /// The event's data; its shape depends on `type`.
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

/// The external events of a sync run
///
/// Only for the device that started the run, while it is open (spec §10, S3).
#[utoipa::path(
    get, path = "/api/v2/SyncRuns/{id}/ExternalEvents", tag = "Synchronization",
    params(("id" = String, Path, pattern = r"^SYR[A-Za-z0-9]{1,17}$"), Paging),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the run's events", body = PagedResultBody<ExternalEventDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
pub(super) async fn get_external_events(
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

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SyncRunExpiryDto)]
pub(super) struct RefreshedDto {
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
}

/// Extend a sync run
///
/// By the default run duration from now; only the device that started it (spec §10, S4).
#[utoipa::path(
    put, path = "/api/v2/SyncRuns/{id}/RefreshExpirationTime", tag = "Synchronization",
    params(("id" = String, Path, pattern = r"^SYR[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new expiry", body = ResultBody<RefreshedDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
pub(super) async fn put_refresh(
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct EventResultDto {
    #[schema(pattern = r"^SYI[A-Za-z0-9]{1,17}$")]
    external_event_id: String,
    /// Empty or absent for success.
    #[schema(max_length = 100)]
    error_code: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FinalizeExternalEventSyncRequest {
    #[serde(default)]
    external_event_results: Vec<EventResultDto>,
    #[serde(default)]
    datawallet_modifications: Vec<NewModificationDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FinalizedExternalEventSyncDto {
    new_datawallet_modification_index: Option<i64>,
    datawallet_modifications: Vec<CreatedModificationDto>,
    new_unsynced_external_events_exist: bool,
}

/// Finish an external event sync
///
/// Records each event's result and appends datawallet modifications (spec §10, S5).
#[utoipa::path(
    put, path = "/api/v2/SyncRuns/{id}/FinalizeExternalEventSync", tag = "Synchronization",
    params(("id" = String, Path, pattern = r"^SYR[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = FinalizeExternalEventSyncRequest,
    responses(
        (status = 200, description = "The run is finalized", body = ResultBody<FinalizedExternalEventSyncDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
pub(super) async fn put_finalize_external_event_sync(
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FinalizeVersionUpgradeRequest {
    #[schema(minimum = 1, maximum = 65535)]
    new_datawallet_version: i64,
    #[serde(default)]
    datawallet_modifications: Vec<NewModificationDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FinalizedVersionUpgradeDto {
    new_datawallet_modification_index: Option<i64>,
    datawallet_modifications: Vec<CreatedModificationDto>,
}

/// Finish a datawallet version upgrade
///
/// Creates or upgrades the datawallet and appends modifications (spec §10, S6); counts for
/// the `NumberOfCreatedDatawalletModifications` quota when there are modifications.
#[utoipa::path(
    put, path = "/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade", tag = "Synchronization",
    params(("id" = String, Path, pattern = r"^SYR[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = FinalizeVersionUpgradeRequest,
    responses(
        (status = 200, description = "The run is finalized", body = ResultBody<FinalizedVersionUpgradeDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
pub(super) async fn put_finalize_version_upgrade(
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
