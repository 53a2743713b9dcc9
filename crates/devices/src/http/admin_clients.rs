//! Admin API: one OAuth client, its update and its new secret (admin-and-services §1.3/1.4).

use axum::extract::{Path, Request, State};
use axum::routing::{get, patch};
use backbone_core::encoding::date_format;
use backbone_core::ApiResult;
use backbone_web::json::{parse_json, read_body};
use backbone_web::openapi::{add, Schemas};
use backbone_web::{CiJson, Envelope, NoContent, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::admin::CreatedClientDto;
use super::DevicesState;
use crate::admin_clients::ClientDetails;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .route(
            "/api/v1/Clients/{id}",
            get(get_client).put(put_client).delete(delete_client),
        )
        .route("/api/v1/Clients/{id}/ChangeSecret", patch(patch_change_secret))
}

pub(super) fn schemas(schemas: &mut Schemas) {
    add::<ClientDto>(schemas);
    add::<UpdateClientRequest>(schemas);
    add::<ChangeSecretRequest>(schemas);
}

/// `Client`: unlike the list's overview, `defaultTier` is the tier's ID.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDto {
    pub client_id: String,
    pub display_name: String,
    pub default_tier: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    pub number_of_identities: i64,
    pub max_identities: Option<i64>,
}

impl From<ClientDetails> for ClientDto {
    fn from(details: ClientDetails) -> Self {
        let client = details.client;
        Self {
            client_id: client.client_id,
            display_name: client.display_name,
            default_tier: client.default_tier.into_string(),
            created_at: client.created_at,
            number_of_identities: details.number_of_identities,
            max_identities: client.max_identities,
        }
    }
}

async fn get_client(
    State(state): State<DevicesState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<ClientDto>> {
    Ok(Envelope(state.service.client_details(&id).await?.into()))
}

/// `{"defaultTier": "<tier id>", "maxIdentities": int|null}`; both must be present.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateClientRequest {
    default_tier: String,
    #[serde(deserialize_with = "nullable_int")]
    max_identities: Option<i64>,
}

fn nullable_int<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<i64>::deserialize(deserializer)
}

/// `UpdateClientResponse`: the client without its secret.
async fn put_client(
    State(state): State<DevicesState>,
    Path(id): Path<String>,
    CiJson(request): CiJson<UpdateClientRequest>,
) -> ApiResult<Envelope<ClientDto>> {
    let details = state
        .service
        .update_client(&id, &request.default_tier, request.max_identities)
        .await?;
    Ok(Envelope(details.into()))
}

async fn delete_client(State(state): State<DevicesState>, Path(id): Path<String>) -> ApiResult<NoContent> {
    state.service.delete_client(&id).await?;
    Ok(NoContent)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ChangeSecretRequest {
    #[serde(default)]
    new_secret: Option<String>,
}

/// The body is optional; an empty or missing `newSecret` gets a generated one.
async fn patch_change_secret(
    State(state): State<DevicesState>,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<Envelope<CreatedClientDto>> {
    let body = read_body(request, &()).await?;
    let request: ChangeSecretRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ChangeSecretRequest::default()
    } else {
        parse_json(&body)?
    };
    let (client, secret) = state
        .service
        .change_client_secret(&id, request.new_secret)
        .await?;
    Ok(Envelope(CreatedClientDto::new(client, secret)))
}
