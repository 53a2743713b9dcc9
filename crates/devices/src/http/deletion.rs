//! `/api/v2/Identities/Self/DeletionProcesses` (spec P1–P4).

use axum::extract::{Path, Request, State};
use backbone_core::encoding::date_format;
use backbone_core::ids::IdentityDeletionProcessId;
use backbone_web::json::{parse_optional_json, read_body};
use backbone_web::openapi::{routes, BadRequest, NotFound, ResultBody, TooManyRequests, Unauthorized};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, Created, Envelope, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DevicesState;
use crate::deletion::DeletionProcess;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .routes(routes!(get_processes, post_process))
        .routes(routes!(get_process))
        .routes(routes!(put_cancel))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProcessDto {
    id: String,
    /// `Active`, `Cancelled` or `Deleting`
    status: &'static str,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by_device: String,
    /// Deprecated aliases of `createdAt`/`createdByDevice`, kept for older clients.
    #[serde(with = "date_format")]
    approved_at: DateTime<Utc>,
    approved_by_device: String,
    #[serde(with = "date_format::option")]
    grace_period_ends_at: Option<DateTime<Utc>>,
    #[serde(with = "date_format::option")]
    grace_period_reminder1_sent_at: Option<DateTime<Utc>>,
    #[serde(with = "date_format::option")]
    grace_period_reminder2_sent_at: Option<DateTime<Utc>>,
    #[serde(with = "date_format::option")]
    grace_period_reminder3_sent_at: Option<DateTime<Utc>>,
}

impl From<DeletionProcess> for ProcessDto {
    fn from(p: DeletionProcess) -> Self {
        let [reminder1, reminder2, reminder3] = p.reminders_sent_at;
        Self {
            id: p.id.into_string(),
            status: p.status.as_str(),
            created_at: p.created_at,
            created_by_device: p.created_by_device.to_string(),
            approved_at: p.created_at,
            approved_by_device: p.created_by_device.into_string(),
            grace_period_ends_at: p.grace_period_ends_at,
            grace_period_reminder1_sent_at: reminder1,
            grace_period_reminder2_sent_at: reminder2,
            grace_period_reminder3_sent_at: reminder3,
        }
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct StartRequest {
    length_of_grace_period_in_days: Option<f64>,
}

/// Start the deletion of the caller's identity
///
/// P1: the body is optional (`null` counts as none); the grace-period override is not
/// validated, as upstream.
#[utoipa::path(
    post, path = "/api/v2/Identities/Self/DeletionProcesses", tag = "DeletionProcesses",
    request_body(content = Option<StartRequest>, description = "Optional"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The process", body = ResultBody<ProcessDto>),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
async fn post_process(
    State(state): State<DevicesState>,
    caller: Caller,
    request: Request,
) -> ApiResult<Created<ProcessDto>> {
    let body = read_body(request, &()).await?;
    let request: StartRequest = parse_optional_json(&body)?;
    let process = state
        .service
        .start_deletion_process(
            &caller.address,
            &caller.device_id,
            request.length_of_grace_period_in_days,
        )
        .await?;
    Ok(Created::new(process.into()))
}

/// The deletion processes of the caller's identity
///
/// P2
#[utoipa::path(
    get, path = "/api/v2/Identities/Self/DeletionProcesses", tag = "DeletionProcesses",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The processes", body = ResultBody<Vec<ProcessDto>>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_processes(
    State(state): State<DevicesState>,
    caller: Caller,
) -> ApiResult<Envelope<Vec<ProcessDto>>> {
    let processes = state.service.deletion_processes(&caller.address).await?;
    Ok(Envelope(processes.into_iter().map(ProcessDto::from).collect()))
}

fn parse_id(id: &str) -> ApiResult<IdentityDeletionProcessId> {
    IdentityDeletionProcessId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

/// One deletion process of the caller's identity
///
/// P3
#[utoipa::path(
    get, path = "/api/v2/Identities/Self/DeletionProcesses/{id}", tag = "DeletionProcesses",
    params(("id" = String, Path, pattern = r"^IDP[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The process", body = ResultBody<ProcessDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_process(
    State(state): State<DevicesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<ProcessDto>> {
    Ok(Envelope(
        state
            .service
            .deletion_process(&caller.address, &parse_id(&id)?)
            .await?
            .into(),
    ))
}

/// The process as P4 returns it: the DTO plus when and by which device it was cancelled,
/// which upstream's response carries and the client stores.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CancelledProcessDto {
    #[serde(flatten)]
    process: ProcessDto,
    #[serde(with = "date_format::option")]
    cancelled_at: Option<DateTime<Utc>>,
    cancelled_by_device: String,
}

/// Cancel a deletion during its grace period
///
/// P4: the body is ignored.
#[utoipa::path(
    put, path = "/api/v2/Identities/Self/DeletionProcesses/{id}/Cancel", tag = "DeletionProcesses",
    params(("id" = String, Path, pattern = r"^IDP[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled process", body = ResultBody<CancelledProcessDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_cancel(
    State(state): State<DevicesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CancelledProcessDto>> {
    let process = state
        .service
        .cancel_deletion_process(&caller.address, &caller.device_id, &parse_id(&id)?)
        .await?;
    let cancelled_at = process.cancelled_at;
    Ok(Envelope(CancelledProcessDto {
        process: process.into(),
        cancelled_at,
        cancelled_by_device: caller.device_id.into_string(),
    }))
}
