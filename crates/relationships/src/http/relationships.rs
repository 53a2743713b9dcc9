//! `/api/v2/Relationships` (spec exchange §4).

use axum::extract::{Path, State};
use backbone_core::ids::{RelationshipId, RelationshipTemplateId};
use backbone_core::quotas::MetricKey;
use backbone_core::{Actor, IdentityAddress};
use backbone_web::openapi::{
    routes, BadRequest, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests, Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::{RelationshipDto, RelationshipMetadataDto};
use super::templates::bytes;
use super::RelationshipsState;
use crate::domain::relationship::Transition;
use crate::domain::Relationship;

pub fn routes() -> Routes<RelationshipsState> {
    Routes::new()
        .routes(routes!(get_relationships, post_relationship))
        .routes(routes!(get_can_create))
        .routes(routes!(get_relationship))
        .routes(routes!(put_accept))
        .routes(routes!(put_reject))
        .routes(routes!(put_revoke))
        .routes(routes!(put_terminate))
        .routes(routes!(put_reactivate))
        .routes(routes!(put_accept_reactivation))
        .routes(routes!(put_reject_reactivation))
        .routes(routes!(put_revoke_reactivation))
        .routes(routes!(put_decompose))
}

fn parse_id(id: &str) -> ApiResult<RelationshipId> {
    RelationshipId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateRelationshipRequest {
    #[schema(pattern = r"^RLT[A-Za-z0-9]{1,17}$")]
    relationship_template_id: String,
    /// The encrypted creation content (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    creation_content: Option<String>,
}

/// Request a relationship
///
/// From a template the caller may read (which allocates it), to its creator (spec exchange
/// §4.3); counts for the `NumberOfRelationships` quota.
#[utoipa::path(
    post, path = "/api/v2/Relationships", tag = "Relationships",
    security(("bearer" = [])),
    request_body = CreateRelationshipRequest,
    responses(
        (status = 201, description = "The relationship was requested", body = ResultBody<RelationshipMetadataDto>,
            headers(("Location" = String, description = "Always empty"))),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn post_relationship(
    State(state): State<RelationshipsState>,
    caller: Caller,
    CiJson(request): CiJson<CreateRelationshipRequest>,
) -> ApiResult<Created<RelationshipMetadataDto>> {
    let template_id = RelationshipTemplateId::parse(&request.relationship_template_id)
        .ok_or_else(|| ApiError::invalid_id("relationshipTemplateId"))?;
    let content = request
        .creation_content
        .map(|c| bytes("creationContent", &c))
        .transpose()?;
    let relationship = state
        .service
        .create_relationship(&Actor::from(caller), &template_id, content)
        .await?;
    Ok(Created::new(RelationshipMetadataDto::from(&relationship)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CanCreateRelationshipDto)]
struct CanCreateDto {
    can_create: bool,
    code: Option<&'static str>,
}

/// Whether a relationship to a peer may be requested
///
/// Spec exchange §4.4; `code` names the rule that forbids it.
#[utoipa::path(
    get, path = "/api/v2/Relationships/CanCreate", tag = "Relationships",
    params(("peer" = String, Query, description = "The peer's identity address")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The answer", body = ResultBody<CanCreateDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_can_create(
    State(state): State<RelationshipsState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<Envelope<CanCreateDto>> {
    let peer = query
        .get("peer")
        .ok_or_else(|| ApiError::cannot_parse("'peer': The peer field is required."))?;
    let peer = IdentityAddress::parse(peer).ok_or_else(|| ApiError::invalid_id("peer"))?;
    let answer = state.service.can_create(&caller.address, &peer).await?;
    Ok(Envelope(CanCreateDto {
        can_create: answer.can_create,
        code: answer.code,
    }))
}

/// Get a relationship
///
/// With both contents (spec exchange §4.5); once the caller decomposed it, 400.
#[utoipa::path(
    get, path = "/api/v2/Relationships/{id}", tag = "Relationships",
    params(("id" = String, Path, pattern = r"^REL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The relationship", body = ResultBody<RelationshipDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_relationship(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipDto>> {
    Ok(Envelope(
        state
            .service
            .relationship(&caller.address, &parse_id(&id)?)
            .await?
            .into(),
    ))
}

/// List relationships by ID
///
/// The caller's relationships among `ids` (spec exchange §4.6); at least one ID is required.
#[utoipa::path(
    get, path = "/api/v2/Relationships", tag = "Relationships",
    params(
        ("ids" = Vec<String>, Query, style = Form, explode,
            description = "Relationship IDs (`REL` and up to 17 letters or digits)"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of relationships", body = PagedResultBody<RelationshipDto>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_relationships(
    State(state): State<RelationshipsState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<RelationshipDto>> {
    let page = query.page(state.service.paging)?;
    let ids = query.all("ids");
    if ids.is_empty() {
        return Err(ApiError::invalid_property_value("'Ids' must not be empty."));
    }
    let ids = ids
        .into_iter()
        .map(|id| RelationshipId::parse(id).ok_or_else(|| ApiError::invalid_id("ids")))
        .collect::<ApiResult<Vec<_>>>()?;
    let relationships = state
        .service
        .list_relationships(&caller.address, &ids, page)
        .await?;
    Ok(PagedEnvelope(relationships.map(RelationshipDto::from)))
}

/// The body of accept/reject/revoke; it must be present, its member is optional.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RelationshipAnswerRequest)]
struct AnswerRequest {
    /// The encrypted response content (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    creation_response_content: Option<String>,
}

type Change = fn(&mut Relationship, &Actor, DateTime<Utc>) -> Transition;
type Answer = fn(&mut Relationship, &Actor, Vec<u8>, DateTime<Utc>) -> Transition;

async fn apply(
    state: &RelationshipsState,
    caller: Caller,
    id: &str,
    change: Change,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    let id = parse_id(id)?;
    let relationship = state
        .service
        .transition(&Actor::from(caller), &id, None, change)
        .await?;
    Ok(Envelope(RelationshipMetadataDto::from(&relationship)))
}

async fn answer(
    state: &RelationshipsState,
    caller: Caller,
    id: &str,
    request: AnswerRequest,
    quota: Option<MetricKey>,
    change: Answer,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    let id = parse_id(id)?;
    // Upstream stores an absent response as empty bytes.
    let response = request
        .creation_response_content
        .map(|c| bytes("creationResponseContent", &c))
        .transpose()?;
    let response = response.unwrap_or_default();
    let relationship = state
        .service
        .transition(&Actor::from(caller), &id, quota, move |r, a, now| {
            change(r, a, response, now)
        })
        .await?;
    Ok(Envelope(RelationshipMetadataDto::from(&relationship)))
}

/// Accept a relationship request
///
/// The addressee accepts; counts for the `NumberOfRelationships` quota. A rule of the state machine
/// that forbids it is 400 (spec exchange §4.7).
#[utoipa::path(
    put, path = "/api/v2/Relationships/{id}/Accept", tag = "Relationships",
    params(("id" = String, Path, pattern = r"^REL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = AnswerRequest,
    responses(
        (status = 200, description = "The relationship after the change", body = ResultBody<RelationshipMetadataDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_accept(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    let quota = Some(MetricKey::NumberOfRelationships);
    answer(&state, caller, &id, request, quota, Relationship::accept).await
}

/// Reject a relationship request
///
/// The addressee rejects. A rule of the state machine that forbids it is 400 (spec exchange §4.7).
#[utoipa::path(
    put, path = "/api/v2/Relationships/{id}/Reject", tag = "Relationships",
    params(("id" = String, Path, pattern = r"^REL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = AnswerRequest,
    responses(
        (status = 200, description = "The relationship after the change", body = ResultBody<RelationshipMetadataDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_reject(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    answer(&state, caller, &id, request, None, Relationship::reject).await
}

/// Revoke a relationship request
///
/// The requester takes its request back. A rule of the state machine that forbids it is 400 (spec
/// exchange §4.7).
#[utoipa::path(
    put, path = "/api/v2/Relationships/{id}/Revoke", tag = "Relationships",
    params(("id" = String, Path, pattern = r"^REL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = AnswerRequest,
    responses(
        (status = 200, description = "The relationship after the change", body = ResultBody<RelationshipMetadataDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn put_revoke(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    answer(&state, caller, &id, request, None, Relationship::revoke).await
}

/// The six transitions without a body: a PUT on the relationship that applies one change of the
/// state machine and answers the relationship's metadata. One macro, so that their handlers and
/// documented contracts cannot drift apart; a rule that forbids the change is 400.
macro_rules! transition {
    ($(#[doc = $doc:tt])* $name:ident, $path:tt, $change:expr) => {
        $(#[doc = $doc])*
        #[utoipa::path(
            put, path = $path, tag = "Relationships",
            params(("id" = String, Path, pattern = r"^REL[A-Za-z0-9]{1,17}$")),
            security(("bearer" = [])),
            responses(
                (status = 200, description = "The relationship after the change", body = ResultBody<RelationshipMetadataDto>),
                BadRequest, Unauthorized, NotFound, TooManyRequests,
            ),
        )]
        async fn $name(
            State(state): State<RelationshipsState>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> ApiResult<Envelope<RelationshipMetadataDto>> {
            apply(&state, caller, &id, $change).await
        }
    };
}

transition!(
    /// Terminate a relationship
    ///
    /// Ends an active relationship; it can be reactivated or decomposed. A rule of the state machine
    /// that forbids it is 400 (spec exchange §4.8).
    put_terminate,
    "/api/v2/Relationships/{id}/Terminate",
    Relationship::terminate
);

transition!(
    /// Request the reactivation of a relationship
    ///
    /// Of a terminated relationship. A rule of the state machine that forbids it is 400 (spec exchange
    /// §4.9).
    put_reactivate,
    "/api/v2/Relationships/{id}/Reactivate",
    Relationship::request_reactivation
);

transition!(
    /// Accept the peer's reactivation request
    ///
    /// The relationship becomes active again. A rule of the state machine that forbids it is 400 (spec
    /// exchange §4.9).
    put_accept_reactivation,
    "/api/v2/Relationships/{id}/Reactivate/Accept",
    Relationship::accept_reactivation
);

transition!(
    /// Reject the peer's reactivation request
    ///
    /// The relationship stays terminated. A rule of the state machine that forbids it is 400 (spec
    /// exchange §4.9).
    put_reject_reactivation,
    "/api/v2/Relationships/{id}/Reactivate/Reject",
    Relationship::reject_reactivation
);

transition!(
    /// Revoke the own reactivation request
    ///
    /// The relationship stays terminated. A rule of the state machine that forbids it is 400 (spec
    /// exchange §4.9).
    put_revoke_reactivation,
    "/api/v2/Relationships/{id}/Reactivate/Revoke",
    Relationship::revoke_reactivation
);

transition!(
    /// Decompose a relationship
    ///
    /// Of a terminated relationship; the caller no longer sees it or its messages. A rule of the state
    /// machine that forbids it is 400 (spec exchange §4.10).
    put_decompose,
    "/api/v2/Relationships/{id}/Decompose",
    Relationship::decompose
);
