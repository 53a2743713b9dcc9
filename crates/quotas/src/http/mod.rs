//! Thin handlers: the Admin API's tier, quota and metric endpoints and the Consumer API's
//! `GET /api/v2/Quotas`. The binary puts the admin routes behind the API-key check.

mod dto;

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use backbone_core::IdentityAddress;
use backbone_web::openapi::{routes, BadRequest, ResultBody, Unauthorized};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, Routes};

pub use dto::{IdentityQuotaDto, MetricDto, QuotaDefinitionDto, QuotaGroupDto, TierDetailsDto};

use crate::{QuotasError, QuotasService};

/// The schemas of this module's Admin API bodies.
pub fn admin_schemas() -> backbone_web::openapi::Schemas {
    use backbone_web::openapi::add;
    let mut schemas = Vec::new();
    add::<dto::QuotaRequest>(&mut schemas);
    add::<QuotaDefinitionDto>(&mut schemas);
    add::<TierDetailsDto>(&mut schemas);
    add::<IdentityQuotaDto>(&mut schemas);
    add::<MetricDto>(&mut schemas);
    schemas
}

#[derive(Clone)]
pub struct QuotasState {
    pub service: QuotasService,
}

impl From<QuotasError> for ApiError {
    fn from(error: QuotasError) -> Self {
        match error {
            QuotasError::Exhausted(metrics) => ApiError::QuotaExhausted(metrics),
            QuotasError::NotFound(entity) => ApiError::not_found(entity),
            QuotasError::Database(error) => ApiError::internal(error),
            QuotasError::Port(error) => ApiError::internal(error),
            other => {
                let code = other
                    .code()
                    .unwrap_or(backbone_core::error::INVALID_PROPERTY_VALUE);
                ApiError::validation(code, other.to_string())
            }
        }
    }
}

pub fn admin_routes(state: QuotasState) -> Routes {
    Routes::new()
        .route("/api/v1/Tiers/{id}", get(get_tier))
        .route("/api/v1/Tiers/{id}/Quotas", post(post_tier_quota))
        .route("/api/v1/Tiers/{id}/Quotas/{quotaId}", delete(delete_tier_quota))
        .route("/api/v1/Identities/{address}/Quotas", post(post_individual_quota))
        .route(
            "/api/v1/Identities/{address}/Quotas/{quotaId}",
            delete(delete_individual_quota),
        )
        .route("/api/v1/Metrics", get(get_metrics))
        .with_state(state)
}

pub fn routes(state: QuotasState) -> Routes {
    Routes::new().routes(routes!(get_own_quotas)).with_state(state)
}

/// The `quotas` part of the Admin API's `IdentityDetails`, with live usage.
pub async fn identity_quotas(
    service: &QuotasService,
    identity: &IdentityAddress,
) -> ApiResult<Vec<IdentityQuotaDto>> {
    let quotas = service.quotas_with_usage(identity).await?;
    Ok(quotas.into_iter().map(IdentityQuotaDto::from).collect())
}

async fn get_tier(
    State(state): State<QuotasState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<TierDetailsDto>> {
    Ok(Envelope(state.service.tier_details(&id).await?.into()))
}

async fn post_tier_quota(
    State(state): State<QuotasState>,
    Path(id): Path<String>,
    CiJson(request): CiJson<dto::QuotaRequest>,
) -> ApiResult<Created<QuotaDefinitionDto>> {
    let definition = state.service.create_tier_quota(&id, request.into()).await?;
    Ok(Created::new(definition.into()))
}

async fn delete_tier_quota(
    State(state): State<QuotasState>,
    Path((id, quota_id)): Path<(String, String)>,
) -> ApiResult<NoContent> {
    state.service.delete_tier_quota(&id, &quota_id).await?;
    Ok(NoContent)
}

async fn post_individual_quota(
    State(state): State<QuotasState>,
    Path(address): Path<String>,
    CiJson(request): CiJson<dto::QuotaRequest>,
) -> ApiResult<Created<QuotaDefinitionDto>> {
    let quota = state
        .service
        .create_individual_quota(&address, request.into())
        .await?;
    Ok(Created::new(quota.into()))
}

async fn delete_individual_quota(
    State(state): State<QuotasState>,
    Path((address, quota_id)): Path<(String, String)>,
) -> ApiResult<NoContent> {
    state.service.delete_individual_quota(&address, &quota_id).await?;
    Ok(NoContent)
}

async fn get_metrics(State(state): State<QuotasState>) -> Envelope<Vec<MetricDto>> {
    Envelope(state.service.metrics().iter().map(|&key| key.into()).collect())
}

/// The caller's quotas with their usage, grouped by metric
///
/// consumer-api-identity §11.3
#[utoipa::path(
    get, path = "/api/v2/Quotas", tag = "Quotas",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The quotas", body = ResultBody<Vec<QuotaGroupDto>>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_own_quotas(
    State(state): State<QuotasState>,
    caller: Caller,
) -> ApiResult<Envelope<Vec<QuotaGroupDto>>> {
    let quotas = state.service.quotas_with_usage(&caller.address).await?;
    Ok(Envelope(dto::group_by_metric(quotas)))
}
