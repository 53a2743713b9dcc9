//! `/api/v2/Files` (spec §7.3–§7.8). Every endpoint needs a bearer token.
//!
//! Uploads and downloads stream: the multipart `content` part goes chunk by chunk into blob
//! storage, and a download is the blob's stream as the response body. The upload route has its
//! own body limit, derived from the file size limit, instead of the API-wide one.

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use backbone_blob::ByteStream;
use backbone_core::encoding::{date_format, encode_bytes};
use backbone_core::ids::FileId;
use backbone_core::Actor;
use backbone_web::error::INVALID_PROPERTY_VALUE;
use backbone_web::{ApiError, ApiResult};
use backbone_web::{Caller, CiJson, Created, Envelope, NoContent, PagedEnvelope, QueryParams, Routes};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::service::{Upload, UploadFields};
use crate::{File, FilesError, FilesService};

/// Room for the form's text fields next to the content (`encryptedProperties` alone may be
/// 1 MiB, which is about 1.4 MiB of base64).
pub const FORM_FIELDS_ALLOWANCE: usize = 2 * 1024 * 1024;
/// Upstream's limit for one form value (ASP.NET's `ValueLengthLimit`).
const MAX_FORM_VALUE_LENGTH: usize = 4 * 1024 * 1024;

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
    Routes::new()
        .route(
            "/api/v2/Files",
            post(post_file).layer(upload_limit).get(get_files),
        )
        .route("/api/v2/Files/{id}", get(get_file).delete(delete_file))
        .route("/api/v2/Files/{id}/Metadata", get(get_metadata))
        .route(
            "/api/v2/Files/{id}/RegenerateOwnershipToken",
            patch(patch_regenerate_ownership_token),
        )
        .route("/api/v2/Files/{id}/ClaimOwnership", patch(patch_claim_ownership))
        .route(
            "/api/v2/Files/{id}/ValidateOwnershipToken",
            post(post_validate_ownership_token),
        )
        .with_state(state)
}

fn parse_id(property: &str, id: &str) -> ApiResult<FileId> {
    FileId::parse(id).ok_or_else(|| ApiError::invalid_id(property))
}

/// The metadata DTO of §7.1 (deletion is physical, so the `deleted*` fields are always null;
/// `modified*` never differs from `created*`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileMetadataDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    #[serde(with = "date_format")]
    modified_at: DateTime<Utc>,
    modified_by: String,
    modified_by_device: String,
    deleted_at: Option<String>,
    deleted_by: Option<String>,
    deleted_by_device: Option<String>,
    owner: String,
    owner_signature: String,
    ownership_is_locked: bool,
    cipher_size: u64,
    cipher_hash: String,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    encrypted_properties: String,
}

impl From<File> for FileMetadataDto {
    fn from(file: File) -> Self {
        Self {
            id: file.id.into_string(),
            created_at: file.created_at,
            modified_at: file.created_at,
            modified_by: file.created_by.to_string(),
            created_by: file.created_by.to_string(),
            modified_by_device: file.created_by_device.to_string(),
            created_by_device: file.created_by_device.into_string(),
            deleted_at: None,
            deleted_by: None,
            deleted_by_device: None,
            owner: file.owner.to_string(),
            owner_signature: encode_bytes(&file.owner_signature),
            ownership_is_locked: file.ownership_is_locked,
            cipher_size: file.cipher_size,
            cipher_hash: encode_bytes(&file.cipher_hash),
            expires_at: file.expires_at,
            encrypted_properties: encode_bytes(&file.encrypted_properties),
        }
    }
}

/// Upstream's `CreateFileResponse` (§7.3): unlike the metadata DTO it has the ownership token
/// but no `modifiedByDevice`, `deletedByDevice`, `ownershipIsLocked` or `encryptedProperties`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedFileDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    #[serde(with = "date_format")]
    modified_at: DateTime<Utc>,
    modified_by: String,
    deleted_at: Option<String>,
    deleted_by: Option<String>,
    owner: String,
    owner_signature: String,
    ownership_token: String,
    cipher_size: u64,
    cipher_hash: String,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
}

impl From<File> for CreatedFileDto {
    fn from(file: File) -> Self {
        Self {
            id: file.id.into_string(),
            created_at: file.created_at,
            modified_at: file.created_at,
            modified_by: file.created_by.to_string(),
            created_by: file.created_by.to_string(),
            created_by_device: file.created_by_device.into_string(),
            deleted_at: None,
            deleted_by: None,
            owner: file.owner.to_string(),
            owner_signature: encode_bytes(&file.owner_signature),
            ownership_token: file.ownership_token,
            cipher_size: file.cipher_size,
            cipher_hash: encode_bytes(&file.cipher_hash),
            expires_at: file.expires_at,
        }
    }
}

