//! `POST /api/v2/Files`: the multipart form, read part by part with the content streamed.

use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use backbone_blob::ByteStream;
use backbone_core::Actor;
use backbone_web::openapi::{BadRequest, ResultBody, TooManyRequests, Unauthorized};
use backbone_web::{ApiError, ApiResult, Caller, Created};
use futures::{StreamExt, TryStreamExt};

use super::dto::CreatedFileDto;
use super::FilesState;
use crate::service::{Upload, UploadFields};

/// Upstream's limit for one form value (ASP.NET's `ValueLengthLimit`).
const MAX_FORM_VALUE_LENGTH: usize = 4 * 1024 * 1024;

// For the document only: `read_form` reads the parts one by one (case-insensitive names,
// `content` streamed); a test checks that this schema names the parts it reads.
/// The upload form. Every part is required; an empty text part counts as missing, and the
/// first of repeated parts wins. Part names are case-insensitive.
#[derive(utoipa::ToSchema)]
#[schema(as = UploadFileForm)]
#[schema(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes the form for the OpenAPI document")]
struct UploadForm {
    /// The encrypted content, 1 byte up to the configured file size limit; a file part (with a
    /// file name), or it counts as missing.
    #[schema(value_type = String, format = Binary)]
    content: Vec<u8>,
    /// base64 or base64url.
    #[schema(min_length = 1, pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    cipher_hash: String,
    /// base64 or base64url.
    #[schema(min_length = 1, pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    owner_signature: String,
    /// Must lie in the future.
    #[schema(format = DateTime)]
    expires_at: String,
    /// base64 or base64url.
    #[schema(min_length = 1, pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    encrypted_properties: String,
}

/// Upload a file
///
/// `multipart/form-data` with the file part `content` and the text parts `cipherHash`,
/// `ownerSignature`, `expiresAt`, `encryptedProperties` (`owner` is sent by the client but
/// ignored); spec §7.3. Counts for the `NumberOfFiles` and `UsedFileStorageSpace` quotas.
#[utoipa::path(
    post, path = "/api/v2/Files", tag = "Files",
    security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The file was stored", body = ResultBody<CreatedFileDto>,
            headers(("Location" = String, description = "The file's URL"))),
        BadRequest, Unauthorized, TooManyRequests,
    ),
)]
pub(super) async fn post_file(
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
        let Some(slot) = text_slot(&mut fields, &name) else {
            continue;
        };
        let value = read_text(&mut field).await?;
        // Empty values count as missing, as upstream's binder treats them; the first one wins.
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(fields)
}

/// Where the text part of a (lower-cased) name goes; `None` for parts that are skipped.
fn text_slot<'a>(fields: &'a mut UploadFields, name: &str) -> Option<&'a mut Option<String>> {
    Some(match name {
        "cipherhash" => &mut fields.cipher_hash,
        "ownersignature" => &mut fields.owner_signature,
        "expiresat" => &mut fields.expires_at,
        "encryptedproperties" => &mut fields.encrypted_properties,
        _ => return None,
    })
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

#[expect(
    clippy::needless_pass_by_value,
    reason = "used as map_err(..), which hands the error over by value"
)]
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
#[expect(
    clippy::needless_pass_by_value,
    reason = "used as map_err(..), which hands the error over by value"
)]
fn into_io_error(error: MultipartError) -> std::io::Error {
    let kind = if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        std::io::ErrorKind::FileTooLarge
    } else {
        std::io::ErrorKind::InvalidData
    };
    std::io::Error::new(kind, error.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_schema_names_exactly_the_parts_the_handler_reads() {
        let schema = serde_json::to_value(<UploadForm as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        assert_eq!(schema["required"].as_array().unwrap().len(), names.len());
        let mut fields = UploadFields::default();
        for name in names.iter().filter(|name| *name != "content") {
            *text_slot(&mut fields, name).unwrap_or_else(|| panic!("{name} is not read")) =
                Some(name.clone());
        }
        assert!(names.contains(&"content".to_owned()));
        let UploadFields {
            cipher_hash,
            owner_signature,
            expires_at,
            encrypted_properties,
        } = fields;
        for field in [cipher_hash, owner_signature, expires_at, encrypted_properties] {
            assert!(
                field.is_some(),
                "a text part the handler reads is not in the schema"
            );
        }
    }
}
