//! `/api/v2/Files` (spec §7.3–§7.8). Every endpoint needs a bearer token.
//!
//! Uploads and downloads stream: the multipart `content` part goes chunk by chunk into blob
//! storage, and a download is the blob's stream as the response body. The upload route has its
//! own body limit, derived from the file size limit, instead of the API-wide one.

mod dto;
mod upload;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use backbone_core::ids::FileId;
use backbone_core::Actor;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::openapi::{
    routes, BadRequest, Forbidden, NotFound, PagedResultBody, Paging, ResultBody, TooManyRequests,
    Unauthorized,
};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};

use crate::{FilesError, FilesService};
use dto::{FileMetadataDto, NewOwnershipTokenDto, OwnershipTokenRequest, OwnershipTokenValidationDto};

/// Room for the form's text fields next to the content (`encryptedProperties` alone may be
/// 1 MiB, which is about 1.4 MiB of base64).
pub const FORM_FIELDS_ALLOWANCE: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct FilesState {
    pub service: FilesService,
    /// The API-wide body limit; uploads may be larger if the file size limit asks for it.
    pub max_request_body_bytes: usize,
}

impl FilesState {
    /// The body limit of `POST /Files`: room for the largest file plus its form fields, and
    /// never less than the API-wide limit (so the default matches upstream's 20 MiB).
    pub fn upload_body_limit(&self) -> usize {
        let file_limit = usize::try_from(self.service.max_file_size).unwrap_or(usize::MAX);
        file_limit
            .saturating_add(FORM_FIELDS_ALLOWANCE)
            .max(self.max_request_body_bytes)
    }
}

impl From<FilesError> for ApiError {
    fn from(error: FilesError) -> Self {
        match error {
            FilesError::Invalid(error) => error.into(),
            FilesError::NotFound(entity) => Self::not_found(entity),
            FilesError::Forbidden => Self::Forbidden,
            FilesError::QuotaExhausted(metrics) => Self::QuotaExhausted(metrics),
            FilesError::Unexpected(error) => Self::Internal(error),
            FilesError::Blob(error) => Self::internal(error),
            FilesError::Database(error) => Self::internal(error),
            rule => Self::validation(rule.code().unwrap_or(INVALID_PROPERTY_VALUE), rule.to_string()),
        }
    }
}

pub fn routes(state: FilesState) -> Routes {
    let upload_limit = DefaultBodyLimit::max(state.upload_body_limit());
    // The upload's own body limit applies to `POST` only, as before.
    let (schemas, paths, upload) = routes!(upload::post_file);
    Routes::new()
        .routes((schemas, paths, upload.layer(upload_limit)))
        .routes(routes!(get_files))
        .routes(routes!(get_file, delete_file))
        .routes(routes!(get_metadata))
        .routes(routes!(patch_regenerate_ownership_token))
        .routes(routes!(patch_claim_ownership))
        .routes(routes!(post_validate_ownership_token))
        .with_state(state)
}

fn parse_id(property: &str, id: &str) -> ApiResult<FileId> {
    FileId::parse(id).ok_or_else(|| ApiError::invalid_id(property))
}

/// The body of a download: the bytes as uploaded.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[expect(dead_code, reason = "describes the download for the OpenAPI document")]
struct FileContent(Vec<u8>);

/// Download a file's content
///
/// The encrypted bytes as uploaded, streamed from blob storage (spec §7.4). Any authenticated
/// identity may download a live file.
#[utoipa::path(
    get, path = "/api/v2/Files/{id}", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The content", content_type = "application/octet-stream",
            body = FileContent, headers(("Content-Length" = u64))),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_file(
    State(state): State<FilesState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id("id", &id)?;
    let (_, blob) = state.service.download(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, blob.size.to_string()),
        ],
        Body::from_stream(blob.content),
    )
        .into_response())
}

