//! `/api/v2/Relationships` (spec exchange §4).

use axum::extract::{Path, State};
use axum::routing::{get, put};
use backbone_core::ids::{RelationshipId, RelationshipTemplateId};
use backbone_core::quotas::MetricKey;
use backbone_core::{Actor, IdentityAddress};
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
        .route(
            "/api/v2/Relationships",
            get(get_relationships).post(post_relationship),
        )
        .route("/api/v2/Relationships/CanCreate", get(get_can_create))
        .route("/api/v2/Relationships/{id}", get(get_relationship))
        .route("/api/v2/Relationships/{id}/Accept", put(put_accept))
        .route("/api/v2/Relationships/{id}/Reject", put(put_reject))
        .route("/api/v2/Relationships/{id}/Revoke", put(put_revoke))
        .route("/api/v2/Relationships/{id}/Terminate", put(put_terminate))
        .route("/api/v2/Relationships/{id}/Reactivate", put(put_reactivate))
        .route(
            "/api/v2/Relationships/{id}/Reactivate/Accept",
            put(put_accept_reactivation),
        )
        .route(
            "/api/v2/Relationships/{id}/Reactivate/Reject",
            put(put_reject_reactivation),
        )
        .route(
            "/api/v2/Relationships/{id}/Reactivate/Revoke",
            put(put_revoke_reactivation),
        )
        .route("/api/v2/Relationships/{id}/Decompose", put(put_decompose))
}

fn parse_id(id: &str) -> ApiResult<RelationshipId> {
    RelationshipId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRelationshipRequest {
    relationship_template_id: String,
    creation_content: Option<String>,
}

/// §4.3
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanCreateDto {
    can_create: bool,
    code: Option<&'static str>,
}

/// §4.4
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

/// §4.5
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

/// §4.6
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerRequest {
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

async fn put_accept(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    let quota = Some(MetricKey::NumberOfRelationships);
    answer(&state, caller, &id, request, quota, Relationship::accept).await
}

async fn put_reject(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    answer(&state, caller, &id, request, None, Relationship::reject).await
}

async fn put_revoke(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<AnswerRequest>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    answer(&state, caller, &id, request, None, Relationship::revoke).await
}

async fn put_terminate(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::terminate).await
}

async fn put_reactivate(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::request_reactivation).await
}

async fn put_accept_reactivation(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::accept_reactivation).await
}

async fn put_reject_reactivation(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::reject_reactivation).await
}

async fn put_revoke_reactivation(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::revoke_reactivation).await
}

async fn put_decompose(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<RelationshipMetadataDto>> {
    apply(&state, caller, &id, Relationship::decompose).await
}
