//! `/api/v2/SyncRuns` and `/api/v2/Datawallet` (spec §10, S1–S6, W1–W3).

mod datawallet;
mod modifications;
mod schemas;
mod sync_runs;

use axum::http::HeaderMap;
use backbone_core::ids::SyncRunId;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::openapi::routes;
use backbone_web::{ApiError, ApiResult, Routes};

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
        .routes(routes!(sync_runs::post_sync_run))
        .routes(routes!(sync_runs::get_sync_run))
        .routes(routes!(sync_runs::get_external_events))
        .routes(routes!(sync_runs::put_refresh))
        .routes(routes!(sync_runs::put_finalize_external_event_sync))
        .routes(routes!(sync_runs::put_finalize_version_upgrade))
        .routes(routes!(datawallet::get_datawallet))
        .routes(routes!(
            datawallet::get_modifications,
            datawallet::post_modifications
        ))
        .with_state(state)
}

/// The `X-Supported-Datawallet-Version` header [`supported_version`] reads.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "describes the header for the OpenAPI document")]
struct SupportedVersionHeader {
    /// The highest datawallet version the client understands; missing or unreadable counts as 0.
    #[param(rename = "X-Supported-Datawallet-Version", nullable = false, maximum = 65535)]
    supported_version: Option<u16>,
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