/// Get a file's metadata
///
/// Of any live file (spec §7.5; the client asks for `/metadata`, routing is case-insensitive).
#[utoipa::path(
    get, path = "/api/v2/Files/{id}/Metadata", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metadata", body = ResultBody<FileMetadataDto>),
        BadRequest, Unauthorized, NotFound,
    ),
)]
async fn get_metadata(
    State(state): State<FilesState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<FileMetadataDto>> {
    let id = parse_id("id", &id)?;
    Ok(Envelope(state.service.metadata(&id).await?.into()))
}

/// List the caller's files
///
/// Live files the caller created, all or those among `ids` (spec §7.6).
#[utoipa::path(
    get, path = "/api/v2/Files", tag = "Files",
    params(
        ("ids" = Option<Vec<String>>, Query, style = Form, explode,
            description = "File IDs (`FIL` and up to 17 letters or digits); all files when absent"),
        Paging,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of file metadata", body = PagedResultBody<FileMetadataDto>),
        BadRequest, Unauthorized,
    ),
)]
async fn get_files(
    State(state): State<FilesState>,
    caller: Caller,
    query: QueryParams,
) -> ApiResult<PagedEnvelope<FileMetadataDto>> {
    let page = query.page(state.service.paging)?;
    let ids = query
        .all("ids")
        .into_iter()
        .map(|id| parse_id("ids", id))
        .collect::<ApiResult<Vec<_>>>()?;
    let files = state.service.list(&Actor::from(caller), &ids, page).await?;
    Ok(PagedEnvelope(files.map(FileMetadataDto::from)))
}

/// Delete a file
///
/// Only its creator may (spec §7.7).
#[utoipa::path(
    delete, path = "/api/v2/Files/{id}", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The file was deleted"),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests,
    ),
)]
async fn delete_file(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = parse_id("id", &id)?;
    state.service.delete(&Actor::from(caller), &id).await?;
    Ok(NoContent)
}

/// Replace a file's ownership token
///
/// Only the owner may; it also lifts a lock (spec §7.8).
#[utoipa::path(
    patch, path = "/api/v2/Files/{id}/RegenerateOwnershipToken", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new token", body = ResultBody<NewOwnershipTokenDto>),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests,
    ),
)]
async fn patch_regenerate_ownership_token(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<NewOwnershipTokenDto>> {
    let id = parse_id("fileId", &id)?;
    let new_ownership_token = state
        .service
        .regenerate_ownership_token(&Actor::from(caller), &id)
        .await?;
    Ok(Envelope(NewOwnershipTokenDto { new_ownership_token }))
}

/// Claim the ownership of a file
///
/// Whoever presents the right token becomes the owner; a wrong token locks the file and is
/// 403, as is a locked file (spec §7.8).
#[utoipa::path(
    patch, path = "/api/v2/Files/{id}/ClaimOwnership", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = OwnershipTokenRequest,
    responses(
        (status = 200, description = "The caller owns the file now; its new token", body = ResultBody<NewOwnershipTokenDto>),
        BadRequest, Unauthorized, Forbidden, NotFound, TooManyRequests,
    ),
)]
async fn patch_claim_ownership(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<OwnershipTokenRequest>,
) -> ApiResult<Envelope<NewOwnershipTokenDto>> {
    let id = parse_id("fileId", &id)?;
    let new_ownership_token = state
        .service
        .claim_ownership(&Actor::from(caller), &id, &request.ownership_token)
        .await?;
    Ok(Envelope(NewOwnershipTokenDto { new_ownership_token }))
}

/// Check a file's ownership token
///
/// A wrong guess by anyone but the owner locks the file (spec §7.8).
#[utoipa::path(
    post, path = "/api/v2/Files/{id}/ValidateOwnershipToken", tag = "Files",
    params(("id" = String, Path, pattern = r"^FIL[A-Za-z0-9]{1,17}$")),
    security(("bearer" = [])),
    request_body = OwnershipTokenRequest,
    responses(
        (status = 200, description = "Whether the token is the file's", body = ResultBody<OwnershipTokenValidationDto>),
        BadRequest, Unauthorized, NotFound, TooManyRequests,
    ),
)]
async fn post_validate_ownership_token(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<OwnershipTokenRequest>,
) -> ApiResult<Envelope<OwnershipTokenValidationDto>> {
    let id = parse_id("fileId", &id)?;
    let is_valid = state
        .service
        .validate_ownership_token(&Actor::from(caller), &id, &request.ownership_token)
        .await?;
    Ok(Envelope(OwnershipTokenValidationDto { is_valid }))
}
