//! `GET /odata/Identities` (admin-and-services §1.5): raw OData JSON, no envelope:
//! `{"@odata.context", "@odata.count" (with `$count=true`), "value": [...]}`; the tier only
//! with `$expand=Tier`, as upstream's navigation property. `GET /odata/$metadata` describes it.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use backbone_core::encoding::date_format;
use backbone_core::{ApiError, ApiResult};
use backbone_web::Routes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::admin::TierRef;
use super::odata::{parse_query, ODataError};
use super::DevicesState;
use crate::identity_list::IdentityOverview;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .route("/odata/Identities", get(get_identities))
        .route("/odata/$metadata", get(get_metadata))
}

/// The EDM of the entity set, as upstream's convention model builder describes it.
const METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Backbone.AdminApi.DTOs" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="IdentityOverviewDTO">
        <Key><PropertyRef Name="address" /></Key>
        <Property Name="address" Type="Edm.String" Nullable="false" />
        <Property Name="createdAt" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="lastLoginAt" Type="Edm.DateTimeOffset" />
        <Property Name="createdWithClient" Type="Edm.String" />
        <Property Name="datawalletVersion" Type="Edm.Int32" />
        <Property Name="identityVersion" Type="Edm.Byte" Nullable="false" />
        <Property Name="numberOfDevices" Type="Edm.Int32" />
        <NavigationProperty Name="tier" Type="Backbone.AdminApi.DTOs.TierDTO" Nullable="false" />
      </EntityType>
      <EntityType Name="TierDTO">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
        <Property Name="name" Type="Edm.String" Nullable="false" />
      </EntityType>
    </Schema>
    <Schema Namespace="Default" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityContainer Name="Container">
        <EntitySet Name="Identities" EntityType="Backbone.AdminApi.DTOs.IdentityOverviewDTO" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"#;

async fn get_metadata() -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], METADATA).into_response()
}

pub(super) fn schemas(schemas: &mut backbone_web::openapi::Schemas) {
    backbone_web::openapi::add::<ODataPage>(schemas);
}

impl From<ODataError> for ApiError {
    fn from(error: ODataError) -> Self {
        ApiError::cannot_parse(error.to_string())
    }
}

/// upstream's `IdentityOverviewDTO`, in its EDM property order.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityOverviewDto {
    pub address: String,
    #[serde(with = "date_format")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "date_format::option")]
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_with_client: Option<String>,
    pub datawallet_version: Option<i64>,
    pub identity_version: i64,
    pub number_of_devices: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierRef>,
}

impl IdentityOverviewDto {
    fn new(identity: IdentityOverview, expand_tier: bool) -> Self {
        Self {
            tier: expand_tier.then_some(TierRef {
                id: identity.tier_id,
                name: identity.tier_name,
            }),
            address: identity.address,
            created_at: identity.created_at,
            last_login_at: identity.last_login_at,
            created_with_client: identity.created_with_client,
            datawallet_version: identity.datawallet_version,
            identity_version: identity.identity_version,
            number_of_devices: identity.number_of_devices,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct ODataPage {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    value: Vec<IdentityOverviewDto>,
}

async fn get_identities(
    State(state): State<DevicesState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let query = parse_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let list = state.service.list_identities(&query.list).await?;
    let page = ODataPage {
        context: context_url(&headers, query.expand_tier),
        count: list.count,
        value: list
            .identities
            .into_iter()
            .map(|identity| IdentityOverviewDto::new(identity, query.expand_tier))
            .collect(),
    };
    // OData's media type, as upstream answers.
    let content_type = "application/json; odata.metadata=minimal; odata.streaming=true";
    Ok(([(header::CONTENT_TYPE, content_type)], Json(page)).into_response())
}

/// `http://<host>/odata/$metadata#Identities(tier())`: the absolute URL of the EDM document
/// (the scheme from a proxy's `X-Forwarded-Proto`, which upstream honours).
fn context_url(headers: &HeaderMap, expand_tier: bool) -> String {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST.as_str()).unwrap_or("localhost");
    let scheme = text("x-forwarded-proto").unwrap_or("http");
    let selection = if expand_tier { "(tier())" } else { "" };
    format!("{scheme}://{host}/odata/$metadata#Identities{selection}")
}
