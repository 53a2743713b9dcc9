//! Operator use cases on identities (admin-and-services §1.3/1.4): creating one for a client
//! with a signed challenge, and reading deletion processes with their audit log. The audit log
//! is found by the hash of the address, so it can still be read after the deletion.

use backbone_core::encoding::from_millis;
use backbone_core::ids::{IdentityDeletionAuditLogEntryId, IdentityDeletionProcessId};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, Row};
use chrono::{DateTime, Utc};

use crate::administration::AdministrationError;
use crate::deletion::{audit, DeletionProcess, DeletionStore};
use crate::domain::{Device, Identity};
use crate::service::CreateIdentity;
use crate::{DevicesError, DevicesService};

/// One entry of a deletion audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditLogEntry {
    pub id: IdentityDeletionAuditLogEntryId,
    pub created_at: DateTime<Utc>,
    pub message_key: String,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub additional_data: serde_json::Map<String, serde_json::Value>,
}

impl DevicesService {
    /// `POST /api/v1/Identities`: like I1, but the operator names the client without its
    /// secret; the client's identity limit still applies.
    pub async fn create_identity_as_operator(
        &self,
        request: CreateIdentity,
    ) -> Result<(Identity, Device), AdministrationError> {
        let client = self.store.find_client(&request.client_id).await?;
        let client = client.ok_or(AdministrationError::NotFound("OAuthClient"))?;
        Ok(self.create_identity_for(client, request).await?)
    }

    /// `GET /api/v1/Identities/{address}/DeletionProcesses`: newest first; 404 for an
    /// identity that does not exist (any more).
    pub async fn deletion_processes_as_support(
        &self,
        address: &str,
    ) -> Result<Vec<DeletionProcess>, AdministrationError> {
        let address = self.existing_identity(address).await?;
        let mut processes = self.deletion.processes(&address).await?;
        processes.reverse();
        Ok(processes)
    }

    /// `GET /api/v1/Identities/{address}/DeletionProcesses/{id}` with the process's audit log.
    pub async fn deletion_process_as_support(
        &self,
        address: &str,
        id: &str,
    ) -> Result<(DeletionProcess, Vec<AuditLogEntry>), AdministrationError> {
        let not_found = AdministrationError::NotFound("IdentityDeletionProcess");
        let address = self.existing_identity(address).await?;
        let id = IdentityDeletionProcessId::parse(id).ok_or(not_found)?;
        let mut conn = self.deletion.db().pool().acquire().await?;
        let process = self.deletion.find_process(&mut conn, &address, &id).await?;
        drop(conn);
        let process = process.ok_or(AdministrationError::NotFound("IdentityDeletionProcess"))?;
        let log = self.deletion.audit_entries(AuditFilter::Process(&id)).await?;
        Ok((process, log))
    }

    /// `GET /api/v1/Identities/{address}/DeletionProcesses/AuditLogs`: every entry of the
    /// address, oldest first, whether the identity still exists or not.
    pub async fn deletion_audit_logs(
        &self,
        address: &str,
    ) -> Result<Vec<AuditLogEntry>, AdministrationError> {
        let address = address.trim().to_owned();
        // PBKDF2 with 100 000 iterations: off the async threads.
        let hash = tokio::task::spawn_blocking(move || audit::hash(&address))
            .await
            .map_err(|error| DevicesError::Unexpected(error.into()))?;
        Ok(self
            .deletion
            .audit_entries(AuditFilter::AddressHash(&hash))
            .await?)
    }

    async fn existing_identity(&self, address: &str) -> Result<IdentityAddress, AdministrationError> {
        let not_found = || AdministrationError::NotFound("Identity");
        let address = IdentityAddress::parse(address).ok_or_else(not_found)?;
        match self.store.find_identity(&address).await? {
            Some(_) => Ok(address),
            None => Err(not_found()),
        }
    }
}

enum AuditFilter<'a> {
    Process(&'a IdentityDeletionProcessId),
    AddressHash(&'a str),
}

impl DeletionStore {
    async fn audit_entries(&self, filter: AuditFilter<'_>) -> sqlx::Result<Vec<AuditLogEntry>> {
        let (column, value) = match filter {
            AuditFilter::Process(id) => ("process_id", id.as_str()),
            AuditFilter::AddressHash(hash) => ("identity_address_hash", hash),
        };
        let rows = sqlx::query(&format!(
            "SELECT id, created_at, message_key, old_status, new_status, additional_data \
             FROM identity_deletion_audit_log WHERE {column} = $1 ORDER BY created_at, id"
        ))
        .bind(value)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|row| {
                let data: Option<String> = row.try_get("additional_data")?;
                let additional_data = match data.as_deref().map(serde_json::from_str) {
                    Some(Ok(serde_json::Value::Object(map))) => map,
                    Some(Err(e)) => return Err(sqlx::Error::Decode(e.into())),
                    _ => serde_json::Map::new(),
                };
                Ok(AuditLogEntry {
                    id: IdentityDeletionAuditLogEntryId::from_trusted(row.try_get("id")?),
                    created_at: from_millis(row.try_get("created_at")?),
                    message_key: row.try_get("message_key")?,
                    old_status: row.try_get("old_status")?,
                    new_status: row.try_get("new_status")?,
                    additional_data,
                })
            })
            .collect()
    }
}
