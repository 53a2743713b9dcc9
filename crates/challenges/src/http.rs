//! `/api/v2/Challenges` (spec C1, C2).

use axum::extract::{Path, State};
use backbone_core::encoding::date_format;
use backbone_core::ids::ChallengeId;
use backbone_core::SharedClock;
use backbone_web::openapi::{routes, BadRequest, NotFound, ResultBody, TooManyRequests, Unauthorized};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, Created, Envelope, MaybeCaller, Routes};
use chrono::{DateTime, Utc};
use serde::Serialize;

use std::sync::Arc;

use crate::service::QuotaGate;
use crate::{Challenge, ChallengeStore, ChallengesError};

#[derive(Clone)]
pub struct ChallengesState {
    pub store: ChallengeStore,
    pub clock: SharedClock,
    pub quotas: Arc<dyn QuotaGate>,
}

impl From<ChallengesError> for ApiError {
    fn from(error: ChallengesError) -> Self {
        match error {
            ChallengesError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            ChallengesError::Unexpected(error) => Self::Internal(error),
            ChallengesError::Database(error) => Self::internal(error),
        }
    }
}

pub fn routes(state: ChallengesState) -> Routes {
    Routes::new()
        .routes(routes!(post_challenge))
        .routes(routes!(get_challenge))
        .with_state(state)
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChallengeDto {
    id: String,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    created_by: Option<String>,
    created_by_device: Option<String>,
}

impl From<Challenge> for ChallengeDto {
    fn from(c: Challenge) -> Self {
        Self {
            id: c.id.into_string(),
            expires_at: c.expires_at,
            created_by: c.created_by.map(|a| a.to_string()),
            created_by_device: c.created_by_device.map(backbone_core::ids::DeviceId::into_string),
        }
    }
}

/// Create a challenge (anonymous or authenticated)
///
/// C1: the body is ignored. An authenticated caller's challenges count against the
/// `NumberOfCreatedChallenges` quota.
#[utoipa::path(
    post, path = "/api/v2/Challenges", tag = "Challenges",
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The new challenge", body = ResultBody<ChallengeDto>,
            headers(("Location" = String, description = "The challenge's URL"))),
        BadRequest, TooManyRequests,
    ),
)]
async fn post_challenge(
    State(state): State<ChallengesState>,
    MaybeCaller(caller): MaybeCaller,
) -> ApiResult<Created<ChallengeDto>> {
    let creator = caller.map(|c| (c.address, c.device_id));
    let challenge = crate::service::create_challenge(&state, creator).await?;
    Ok(Created::at(
        format!("/api/v2/Challenges/{}", challenge.id),
        challenge.into(),
    ))
}

/// Get a challenge
///
/// C2: any authenticated identity may read any challenge, up to an hour after it expired.
#[utoipa::path(
    get, path = "/api/v2/Challenges/{id}", tag = "Challenges",
    params(("id" = String, Path, pattern = r"^CHL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The challenge", body = ResultBody<ChallengeDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_challenge(
    State(state): State<ChallengesState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<ChallengeDto>> {
    let id = ChallengeId::parse(&id).ok_or_else(|| ApiError::invalid_id("id"))?;
    let challenge = state.store.find(&id).await.map_err(ApiError::internal)?;
    match challenge {
        Some(challenge) if challenge.is_readable_at(state.clock.now()) => Ok(Envelope(challenge.into())),
        _ => Err(ApiError::not_found("Challenge")),
    }
}
