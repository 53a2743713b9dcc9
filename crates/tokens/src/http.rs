//! `/api/v2/Tokens` (spec §6.2–§6.6). `POST /Tokens` and `GET /Tokens/{id}` allow anonymous
//! callers; everything else needs a bearer token.

use axum::extract::{Path, State};
use backbone_core::encoding::{date_format, decode_bytes, encode_bytes};
use backbone_core::ids::TokenId;
use backbone_core::Actor;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::openapi::{
    routes, BadRequest, Forbidden, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests,
    Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{
    Caller, CiJson, Created, Envelope, MaybeCaller, NoContent, PagedEnvelope, QueryParams, Routes,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::CreateToken;
use crate::{Token, TokensError, TokensService};

#[derive(Clone)]
pub struct TokensState {
    pub service: TokensService,
}

impl From<TokensError> for ApiError {
    fn from(error: TokensError) -> Self {
        match error {
            TokensError::Invalid(error) => error.into(),
            TokensError::NotFound(entity) => Self::not_found(entity),
            TokensError::Forbidden => Self::Forbidden,
            TokensError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            TokensError::Unexpected(error) => Self::Internal(error),
            TokensError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: TokensState) -> Routes {
    Routes::new()
        .routes(routes!(post_token, get_tokens))
        .routes(routes!(get_token, delete_token))
        .routes(routes!(post_update_content))
        .with_state(state)
}

fn parse_id(id: &str) -> ApiResult<TokenId> {
    TokenId::parse(id).ok_or_else(|| ApiError::invalid_id("id"))
}

/// Base64url or standard base64 (what the client sends) into bytes.
fn decode(property: &str, text: &str) -> ApiResult<Vec<u8>> {
    decode_bytes(text)
        .ok_or_else(|| ApiError::cannot_parse(format!("'{property}': The value is not valid base64.")))
}

/// Dates as `DateTime.Parse` reads them: ISO 8601 with or without offset (no offset = UTC),
/// or a plain date (midnight UTC).
fn parse_date(property: &str, text: &str) -> ApiResult<DateTime<Utc>> {
    let text = text.trim();
    let with_offset = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%z"))
        .map(|d| d.with_timezone(&Utc));
    let without_offset = || {
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(|naive| naive.and_utc())
    };
    with_offset.ok().or_else(without_offset).ok_or_else(|| {
        ApiError::cannot_parse(format!("'{property}': The value '{text}' is not a valid date."))
    })
}

/// Spec §6.1.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenDto {
    id: String,
    created_by: Option<String>,
    created_by_device: Option<String>,
    for_identity: Option<String>,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    /// base64
    content: Option<String>,
    is_password_protected: bool,
}

impl From<Token> for TokenDto {
    fn from(token: Token) -> Self {
        Self {
            is_password_protected: token.is_password_protected(),
            id: token.id.into_string(),
            created_by: token.created_by.map(|a| a.to_string()),
            created_by_device: token
                .created_by_device
                .map(backbone_core::ids::DeviceId::into_string),
            for_identity: token.for_identity.map(|a| a.to_string()),
            created_at: token.created_at,
            expires_at: token.expires_at,
            content: token.content.as_deref().map(encode_bytes),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateTokenRequest {
    /// base64; must be absent or null for an anonymous caller (who fills it later).
    #[schema(format = Byte)]
    content: Option<String>,
    /// Required member: absent or null is `inputCannotBeParsed`.
    #[schema(format = DateTime)]
    expires_at: String,
    /// An identity address: only that identity may read the token.
    for_identity: Option<String>,
    /// base64, 1 to 200 bytes.
    #[schema(format = Byte)]
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreatedTokenDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

/// Create a token (anonymous or authenticated)
///
/// Spec §6.2. An anonymous token is empty and expires within a week; an authenticated one
/// counts against the `NumberOfTokens` quota.
#[utoipa::path(
    post, path = "/api/v2/Tokens", tag = "Tokens",
    request_body = CreateTokenRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "The new token", body = ResultBody<CreatedTokenDto>,
            headers(("Location" = String, description = "The token's URL"))),
        BadRequest, TooManyRequests,
    ),
)]
async fn post_token(
    State(state): State<TokensState>,
    MaybeCaller(caller): MaybeCaller,
    CiJson(request): CiJson<CreateTokenRequest>,
) -> ApiResult<Created<CreatedTokenDto>> {
    let request = CreateToken {
        content: request.content.map(|c| decode("content", &c)).transpose()?,
        expires_at: parse_date("expiresAt", &request.expires_at)?,
        for_identity: request.for_identity,
        password: request.password.map(|p| decode("password", &p)).transpose()?,
    };
    let actor = caller.map(Actor::from);
    let token = state.service.create(actor.as_ref(), request).await?;
    Ok(Created::at(
        format!("/api/v2/Tokens/{}", token.id),
        CreatedTokenDto {
            id: token.id.into_string(),
            created_at: token.created_at,
        },
    ))
}

/// Get a token, allocating it (anonymous or authenticated)
///
/// Spec §6.3. A wrong password, an expired token or another identity's personalised token is
/// 404, as an unknown one.
#[utoipa::path(
    get, path = "/api/v2/Tokens/{id}", tag = "Tokens",
    params(
        ("id" = String, Path, pattern = r"^TOK[A-Za-z0-9]{1,17}$"),
        ("password" = Option<String>, Query, format = Byte,
            description = "The token's password (base64); empty counts as absent"),
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The token", body = ResultBody<TokenDto>),
        BadRequest, NotFound,
    ),
)]
async fn get_token(
    State(state): State<TokensState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Envelope<TokenDto>> {
    let password = query
        .get("password")
        .filter(|p| !p.is_empty())
        .map(|p| decode("password", p))
        .transpose()?;
    let id = parse_id(&id)?;
    let actor = caller.map(Actor::from);
    let token = state
        .service
        .get(actor.as_ref(), &id, password.as_deref())
        .await?;
    Ok(Envelope(token.into()))
}

/// List tokens the caller created or allocated, by ID (paged)
///
/// Spec §6.4: `ids=…&ids=…`, or the legacy `tokens.<i>.id=…` (passwords there are ignored).
/// Unknown IDs are left out.
#[utoipa::path(
    get, path = "/api/v2/Tokens", tag = "Tokens",
    params(
        ("ids" = Vec<String>, Query, style = Form, explode,
            description = "Token IDs (`TOK` and up to 17 letters or digits), at least one"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tokens found", body = PagedResultBody<TokenDto>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_tokens(
    State(state): State<TokensState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<TokenDto>> {
    let page = query.page(state.service.paging)?;
    let mut ids: Vec<&str> = query.all("ids");
    if ids.is_empty() {
        ids = legacy_ids(&query)?;
    }
    let ids = ids
        .into_iter()
        .map(|id| TokenId::parse(id).ok_or_else(|| ApiError::invalid_id("ids")))
        .collect::<ApiResult<Vec<_>>>()?;
    let tokens = state.service.list(&Actor::from(caller), &ids, page).await?;
    Ok(PagedEnvelope(tokens.map(TokenDto::from)))
}

/// `tokens.0.id`, `tokens.1.id`, … (or `tokens[0].id`) until an index has no keys.
fn legacy_ids(query: &QueryParams) -> ApiResult<Vec<&str>> {
    let mut ids = Vec::new();
    for index in 0.. {
        let key = |property: &str| {
            query
                .get(&format!("tokens.{index}.{property}"))
                .or_else(|| query.get(&format!("tokens[{index}].{property}")))
        };
        match (key("id"), key("password")) {
            (Some(id), _) => ids.push(id),
            (None, None) => break,
            (None, Some(_)) => {
                return Err(ApiError::cannot_parse(format!(
                    "'tokens[{index}].id': The id field is required."
                )))
            }
        }
    }
    Ok(ids)
}

/// Delete an own token
///
/// Spec §6.5.
#[utoipa::path(
    delete, path = "/api/v2/Tokens/{id}", tag = "Tokens",
    params(("id" = String, Path, pattern = r"^TOK[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests,
    ),
)]
async fn delete_token(
    State(state): State<TokensState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = parse_id(&id)?;
    state.service.delete(&Actor::from(caller), &id).await?;
    Ok(NoContent)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdateContentRequest {
    /// Required member (base64). The client also sends `id`, which is ignored.
    #[schema(format = Byte)]
    new_content: String,
    /// base64: the token's password, if it has one.
    #[schema(format = Byte)]
    password: Option<String>,
}

/// The token after `UpdateContent`: the DTO without its content.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UpdatedTokenDto {
    id: String,
    created_by: Option<String>,
    created_by_device: Option<String>,
    for_identity: Option<String>,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    is_password_protected: bool,
}

/// Fill an empty token
///
/// Spec §6.6 (POST, although upstream's feature file is called PATCH).
#[utoipa::path(
    post, path = "/api/v2/Tokens/{id}/UpdateContent", tag = "Tokens",
    params(("id" = String, Path, pattern = r"^TOK[A-Za-z0-9]{1,17}$")),
    request_body = UpdateContentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token, without its content", body = ResultBody<UpdatedTokenDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn post_update_content(
    State(state): State<TokensState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<UpdateContentRequest>,
) -> ApiResult<Envelope<UpdatedTokenDto>> {
    let new_content = decode("newContent", &request.new_content)?;
    let password = request.password.map(|p| decode("password", &p)).transpose()?;
    let id = parse_id(&id)?;
    let token = state
        .service
        .update_content(&Actor::from(caller), &id, new_content, password.as_deref())
        .await?;
    Ok(Envelope(UpdatedTokenDto {
        is_password_protected: token.is_password_protected(),
        id: token.id.into_string(),
        created_by: token.created_by.map(|a| a.to_string()),
        created_by_device: token
            .created_by_device
            .map(backbone_core::ids::DeviceId::into_string),
        for_identity: token.for_identity.map(|a| a.to_string()),
        created_at: token.created_at,
        expires_at: token.expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_date;
    use backbone_core::encoding::format_date;

    #[test]
    fn dates_are_parsed_leniently_and_converted_to_utc() {
        let date = |text: &str| format_date(&parse_date("expiresAt", text).unwrap());
        assert_eq!(date("2025-03-04T10:11:12.345Z"), "2025-03-04T10:11:12.345Z");
        assert_eq!(date("2025-03-04T10:11:12+02:00"), "2025-03-04T08:11:12.000Z");
        assert_eq!(
            date("2025-03-04T10:11:12.1234567+0100"),
            "2025-03-04T09:11:12.123Z"
        );
        assert_eq!(date("2025-03-04T10:11:12"), "2025-03-04T10:11:12.000Z");
        assert_eq!(date("2025-03-04 10:11"), "2025-03-04T10:11:00.000Z");
        assert_eq!(date("2025-12-17"), "2025-12-17T00:00:00.000Z");
        for bad in ["", "tomorrow", "2025-13-01", "2025-03-04T25:00:00Z"] {
            let error = parse_date("expiresAt", bad).unwrap_err();
            assert_eq!(error.code(), "error.platform.inputCannotBeParsed", "{bad}");
        }
    }
}
