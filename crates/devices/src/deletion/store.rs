//! The tables of identity deletion: `identity_deletion_processes` and
//! `identity_deletion_audit_log`, plus the identity columns the process changes.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{DeviceId, IdentityDeletionAuditLogEntryId, IdentityDeletionProcessId, TierId};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::Database;
use chrono::{DateTime, Utc};

use super::audit;
use super::{DeletionProcess, ProcessStatus};

const PROCESS_COLUMNS: &str = "id, identity_address, status, created_at, created_by_device, grace_period_ends_at, \
    grace_period_reminder1_sent_at, grace_period_reminder2_sent_at, grace_period_reminder3_sent_at, cancelled_at, \
    deletion_started_at";

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    pub const HAS_OPEN_PROCESS: &str = "SELECT COUNT(*) FROM identity_deletion_processes \
        WHERE identity_address = $1 AND status IN ('Active', 'Deleting')";

    pub fn processes() -> String {
        format!(
            "SELECT {} FROM identity_deletion_processes WHERE identity_address = $1 ORDER BY created_at, id",
            super::PROCESS_COLUMNS
        )
    }
}

#[derive(Debug, Clone)]
pub struct DeletionStore {
    db: Database,
}

/// One audit entry to write. The hashes are slow to compute (PBKDF2), so entries are built
/// before a transaction starts, never inside one.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub process: Option<&'a IdentityDeletionProcessId>,
    pub address_hash: String,
    pub device_hash: Option<String>,
    pub message_key: &'a str,
    pub old_status: Option<ProcessStatus>,
    pub new_status: Option<ProcessStatus>,
    pub additional_data: Option<serde_json::Value>,
}

impl<'a> AuditEntry<'a> {
    /// The entry with the address and device hashed (off the async workers, see
    /// [`audit::hash_all`]); build it before taking a connection.
    pub async fn new(
        process: Option<&'a IdentityDeletionProcessId>,
        address: &IdentityAddress,
        device: Option<&DeviceId>,
        message_key: &'a str,
        statuses: (Option<ProcessStatus>, Option<ProcessStatus>),
        additional_data: Option<serde_json::Value>,
    ) -> Self {
        let mut values = vec![address.as_str().to_owned()];
        values.extend(device.map(|d| d.as_str().to_owned()));
        let mut hashes = audit::hash_all(values).await.into_iter();
        Self {
            process,
            address_hash: hashes.next().unwrap_or_default(),
            device_hash: hashes.next(),
            message_key,
            old_status: statuses.0,
            new_status: statuses.1,
            additional_data,
        }
    }
}