/// §7.3: `multipart/form-data` with the file part `content` and the text fields `cipherHash`,
/// `ownerSignature`, `expiresAt`, `encryptedProperties` (`owner` is sent but ignored).
async fn post_file(
    State(state): State<FilesState>,
    caller: Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Created<CreatedFileDto>> {
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::cannot_parse(format!(
            "The request body must be multipart/form-data: {}",
            rejection.body_text()
        ))
    })?;
    let mut upload = state.service.begin_upload();
    let fields = match read_form(&mut multipart, &mut upload).await {
        Ok(fields) => fields,
        Err(error) => {
            upload.discard().await;
            return Err(error);
        }
    };
    let file = state.service.create(&Actor::from(caller), upload, fields).await?;
    Ok(Created::at(format!("/api/v2/Files/{}", file.id), file.into()))
}

/// Reads the whole form, streaming the first `content` file part into blob storage. Field
/// names are case-insensitive; a part counts as a file when it has a file name. Unknown parts
/// are skipped unread.
async fn read_form(multipart: &mut Multipart, upload: &mut Upload) -> ApiResult<UploadFields> {
    let mut fields = UploadFields::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        let is_file = field.file_name().is_some_and(|name| !name.is_empty());
        if is_file {
            if name == "content" && !upload.has_content() {
                let mut body: ByteStream<'_> = field.map_err(into_io_error).boxed();
                upload.store_content(&mut body).await?;
            }
            continue;
        }
        let slot = match name.as_str() {
            "cipherhash" => &mut fields.cipher_hash,
            "ownersignature" => &mut fields.owner_signature,
            "expiresat" => &mut fields.expires_at,
            "encryptedproperties" => &mut fields.encrypted_properties,
            _ => continue,
        };
        let value = read_text(&mut field).await?;
        // Empty values count as missing, as upstream's binder treats them; the first one wins.
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(fields)
}

async fn read_text(field: &mut Field<'_>) -> ApiResult<String> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_FORM_VALUE_LENGTH {
            return Err(ApiError::cannot_parse(format!(
                "'{name}': Form value length limit {MAX_FORM_VALUE_LENGTH} exceeded."
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::cannot_parse(format!("'{name}': The value is not valid UTF-8.")))?;
    backbone_web::text::check(&name, &text)?;
    Ok(text)
}

fn multipart_error(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::body_too_large()
    } else {
        ApiError::cannot_parse(format!(
            "The request body could not be read: {}",
            error.body_text()
        ))
    }
}

/// Keeps "over the body limit" recognisable behind the blob store's `io::Error`.
fn into_io_error(error: MultipartError) -> std::io::Error {
    let kind = if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        std::io::ErrorKind::FileTooLarge
    } else {
        std::io::ErrorKind::InvalidData
    };
    std::io::Error::new(kind, error.body_text())
}

/// §7.4: the raw content, streamed from blob storage.
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

/// §7.5 (the client asks for `/metadata`; routing is case-insensitive).
async fn get_metadata(
    State(state): State<FilesState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<FileMetadataDto>> {
    let id = parse_id("id", &id)?;
    Ok(Envelope(state.service.metadata(&id).await?.into()))
}

/// §7.6: `ids=…&ids=…` (optional).
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

/// §7.7
async fn delete_file(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<NoContent> {
    let id = parse_id("id", &id)?;
    state.service.delete(&Actor::from(caller), &id).await?;
    Ok(NoContent)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewOwnershipTokenDto {
    new_ownership_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnershipTokenRequest {
    /// Required member.
    ownership_token: String,
}

/// §7.8
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

/// §7.8
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ValidationDto {
    is_valid: bool,
}

/// §7.8
async fn post_validate_ownership_token(
    State(state): State<FilesState>,
    caller: Caller,
    Path(id): Path<String>,
    CiJson(request): CiJson<OwnershipTokenRequest>,
) -> ApiResult<Envelope<ValidationDto>> {
    let id = parse_id("fileId", &id)?;
    let is_valid = state
        .service
        .validate_ownership_token(&Actor::from(caller), &id, &request.ownership_token)
        .await?;
    Ok(Envelope(ValidationDto { is_valid }))
}
