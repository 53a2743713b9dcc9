//! `/api/v2/RelationshipTemplates` (spec exchange §2) and the public references (§3).

use axum::extract::{Path, State};
use backbone_core::encoding::{date_format, decode_bytes, parse_date};
use backbone_core::ids::RelationshipTemplateId;
use backbone_core::{Actor, IdentityAddress};
use backbone_web::openapi::{
    routes, BadRequest, Forbidden, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests,
    Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::TemplateDto;
use super::{PublicTemplateReference, RelationshipsState};
use crate::service::{validate_password, NewTemplate, TemplateQuery};

pub fn routes() -> Routes<RelationshipsState> {
    Routes::new()
        .routes(routes!(get_templates, post_template))
        .routes(routes!(get_template, delete_template))
        .routes(routes!(get_public_references))
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreateRelationshipTemplateRequest)]
struct CreateTemplateRequest {
    /// The encrypted content (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    content: String,
    /// Must lie in the future.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    max_number_of_allocations: Option<i64>,
    /// The only identity that may read the template.
    for_identity: Option<String>,
    /// 1 to 200 bytes (base64 or base64url).
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    password: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedRelationshipTemplateDto)]
struct CreatedTemplateDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

/// Create a relationship template
///
/// Spec exchange §2.2; counts for the `NumberOfRelationshipTemplates` quota.
#[utoipa::path(
    post, path = "/api/v2/RelationshipTemplates", tag = "RelationshipTemplates",
    security(("bearer" = [])),
    request_body = CreateTemplateRequest,
    responses(
        (status = 201, description = "The template was created", body = ResultBody<CreatedTemplateDto>,
            headers(("Location" = String, description = "The template's URL"))),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
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

/// Get a relationship template
///
/// Reading it as a non-owner allocates it (spec exchange §2.3); a password-protected template
/// needs its password. Unknown, expired, foreign (`forIdentity`) and wrongly protected
/// templates are all 404.
#[utoipa::path(
    get, path = "/api/v2/RelationshipTemplates/{id}", tag = "RelationshipTemplates",
    params(
        ("id" = String, Path, pattern = r"^RLT[A-Za-z0-9]{1,17}$"),
        ("password" = Option<String>, Query, pattern = r"^[A-Za-z0-9+/_-]*=*$",
            description = "1 to 200 bytes, base64 or base64url"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The template", body = ResultBody<TemplateDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
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

/// List relationship templates by ID
///
/// Only those the caller may see; the others are left out (spec exchange §2.4). The IDs come
/// as `templates.0.id`, `templates.0.password`, `templates.1.id`, … (read from index 0 until
/// one is missing), or as the legacy repeated `ids`; at least one is required.
#[utoipa::path(
    get, path = "/api/v2/RelationshipTemplates", tag = "RelationshipTemplates",
    params(
        ("templates.0.id" = Option<String>, Query, pattern = r"^RLT[A-Za-z0-9]{1,17}$",
            description = "The first template; further ones as `templates.1.id`, …"),
        ("templates.0.password" = Option<String>, Query, pattern = r"^[A-Za-z0-9+/_-]*=*$",
            description = "The first template's password (base64); `templates.1.password`, …"),
        ("ids" = Option<Vec<String>>, Query, style = Form, explode,
            description = "Template IDs without passwords, when no `templates.0.id` is given"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the visible templates", body = PagedResultBody<TemplateDto>),
        BadRequest, Unauthorized,
    ),
)]
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

/// Delete a relationship template
///
/// Only its creator may (spec exchange §2.5).
#[utoipa::path(
    delete, path = "/api/v2/RelationshipTemplates/{id}", tag = "RelationshipTemplates",
    params(("id" = String, Path, pattern = r"^RLT[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The template was deleted"),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests,
    ),
)]
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

/// Public relationship template references
///
/// Configured per OAuth client; other clients get an empty list (spec exchange §3).
#[utoipa::path(
    get, path = "/api/poc/PublicRelationshipTemplateReferences", tag = "RelationshipTemplates",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The references for the caller's client",
            body = ResultBody<Vec<PublicTemplateReference>>),
        BadRequest, Unauthorized,
    ),
)]
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
