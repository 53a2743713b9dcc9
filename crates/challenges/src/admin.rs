//! Admin API: `POST /api/v1/Challenges` (admin-and-services §1.3/1.4), an anonymous challenge
//! an operator signs to create an identity through `POST /api/v1/Identities`.

use axum::extract::State;
use axum::routing::post;
use backbone_core::encoding::date_format;
use backbone_core::ApiResult;
use backbone_web::{Created, Routes};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Challenge, ChallengesState};

pub fn admin_routes(state: ChallengesState) -> Routes {
    Routes::new()
        .route("/api/v1/Challenges", post(post_admin_challenge))
        .with_state(state)
}

/// Always anonymous: `createdBy` and `createdByDevice` are null.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminChallengeDto {
    pub id: String,
    #[serde(with = "date_format")]
    pub expires_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub created_by_device: Option<String>,
}

impl From<Challenge> for AdminChallengeDto {
    fn from(c: Challenge) -> Self {
        Self {
            id: c.id.into_string(),
            expires_at: c.expires_at,
            created_by: None,
            created_by_device: None,
        }
    }
}

async fn post_admin_challenge(State(state): State<ChallengesState>) -> ApiResult<Created<AdminChallengeDto>> {
    let challenge = crate::service::create_challenge(&state, None).await?;
    Ok(Created::new(challenge.into()))
}
