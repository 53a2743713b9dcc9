//! Response shapes (spec exchange §2.1, §4.1).

use backbone_core::encoding::{date_format, encode_bytes};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::schemas;
use crate::domain::{AuditEntry, Relationship, Template};

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RelationshipTemplateDto)]
pub struct TemplateDto {
    id: String,
    created_by: String,
    created_by_device: String,
    max_number_of_allocations: Option<i64>,
    #[serde(with = "date_format::option")]
    expires_at: Option<DateTime<Utc>>,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    content: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    for_identity: Option<String>,
}

impl From<Template> for TemplateDto {
    fn from(t: Template) -> Self {
        Self {
            id: t.id.into_string(),
            created_by: t.created_by.to_string(),
            created_by_device: t.created_by_device.into_string(),
            max_number_of_allocations: t.max_number_of_allocations,
            expires_at: t.expires_at,
            content: encode_bytes(&t.content),
            created_at: t.created_at,
            for_identity: t.for_identity.map(|a| a.to_string()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    created_by: String,
    created_by_device: Option<String>,
    #[schema(schema_with = schemas::audit_reason)]
    reason: &'static str,
    #[schema(schema_with = schemas::optional_relationship_status)]
    old_status: Option<&'static str>,
    #[schema(schema_with = schemas::relationship_status)]
    new_status: &'static str,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(e: &AuditEntry) -> Self {
        Self {
            created_at: e.created_at,
            created_by: e.created_by.to_string(),
            created_by_device: e.created_by_device.as_ref().map(std::string::ToString::to_string),
            reason: e.reason.as_str(),
            old_status: e
                .old_status
                .map(backbone_core::status::RelationshipStatus::as_str),
            new_status: e.new_status.as_str(),
        }
    }
}

/// What every write endpoint returns.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipMetadataDto {
    id: String,
    relationship_template_id: Option<String>,
    from: String,
    to: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    #[schema(schema_with = schemas::relationship_status)]
    status: &'static str,
    audit_log: Vec<AuditEntryDto>,
}

impl From<&Relationship> for RelationshipMetadataDto {
    fn from(r: &Relationship) -> Self {
        Self {
            id: r.id.to_string(),
            relationship_template_id: r.template_id.as_ref().map(std::string::ToString::to_string),
            from: r.from.to_string(),
            to: r.to.to_string(),
            created_at: r.created_at,
            status: r.status.as_str(),
            audit_log: r.audit_log.iter().map(AuditEntryDto::from).collect(),
        }
    }
}

/// What reads return: the metadata plus both contents.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelationshipDto {
    #[serde(flatten)]
    metadata: RelationshipMetadataDto,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    creation_content: Option<String>,
    /// base64url without padding.
    #[schema(pattern = "^[A-Za-z0-9_-]*$")]
    creation_response_content: Option<String>,
}

impl From<Relationship> for RelationshipDto {
    fn from(r: Relationship) -> Self {
        Self {
            metadata: RelationshipMetadataDto::from(&r),
            creation_content: r.creation_content.as_deref().map(encode_bytes),
            creation_response_content: r.creation_response_content.as_deref().map(encode_bytes),
        }
    }
}
