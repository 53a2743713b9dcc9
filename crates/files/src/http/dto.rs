//! The JSON bodies of the file endpoints (spec §7.1, §7.3, §7.8).

use backbone_core::encoding::{date_format, encode_bytes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::File;

/// The metadata DTO of §7.1 (deletion is physical, so the `deleted*` fields are always null;
/// `modified*` never differs from `created*`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FileMetadataDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    #[serde(with = "date_format")]
    modified_at: DateTime<Utc>,
    modified_by: String,
    modified_by_device: String,
    /// Always null: deleted files are gone.
    #[schema(format = DateTime)]
    deleted_at: Option<String>,
    deleted_by: Option<String>,
    deleted_by_device: Option<String>,
    owner: String,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    owner_signature: String,
    ownership_is_locked: bool,
    cipher_size: u64,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    cipher_hash: String,
    #[serde(with = "date_format")]
    expires_at: DateTime<Utc>,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
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
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreatedFileDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: String,
    #[serde(with = "date_format")]
    modified_at: DateTime<Utc>,
    modified_by: String,
    /// Always null.
    #[schema(format = DateTime)]
    deleted_at: Option<String>,
    /// Always null.
    deleted_by: Option<String>,
    owner: String,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    owner_signature: String,
    #[schema(pattern = r"^[A-Za-z0-9!@#$%^&*()_+=<>?/{}|~\[\]-]{20}$")]
    ownership_token: String,
    cipher_size: u64,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
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

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewOwnershipTokenDto {
    #[schema(pattern = r"^[A-Za-z0-9!@#$%^&*()_+=<>?/{}|~\[\]-]{20}$")]
    pub(super) new_ownership_token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct OwnershipTokenRequest {
    /// 1 to 20 characters of the token alphabet.
    #[schema(pattern = r"^[A-Za-z0-9!@#$%^&*()_+=<>?/{}|~\[\]-]{1,20}$")]
    pub(super) ownership_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct OwnershipTokenValidationDto {
    pub(super) is_valid: bool,
}