impl DeletionStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Inserts a process; `false` if the identity already has an active or deleting one.
    pub async fn insert_process(&self, conn: &mut AnyConnection, p: &DeletionProcess) -> sqlx::Result<bool> {
        backbone_db::inserted(sqlx::query(&format!(
            "INSERT INTO identity_deletion_processes ({PROCESS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, NULL, NULL)"
        ))
        .bind(p.id.as_str())
        .bind(p.identity_address.as_str())
        .bind(p.status.as_str())
        .bind(to_millis(&p.created_at))
        .bind(p.created_by_device.as_str())
        .bind(p.grace_period_ends_at.as_ref().map(to_millis))
        .execute(conn)
        .await)
    }

    pub async fn has_open_process(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(sql::HAS_OPEN_PROCESS)
            .bind(address.as_str())
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    pub async fn processes(&self, address: &IdentityAddress) -> sqlx::Result<Vec<DeletionProcess>> {
        let rows = sqlx::query(&sql::processes())
            .bind(address.as_str())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(process_from_row).collect()
    }

    pub async fn find_process(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
        id: &IdentityDeletionProcessId,
    ) -> sqlx::Result<Option<DeletionProcess>> {
        let row = sqlx::query(&format!(
            "SELECT {PROCESS_COLUMNS} FROM identity_deletion_processes WHERE id = $1 AND identity_address = $2{}",
            self.db.dialect().for_update()
        ))
        .bind(id.as_str())
        .bind(address.as_str())
        .fetch_optional(conn)
        .await?;
        row.as_ref().map(process_from_row).transpose()
    }

    /// Processes in the given status, oldest first.
    pub async fn processes_in(&self, status: ProcessStatus) -> sqlx::Result<Vec<DeletionProcess>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROCESS_COLUMNS} FROM identity_deletion_processes WHERE status = $1 ORDER BY created_at, id"
        ))
        .bind(status.as_str())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(process_from_row).collect()
    }

    pub async fn cancel_process(
        &self,
        conn: &mut AnyConnection,
        id: &IdentityDeletionProcessId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE identity_deletion_processes SET status = 'Cancelled', cancelled_at = $1, grace_period_ends_at = NULL WHERE id = $2",
        )
        .bind(to_millis(&now))
        .bind(id.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Moves the process from `Active` to `Deleting`; `false` if another worker was first.
    pub async fn start_deleting(
        &self,
        conn: &mut AnyConnection,
        id: &IdentityDeletionProcessId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        let changed = sqlx::query(
            "UPDATE identity_deletion_processes SET status = 'Deleting', deletion_started_at = $1 WHERE id = $2 AND status = 'Active'",
        )
        .bind(to_millis(&now))
        .bind(id.as_str())
        .execute(conn)
        .await?;
        Ok(changed.rows_affected() == 1)
    }

    pub async fn mark_reminder_sent(
        &self,
        conn: &mut AnyConnection,
        id: &IdentityDeletionProcessId,
        reminder: usize,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let column = match reminder {
            1 => "grace_period_reminder1_sent_at",
            2 => "grace_period_reminder2_sent_at",
            _ => "grace_period_reminder3_sent_at",
        };
        sqlx::query(&format!(
            "UPDATE identity_deletion_processes SET {column} = $1 WHERE id = $2"
        ))
        .bind(to_millis(&now))
        .bind(id.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Takes the deletion lease of the identity's deleting process until `until`; `false` if
    /// another worker holds it.
    pub async fn take_lease(
        &self,
        address: &IdentityAddress,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        let taken = sqlx::query(
            "UPDATE identity_deletion_processes SET lease_until = $1 WHERE identity_address = $2 AND status = 'Deleting' \
             AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(to_millis(&until))
        .bind(address.as_str())
        .bind(to_millis(&now))
        .execute(self.db.writer())
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    pub async fn release_lease(&self, address: &IdentityAddress) -> sqlx::Result<()> {
        sqlx::query("UPDATE identity_deletion_processes SET lease_until = NULL WHERE identity_address = $1")
            .bind(address.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Sets the identity's deletion status, grace period end and tier.
    pub async fn update_identity(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
        status: &str,
        grace_period_ends_at: Option<DateTime<Utc>>,
        tier: &TierId,
        tier_before_deletion: Option<&TierId>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE identities SET status = $1, deletion_grace_period_ends_at = $2, tier_id = $3, \
             tier_id_before_deletion = $4 WHERE address = $5",
        )
        .bind(status)
        .bind(grace_period_ends_at.as_ref().map(to_millis))
        .bind(tier.as_str())
        .bind(tier_before_deletion.map(|t| t.as_str().to_owned()))
        .bind(address.as_str())
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn tier_before_deletion(
        &self,
        conn: &mut AnyConnection,
        address: &IdentityAddress,
    ) -> sqlx::Result<Option<TierId>> {
        let tier: Option<Option<String>> =
            sqlx::query_scalar("SELECT tier_id_before_deletion FROM identities WHERE address = $1")
                .bind(address.as_str())
                .fetch_optional(conn)
                .await?;
        Ok(tier.flatten().map(TierId::from_trusted))
    }

    /// The usernames of the identity's devices (for the audit log's username hashes).
    pub async fn usernames(&self, address: &IdentityAddress) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar("SELECT username FROM devices WHERE identity_address = $1")
            .bind(address.as_str())
            .fetch_all(self.db.pool())
            .await
    }

    /// Deletes the identity; devices, feature flags and processes go with it (cascade).
    pub async fn delete_identity(&self, address: &IdentityAddress) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM identities WHERE address = $1")
            .bind(address.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    pub async fn audit(
        &self,
        conn: &mut AnyConnection,
        entry: AuditEntry<'_>,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO identity_deletion_audit_log (id, process_id, created_at, identity_address_hash, device_id_hash, \
             message_key, old_status, new_status, additional_data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(IdentityDeletionAuditLogEntryId::generate().as_str())
        .bind(entry.process.map(|p| p.as_str().to_owned()))
        .bind(to_millis(&now))
        .bind(entry.address_hash)
        .bind(entry.device_hash)
        .bind(entry.message_key)
        .bind(entry.old_status.map(ProcessStatus::as_str))
        .bind(entry.new_status.map(ProcessStatus::as_str))
        .bind(entry.additional_data.map(|d| d.to_string()))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Attaches the hashed usernames to every audit entry of the address (after deletion they
    /// are the only way to find the entries, e.g. for `IsDeleted`).
    pub async fn attach_username_hashes(
        &self,
        address: &IdentityAddress,
        username_hashes: &[String],
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE identity_deletion_audit_log SET username_hashes = $1 WHERE identity_address_hash = $2",
        )
        .bind(serde_json::to_string(username_hashes).unwrap_or_default())
        .bind(audit::hash(address.as_str()))
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// When the identity a username belonged to was deleted, according to the audit log.
    pub async fn deletion_completed_for_username(
        &self,
        username: &str,
    ) -> sqlx::Result<Option<DateTime<Utc>>> {
        let hash = audit::hash(username);
        let created_at: Option<i64> = sqlx::query_scalar(
            "SELECT created_at FROM identity_deletion_audit_log WHERE message_key = 'DeletionCompleted' \
             AND username_hashes LIKE $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(format!("%\"{hash}\"%"))
        .fetch_optional(self.db.pool())
        .await?;
        Ok(created_at.map(from_millis))
    }

    /// Audit entries of an address, oldest first: (message key, additional data).
    pub async fn audit_log_of(
        &self,
        address: &IdentityAddress,
    ) -> sqlx::Result<Vec<(String, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT message_key, additional_data FROM identity_deletion_audit_log WHERE identity_address_hash = $1 \
             ORDER BY created_at, id",
        )
        .bind(audit::hash(address.as_str()))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("message_key")?, row.try_get("additional_data")?)))
            .collect()
    }
}

fn process_from_row(row: &AnyRow) -> sqlx::Result<DeletionProcess> {
    let millis = |column: &str| -> sqlx::Result<Option<DateTime<Utc>>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
    };
    let status: String = row.try_get("status")?;
    Ok(DeletionProcess {
        id: IdentityDeletionProcessId::from_trusted(row.try_get("id")?),
        identity_address: IdentityAddress::from_trusted(row.try_get("identity_address")?),
        status: ProcessStatus::parse(&status).map_err(|e| sqlx::Error::Decode(e.into()))?,
        created_at: from_millis(row.try_get("created_at")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
        grace_period_ends_at: millis("grace_period_ends_at")?,
        reminders_sent_at: [
            millis("grace_period_reminder1_sent_at")?,
            millis("grace_period_reminder2_sent_at")?,
            millis("grace_period_reminder3_sent_at")?,
        ],
        cancelled_at: millis("cancelled_at")?,
        deletion_started_at: millis("deletion_started_at")?,
    })
}
