//! Admin API handlers of the Devices module (spec admin-and-services §1.3/1.4): OAuth clients
//! and tiers. The binary puts them behind the API-key check.

use axum::extract::{Path, State};
use axum::routing::{delete, get, put};
use backbone_core::encoding::{date_format, encode_bytes};
use backbone_core::ApiResult;
use backbone_web::openapi::{add, Schemas};
use backbone_web::{CiJson, Created, Envelope, NoContent, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::DeviceDto;
use super::DevicesState;
use crate::domain::{Device, Identity, OAuthClient, Tier};
use crate::store::ClientOverview;

pub fn admin_routes(state: DevicesState) -> Routes {
    Routes::new()
        .route("/api/v1/Clients", get(get_clients).post(post_client))
        .route("/api/v1/Tiers", get(get_tiers).post(post_tier))
        .route("/api/v1/Tiers/{id}", delete(delete_tier))
        .route("/api/v1/Identities/{address}", put(put_identity))
        .merge(super::admin_clients::routes())
        .merge(super::admin_identities::routes())
        .merge(super::identity_list::routes())
        .with_state(state)
}

pub(super) fn schemas(schemas: &mut Schemas) {
    add::<ClientOverviewDto>(schemas);
    add::<CreateClientRequest>(schemas);
    add::<CreatedClientDto>(schemas);
    add::<TierOverviewDto>(schemas);
    add::<CreateTierRequest>(schemas);
    add::<TierRef>(schemas);
    add::<UpdateIdentityRequest>(schemas);
    add::<IdentityDetailsDto>(schemas);
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierRef {
    pub id: String,
    pub name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientOverviewDto {
    pub client_id: String,
    pub display_name: String,
    pub default_tier: TierRef,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    pub max_identities: Option<i64>,
    pub number_of_identities: i64,
}

async fn get_clients(State(state): State<DevicesState>) -> ApiResult<Envelope<Vec<ClientOverviewDto>>> {
    let clients = state.service.list_clients().await?;
    Ok(Envelope(
        clients.into_iter().map(ClientOverviewDto::from).collect(),
    ))
}

impl From<ClientOverview> for ClientOverviewDto {
    fn from(c: ClientOverview) -> Self {
        Self {
            default_tier: TierRef {
                id: c.client.default_tier.into_string(),
                name: c.default_tier_name,
            },
            client_id: c.client.client_id,
            display_name: c.client.display_name,
            created_at: c.client.created_at,
            max_identities: c.client.max_identities,
            number_of_identities: c.number_of_identities,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateClientRequest {
    pub client_id: Option<String>,
    pub display_name: Option<String>,
    pub client_secret: Option<String>,
    pub default_tier: String,
    pub max_identities: Option<i64>,
}

/// The created client with its secret in plain text: shown once, never again.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedClientDto {
    pub client_id: String,
    pub display_name: String,
    pub client_secret: String,
    pub default_tier: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    pub max_identities: Option<i64>,
}

impl CreatedClientDto {
    pub fn new(client: OAuthClient, secret: String) -> Self {
        Self {
            client_id: client.client_id,
            display_name: client.display_name,
            client_secret: secret,
            default_tier: client.default_tier.into_string(),
            created_at: client.created_at,
            max_identities: client.max_identities,
        }
    }
}

async fn post_client(
    State(state): State<DevicesState>,
    CiJson(request): CiJson<CreateClientRequest>,
) -> ApiResult<Created<CreatedClientDto>> {
    let (client, secret) = state
        .service
        .create_client(
            request.client_id,
            request.display_name,
            request.client_secret,
            &request.default_tier,
            request.max_identities,
        )
        .await?;
    Ok(Created::new(CreatedClientDto::new(client, secret)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierOverviewDto {
    pub id: String,
    pub name: String,
    pub can_be_used_as_default_for_client: bool,
    pub can_be_manually_assigned: bool,
    pub number_of_identities: i64,
}

async fn get_tiers(State(state): State<DevicesState>) -> ApiResult<Envelope<Vec<TierOverviewDto>>> {
    let tiers = state.service.list_tiers().await?;
    Ok(Envelope(tiers.into_iter().map(TierOverviewDto::from).collect()))
}

impl From<(Tier, i64)> for TierOverviewDto {
    fn from((tier, number_of_identities): (Tier, i64)) -> Self {
        Self {
            id: tier.id.into_string(),
            name: tier.name,
            can_be_used_as_default_for_client: tier.can_be_used_as_default_for_client,
            can_be_manually_assigned: tier.can_be_manually_assigned,
            number_of_identities,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CreateTierRequest {
    name: String,
}

async fn post_tier(
    State(state): State<DevicesState>,
    CiJson(request): CiJson<CreateTierRequest>,
) -> ApiResult<Created<TierRef>> {
    let tier = state.service.create_tier(&request.name).await?;
    Ok(Created::new(TierRef {
        id: tier.id.into_string(),
        name: tier.name,
    }))
}

async fn delete_tier(State(state): State<DevicesState>, Path(id): Path<String>) -> ApiResult<NoContent> {
    state.service.delete_tier(&id).await?;
    Ok(NoContent)
}

/// `{"tierId": …}`: the member must be present (upstream's `required`), null is an invalid ID.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateIdentityRequest {
    #[serde(deserialize_with = "nullable")]
    tier_id: Option<String>,
}

fn nullable<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
}

async fn put_identity(
    State(state): State<DevicesState>,
    Path(address): Path<String>,
    CiJson(request): CiJson<UpdateIdentityRequest>,
) -> ApiResult<NoContent> {
    let tier = request.tier_id.unwrap_or_default();
    state.service.change_tier(&address, &tier).await?;
    Ok(NoContent)
}

/// The Devices part of the Admin API's `IdentityDetails` (the binary adds the quotas).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDetailsDto {
    pub address: String,
    pub client_id: Option<String>,
    pub public_key: String,
    pub tier_id: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    pub identity_version: i64,
    pub number_of_devices: usize,
    pub devices: Vec<DeviceDto>,
}

impl From<(Identity, Vec<Device>)> for IdentityDetailsDto {
    fn from((identity, devices): (Identity, Vec<Device>)) -> Self {
        Self {
            address: identity.address.as_str().to_owned(),
            client_id: identity.client_id,
            public_key: encode_bytes(&identity.public_key),
            tier_id: identity.tier_id.into_string(),
            created_at: identity.created_at,
            identity_version: identity.identity_version,
            number_of_devices: devices.len(),
            devices: devices.into_iter().map(DeviceDto::from).collect(),
        }
    }
}

/// `GET /api/v1/Identities/{address}` without the quotas; 404 if the identity does not exist.
pub async fn identity_details(state: &DevicesState, address: &str) -> ApiResult<IdentityDetailsDto> {
    Ok(state.service.identity_with_devices(address).await?.into())
}
