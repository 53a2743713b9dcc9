//! `/api/v2/Identities` (spec I1–I5).

use axum::extract::{Path, Request, State};
use backbone_core::encoding::{date_format, decode_bytes};
use backbone_core::ids::Username;
use backbone_core::IdentityAddress;
use backbone_web::json::read_body;
use backbone_web::openapi::{routes, BadRequest, NotFound, ResultBody, TooManyRequests, Unauthorized};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::{lenient_integer, SignedChallengeDto};
use super::DevicesState;
use crate::domain::{Device, Identity};
use crate::service::CreateIdentity;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .routes(routes!(post_identity))
        .routes(routes!(get_self))
        .routes(routes!(get_is_deleted))
        .routes(routes!(patch_feature_flags))
        .routes(routes!(get_feature_flags))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateIdentityRequest {
    client_id: String,
    client_secret: String,
    /// base64
    #[schema(format = Byte)]
    identity_public_key: String,
    device_password: String,
    /// A number (a numeric string is accepted too)
    #[serde(deserialize_with = "lenient_integer")]
    identity_version: i64,
    signed_challenge: SignedChallengeDto,
    /// ISO 639-1; default `en`
    #[schema(pattern = "^[a-z]{2}$")]
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
    pub(super) fn new(identity: &Identity, device: Device) -> Self {
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

/// Create an identity with its first device
///
/// I1: anonymous; the platform client authenticates with id and secret in the body.
#[utoipa::path(
    post, path = "/api/v2/Identities", tag = "Identities",
    request_body = CreateIdentityRequest,
    responses(
        (status = 201, description = "The identity and its device", body = ResultBody<CreatedIdentityDto>),
        BadRequest, NotFound, TooManyRequests,
    ),
)]
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
    Ok(Created::new(CreatedIdentityDto::new(&identity, device)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct IdentityDto {
    address: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    identity_version: i64,
    tier_id: String,
    /// `Active`, `ToBeDeleted` or `Deleting`
    status: &'static str,
    #[serde(with = "date_format::option")]
    deletion_grace_period_ends_at: Option<DateTime<Utc>>,
}

/// Get the caller's identity
///
/// I2
#[utoipa::path(
    get, path = "/api/v2/Identities/Self", tag = "Identities",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The identity", body = ResultBody<IdentityDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
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

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct IsDeletedDto {
    is_deleted: bool,
    #[serde(with = "date_format::option")]
    deletion_date: Option<DateTime<Utc>>,
}

/// Whether the identity of a device's username is deleted
///
/// I3: anonymous.
#[utoipa::path(
    get, path = "/api/v2/Identities/IsDeleted", tag = "Identities",
    params(("username" = String, Query, pattern = r"^USR[A-Za-z0-9]{1,17}$")),
    responses(
        (status = 200, description = "Whether it is deleted, and when", body = ResultBody<IsDeletedDto>),
        BadRequest,
    ),
)]
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

/// Create or change feature flags
///
/// I4: the body is a plain map of flag name to boolean; names are kept as sent.
#[utoipa::path(
    patch, path = "/api/v2/Identities/Self/FeatureFlags", tag = "FeatureFlags",
    request_body(content = std::collections::BTreeMap<String, bool>, description = "flag name → enabled"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Saved"),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
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

/// Get an identity's feature flags
///
/// I5: the caller's own or a peer's (with a relationship); flag names are camel-cased on
/// output, as upstream's dictionary serialisation does.
#[utoipa::path(
    get, path = "/api/v2/Identities/{identityAddress}/FeatureFlags", tag = "FeatureFlags",
    params(("identityAddress" = String, Path, pattern = r"^did:e:[A-Za-z0-9.:-]+:dids:[0-9a-f]{22}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "flag name → enabled",
            body = ResultBody<std::collections::BTreeMap<String, bool>>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
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
