//! `/api/v2/RelationshipTemplates` (spec exchange §2) and the public references (§3).

use axum::extract::{Path, State};
use axum::routing::get;
use backbone_core::encoding::{date_format, decode_bytes, parse_date};
use backbone_core::ids::RelationshipTemplateId;
use backbone_core::{Actor, IdentityAddress};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::TemplateDto;
use super::{PublicTemplateReference, RelationshipsState};
use crate::service::{validate_password, NewTemplate, TemplateQuery};

pub fn routes() -> Routes<RelationshipsState> {
    Routes::new()
        .route(
            "/api/v2/RelationshipTemplates",
            get(get_templates).post(post_template),
        )
        .route(
            "/api/v2/RelationshipTemplates/{id}",
            get(get_template).delete(delete_template),
        )
        .route(
            "/api/poc/PublicRelationshipTemplateReferences",
            get(get_public_references),
        )
}

/// Bytes from a JSON body: base64url or standard base64.
pub(super) fn bytes(property: &str, text: &str) -> ApiResult<Vec<u8>> {
    decode_bytes(text)
        .ok_or_else(|| ApiError::cannot_parse(format!("'{property}': The value is not valid base64.")))
}

/// A password from the query string (standard base64, URL-decoded already).
fn query_password(text: Option<&str>) -> ApiResult<Option<Vec<u8>>> {
    let password = text.map(|t| bytes("password", t)).transpose()?;
    validate_password(password.as_deref())?;
    Ok(password)
}

fn parse_template_id(id: &str) -> ApiResult<RelationshipTemplateId> {
    RelationshipTemplateId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTemplateRequest {
    content: String,
    expires_at: Option<String>,
    max_number_of_allocations: Option<i64>,
    for_identity: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedTemplateDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

/// §2.2
async fn post_template(
    State(state): State<RelationshipsState>,
    caller: Caller,
    CiJson(request): CiJson<CreateTemplateRequest>,
) -> ApiResult<Created<CreatedTemplateDto>> {
    let new = NewTemplate {
        content: bytes("content", &request.content)?,
        expires_at: request
            .expires_at
            .map(|e| {
                parse_date(&e)
                    .ok_or_else(|| ApiError::cannot_parse("'expiresAt': The value is not a valid date."))
            })
            .transpose()?,
        max_number_of_allocations: request.max_number_of_allocations,
        for_identity: request
            .for_identity
            .map(|a| IdentityAddress::parse(&a).ok_or_else(|| ApiError::invalid_id("forIdentity")))
            .transpose()?,
        password: request.password.map(|p| bytes("password", &p)).transpose()?,
    };
    let template = state.service.create_template(&Actor::from(caller), new).await?;
    let location = format!("/api/v2/RelationshipTemplates/{}", template.id);
    Ok(Created::at(
        location,
        CreatedTemplateDto {
            id: template.id.into_string(),
            created_at: template.created_at,
        },
    ))
}

/// §2.3: reading as a non-owner allocates.
async fn get_template(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Envelope<TemplateDto>> {
    let id = parse_template_id(&id)?;
    let password = query_password(query.get("password"))?;
    let template = state
        .service
        .get_template(&Actor::from(caller), &id, password.as_deref())
        .await?;
    Ok(Envelope(template.into()))
}

/// §2.4: `templates.<i>.id` / `templates.<i>.password`, or the legacy repeated `ids`.
async fn get_templates(
    State(state): State<RelationshipsState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<TemplateDto>> {
    let page = query.page(state.service.paging)?;
    let mut queries = Vec::new();
    for index in 0.. {
        let Some(id) = query.get(&format!("templates.{index}.id")) else {
            break;
        };
        let password = query_password(query.get(&format!("templates.{index}.password")))?;
        queries.push((id.to_owned(), password));
    }
    if queries.is_empty() {
        queries = query
            .all("ids")
            .into_iter()
            .map(|id| (id.to_owned(), None))
            .collect();
    }
    if queries.is_empty() {
        return Err(ApiError::invalid_property_value(
            "'queryItems' must not be empty.",
        ));
    }
    let queries = queries
        .into_iter()
        .map(|(id, password)| {
            Ok(TemplateQuery {
                id: parse_template_id(&id)?,
                password,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let templates = state
        .service
        .list_templates(&caller.address, &queries, page)
        .await?;
    Ok(PagedEnvelope(templates.map(TemplateDto::from)))
}

/// §2.5
async fn delete_template(
    State(state): State<RelationshipsState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    state
        .service
        .delete_template(&caller.address, &parse_template_id(&id)?)
        .await?;
    Ok(NoContent)
}

/// §3: configured per OAuth client; unknown clients get an empty list.
async fn get_public_references(
    State(state): State<RelationshipsState>,
    caller: Caller,
) -> Envelope<Vec<PublicTemplateReference>> {
    Envelope(
        state
            .public_references
            .get(&caller.client_id)
            .cloned()
            .unwrap_or_default(),
    )
}
