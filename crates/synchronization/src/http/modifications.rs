//! Datawallet modifications as they arrive and as they are confirmed, shared by pushing
//! (W3) and finalizing sync runs (S5, S6).

use backbone_core::encoding::{date_format, decode_bytes};
use backbone_web::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schemas;
use crate::domain::{ModificationType, NewModification};
use crate::service::CreatedModifications;

/// A modification item (spec §10.5) as it arrives.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewModificationDto {
    /// By name (any case) or number.
    #[serde(rename = "type")]
    #[schema(schema_with = schemas::modification_type_input)]
    modification_type: Value,
    object_identifier: String,
    collection: String,
    payload_category: Option<String>,
    /// base64 or base64url.
    #[schema(pattern = r"^[A-Za-z0-9+/_-]*=*$")]
    encrypted_payload: Option<String>,
    datawallet_version: i64,
}

pub(super) fn to_new_modifications(items: Vec<NewModificationDto>) -> ApiResult<Vec<NewModification>> {
    items
        .into_iter()
        .map(|item| {
            let type_text = item
                .modification_type
                .as_str()
                .map_or_else(|| item.modification_type.to_string(), str::to_owned);
            let modification_type = ModificationType::parse(&type_text).ok_or_else(|| {
                ApiError::cannot_parse("'type': The value is not a valid modification type.")
            })?;
            let encrypted_payload = item
                .encrypted_payload
                .map(|p| {
                    decode_bytes(&p).ok_or_else(|| {
                        ApiError::cannot_parse("'encryptedPayload': The value is not valid base64.")
                    })
                })
                .transpose()?;
            Ok(NewModification {
                modification_type,
                object_identifier: item.object_identifier,
                collection: item.collection,
                payload_category: item.payload_category,
                encrypted_payload,
                datawallet_version: item.datawallet_version,
            })
        })
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreatedModificationDto {
    id: String,
    index: i64,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
}

pub(super) fn created_dtos(created: &CreatedModifications) -> Vec<CreatedModificationDto> {
    created
        .items
        .iter()
        .map(|(id, index)| CreatedModificationDto {
            id: id.to_string(),
            index: *index,
            created_at: created.created_at,
        })
        .collect()
}
