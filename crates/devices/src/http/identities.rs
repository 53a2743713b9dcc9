//! `/api/v2/Identities` (spec I1–I5).

use axum::extract::{Path, Request, State};
use axum::routing::{get, patch, post};
use backbone_core::encoding::{date_format, decode_bytes};
use backbone_core::ids::Username;
use backbone_core::{ApiError, ApiResult, IdentityAddress};
use backbone_web::json::read_body;
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::{lenient_integer, SignedChallengeDto};
use super::DevicesState;
use crate::domain::{Device, Identity};
use crate::service::CreateIdentity;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .route("/api/v2/Identities", post(post_identity))
        .route("/api/v2/Identities/Self", get(get_self))
        .route("/api/v2/Identities/IsDeleted", get(get_is_deleted))
        .route("/api/v2/Identities/Self/FeatureFlags", patch(patch_feature_flags))
        .route(
            "/api/v2/Identities/{identityAddress}/FeatureFlags",
            get(get_feature_flags),
        )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIdentityRequest {
    client_id: String,
    client_secret: String,
    identity_public_key: String,
    device_password: String,
    #[serde(deserialize_with = "lenient_integer")]
    identity_version: i64,
    signed_challenge: SignedChallengeDto,
    device_communication_language: Option<String>,
}

/// The answer to an identity creation, by a client (I1) or by an operator (Admin API).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreatedIdentityDto {
    address: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    device: CreatedDeviceDto,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedDeviceDto {
    id: String,
    username: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

impl CreatedIdentityDto {
    pub(super) fn new(identity: Identity, device: Device) -> Self {
        Self {
            address: identity.address.to_string(),
            created_at: identity.created_at,
            device: CreatedDeviceDto {
                id: device.id.into_string(),
                username: device.username.into_string(),
                created_at: device.created_at,
            },
        }
    }
}

/// I1: anonymous; the platform client authenticates with id and secret in the body.
async fn post_identity(
    State(state): State<DevicesState>,
    CiJson(request): CiJson<CreateIdentityRequest>,
) -> ApiResult<Created<CreatedIdentityDto>> {
    let identity_public_key = decode_bytes(&request.identity_public_key)
        .ok_or_else(|| ApiError::cannot_parse("'identityPublicKey': The value is not valid base64."))?;
    let (identity, device) = state
        .service
        .create_identity(CreateIdentity {
            client_id: request.client_id,
            client_secret: request.client_secret,
            identity_public_key,
            device_password: request.device_password,
            identity_version: request.identity_version,
            signed_challenge: request.signed_challenge.into(),
            communication_language: request.device_communication_language,
        })
        .await?;
    Ok(Created::new(CreatedIdentityDto::new(identity, device)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDto {
    address: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    identity_version: i64,
    tier_id: String,
    status: &'static str,
    #[serde(with = "date_format::option")]
    deletion_grace_period_ends_at: Option<DateTime<Utc>>,
}

/// I2
async fn get_self(State(state): State<DevicesState>, caller: Caller) -> ApiResult<Envelope<IdentityDto>> {
    let identity = state.service.identity(&caller.address).await?;
    Ok(Envelope(IdentityDto {
        address: identity.address.to_string(),
        created_at: identity.created_at,
        identity_version: identity.identity_version,
        tier_id: identity.tier_id.into_string(),
        status: identity.status.as_str(),
        deletion_grace_period_ends_at: identity.deletion_grace_period_ends_at,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IsDeletedDto {
    is_deleted: bool,
    #[serde(with = "date_format::option")]
    deletion_date: Option<DateTime<Utc>>,
}

/// I3: anonymous.
async fn get_is_deleted(
    State(state): State<DevicesState>,
    query: QueryParams,
) -> ApiResult<Envelope<IsDeletedDto>> {
    let username = query
        .get("username")
        .ok_or_else(|| ApiError::cannot_parse("'username': The username field is required."))?;
    let username = Username::parse(username.trim()).ok_or_else(|| ApiError::invalid_id("username"))?;
    let (is_deleted, deletion_date) = state.service.is_deleted(&username).await?;
    Ok(Envelope(IsDeletedDto {
        is_deleted,
        deletion_date,
    }))
}

/// I4: the body is a plain map of flag name to boolean; names are kept as sent.
async fn patch_feature_flags(
    State(state): State<DevicesState>,
    caller: Caller,
    request: Request,
) -> ApiResult<NoContent> {
    let body = read_body(request, &()).await?;
    let flags: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::cannot_parse(format!("The request body must be a JSON object: {e}")))?;
    let flags = flags
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::Bool(enabled) => {
                backbone_web::text::check(&name, &name).map(|()| (name, enabled))
            }
            _ => Err(ApiError::cannot_parse(format!(
                "'{name}': The value must be a boolean."
            ))),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    state.service.change_feature_flags(&caller.address, flags).await?;
    Ok(NoContent)
}

/// I5: flag names are camel-cased on output, as upstream's dictionary serialisation does.
async fn get_feature_flags(
    State(state): State<DevicesState>,
    caller: Caller,
    Path(address): Path<String>,
) -> ApiResult<Envelope<serde_json::Map<String, serde_json::Value>>> {
    let address = IdentityAddress::parse(&address).ok_or_else(|| ApiError::invalid_id("identityAddress"))?;
    let flags = state.service.feature_flags_of(&caller.address, &address).await?;
    Ok(Envelope(
        flags
            .into_iter()
            .map(|(name, enabled)| (camel_case(&name), enabled.into()))
            .collect(),
    ))
}

fn camel_case(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}
