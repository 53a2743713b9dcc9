//! Admin API: identity creation by an operator and the deletion processes of an identity with
//! their audit logs (admin-and-services §1.3/1.4).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use backbone_core::encoding::{date_format, decode_bytes};
use backbone_web::openapi::{add, Schemas};
use backbone_web::{ApiError, ApiResult};
use backbone_web::{CiJson, Created, Envelope, Routes};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deletion::ProcessDto;
use super::dto::{lenient_integer, SignedChallengeDto};
use super::identities::CreatedIdentityDto;
use super::DevicesState;
use crate::admin_identities::AuditLogEntry;
use crate::service::CreateIdentity;

pub fn routes() -> Routes<DevicesState> {
    Routes::new()
        .route("/api/v1/Identities", post(post_identity))
        .route(
            "/api/v1/Identities/{address}/DeletionProcesses",
            get(get_deletion_processes),
        )
        // A literal segment wins over `{id}` in axum as in ASP.NET.
        .route(
            "/api/v1/Identities/{address}/DeletionProcesses/AuditLogs",
            get(get_audit_logs),
        )
        .route(
            "/api/v1/Identities/{address}/DeletionProcesses/{id}",
            get(get_deletion_process),
        )
}

pub(super) fn schemas(schemas: &mut Schemas) {
    add::<CreateIdentityRequest>(schemas);
    add::<CreatedIdentityDto>(schemas);
    add::<ProcessDto>(schemas);
    add::<ProcessDetailsDto>(schemas);
    add::<AuditLogEntryDto>(schemas);
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct CreateIdentityRequest {
    client_id: String,
    identity_public_key: String,
    device_password: String,
    device_communication_language: Option<String>,
    #[serde(deserialize_with = "lenient_integer")]
    identity_version: i64,
    signed_challenge: SignedChallengeDto,
}

async fn post_identity(
    State(state): State<DevicesState>,
    CiJson(request): CiJson<CreateIdentityRequest>,
) -> ApiResult<Created<CreatedIdentityDto>> {
    let identity_public_key = decode_bytes(&request.identity_public_key)
        .ok_or_else(|| ApiError::cannot_parse("'identityPublicKey': The value is not valid base64."))?;
    let (identity, device) = state
        .service
        .create_identity_as_operator(CreateIdentity {
            client_id: request.client_id,
            client_secret: String::new(),
            identity_public_key,
            device_password: request.device_password,
            identity_version: request.identity_version,
            signed_challenge: request.signed_challenge.into(),
            communication_language: request.device_communication_language,
        })
        .await?;
    Ok(Created::new(CreatedIdentityDto::new(&identity, device)))
}

/// `AuditLogEntry`: a missing status is written as `""`, as upstream does.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogEntryDto {
    id: String,
    #[serde(with = "date_format")]
    created_at: DateTime<Utc>,
    message_key: String,
    old_status: String,
    new_status: String,
    additional_data: BTreeMap<String, serde_json::Value>,
}

impl From<AuditLogEntry> for AuditLogEntryDto {
    fn from(entry: AuditLogEntry) -> Self {
        Self {
            id: entry.id.into_string(),
            created_at: entry.created_at,
            message_key: entry.message_key,
            old_status: entry.old_status.unwrap_or_default(),
            new_status: entry.new_status.unwrap_or_default(),
            additional_data: entry.additional_data.into_iter().collect(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ProcessDetailsDto {
    #[serde(flatten)]
    process: ProcessDto,
    audit_log: Vec<AuditLogEntryDto>,
}

async fn get_deletion_processes(
    State(state): State<DevicesState>,
    Path(address): Path<String>,
) -> ApiResult<Envelope<Vec<ProcessDto>>> {
    let processes = state.service.deletion_processes_as_support(&address).await?;
    Ok(Envelope(processes.into_iter().map(ProcessDto::from).collect()))
}

async fn get_deletion_process(
    State(state): State<DevicesState>,
    Path((address, id)): Path<(String, String)>,
) -> ApiResult<Envelope<ProcessDetailsDto>> {
    let (process, log) = state.service.deletion_process_as_support(&address, &id).await?;
    Ok(Envelope(ProcessDetailsDto {
        process: process.into(),
        audit_log: log.into_iter().map(AuditLogEntryDto::from).collect(),
    }))
}

async fn get_audit_logs(
    State(state): State<DevicesState>,
    Path(address): Path<String>,
) -> ApiResult<Envelope<Vec<AuditLogEntryDto>>> {
    let log = state.service.deletion_audit_logs(&address).await?;
    Ok(Envelope(log.into_iter().map(AuditLogEntryDto::from).collect()))
}
