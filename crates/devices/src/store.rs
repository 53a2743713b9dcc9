//! The tables this module owns: `tiers`, `oauth_clients`, `identities`, `devices`,
//! `feature_flags`. One SQL code path for SQLite and PostgreSQL (see `backbone-db`).

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::events::DomainEvent;
use backbone_core::ids::{DeviceId, TierId, Username};
use backbone_core::paging::{Page, PageRequest};
use backbone_core::ports::DeviceLanguage;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::{fetch_page, get_flag, outbox, with_ids, Database, PagedSql, Param};
use chrono::{DateTime, Utc};

use crate::domain::{Device, DeviceLogin, Identity, IdentityStatus, OAuthClient, Tier};

pub(crate) const DEVICE_COLUMNS: &str =
    "id, identity_address, username, created_at, created_by_device, last_login_at, \
                              communication_language, is_backup_device";

/// The SQL behind the request paths, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    use super::DEVICE_COLUMNS;

    pub const FIND_IDENTITY: &str =
        "SELECT address, client_id, public_key, tier_id, created_at, identity_version, \
        status, deletion_grace_period_ends_at FROM identities WHERE address = $1";
    pub const FEATURE_FLAGS: &str =
        "SELECT name, is_enabled FROM feature_flags WHERE identity_address = $1 ORDER BY name";

    pub fn find_device() -> String {
        format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1")
    }

    /// The devices of $1, only those among `ids` ($2, …) if any are given.
    fn id_filter(ids: usize) -> String {
        if ids == 0 {
            String::new()
        } else {
            format!(" AND id IN ({})", backbone_db::placeholders(2, ids))
        }
    }

    /// A page of the identity's devices, oldest first; limit and offset follow the IDs.
    pub fn list_devices(ids: usize) -> String {
        let next = ids + 2;
        format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE identity_address = $1{} \
             ORDER BY created_at, id LIMIT ${next} OFFSET ${}",
            id_filter(ids),
            next + 1
        )
    }

    pub fn count_devices(ids: usize) -> String {
        format!(
            "SELECT COUNT(*) FROM devices WHERE identity_address = $1{}",
            id_filter(ids)
        )
    }
}

#[derive(Debug, Clone)]
pub struct DevicesStore {
    db: Database,
}

/// Outcome of the guarded identity insert.
#[derive(Debug, PartialEq, Eq)]
pub enum CreateIdentityOutcome {
    Created,
    AddressAlreadyExists,
    ClientReachedIdentitiesLimit,
    ClientVanished,
}

/// A client with the number of identities created through it.
#[derive(Debug, Clone)]
pub struct ClientOverview {
    pub client: OAuthClient,
    pub default_tier_name: String,
    pub number_of_identities: i64,
}

impl DevicesStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    // Tiers -----------------------------------------------------------------------------------

    pub async fn list_tiers(&self) -> sqlx::Result<Vec<(Tier, i64)>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.can_be_used_as_default_for_client, t.can_be_manually_assigned, \
             (SELECT COUNT(*) FROM identities i WHERE i.tier_id = t.id) AS number_of_identities \
             FROM tiers t ORDER BY t.name",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((tier_from_row(row)?, row.try_get("number_of_identities")?)))
            .collect()
    }

    /// Looks a tier up by name first, then by ID (as upstream's client creation does).
    pub async fn find_tier_by_name_or_id(&self, name_or_id: &str) -> sqlx::Result<Option<Tier>> {
        let row = sqlx::query(
            "SELECT id, name, can_be_used_as_default_for_client, can_be_manually_assigned FROM tiers \
             WHERE name = $1 OR id = $1 ORDER BY CASE WHEN name = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(name_or_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(tier_from_row).transpose()
    }

    /// Inserts a tier; `false` when the name is taken (the caller's transaction is then
    /// to be rolled back).
    pub async fn insert_tier(
        &self,
        tx: &mut AnyConnection,
        tier: &Tier,
        event: &DomainEvent,
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO tiers (id, name, can_be_used_as_default_for_client, can_be_manually_assigned) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(tier.id.as_str())
        .bind(&tier.name)
        .bind(i64::from(tier.can_be_used_as_default_for_client))
        .bind(i64::from(tier.can_be_manually_assigned))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if backbone_db::is_unique_violation(&e) => return Ok(false),
            other => other?,
        };
        outbox::enqueue(tx, event, now).await?;
        Ok(true)
    }

    // OAuth clients -----------------------------------------------------------------------------

    /// Inserts a client; `false` when the ID is taken.
    pub async fn insert_client(&self, client: &OAuthClient) -> sqlx::Result<bool> {
        let result = sqlx::query(
            "INSERT INTO oauth_clients (client_id, display_name, secret_hash, default_tier, created_at, max_identities) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.client_id)
        .bind(&client.display_name)
        .bind(&client.secret_hash)
        .bind(client.default_tier.as_str())
        .bind(to_millis(&client.created_at))
        .bind(client.max_identities)
        .execute(self.db.writer())
        .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if backbone_db::is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn find_client(&self, client_id: &str) -> sqlx::Result<Option<OAuthClient>> {
        let row = sqlx::query(
            "SELECT client_id, display_name, secret_hash, default_tier, created_at, max_identities \
             FROM oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    pub async fn list_clients(&self) -> sqlx::Result<Vec<ClientOverview>> {
        let rows = sqlx::query(
            "SELECT c.client_id, c.display_name, c.secret_hash, c.default_tier, c.created_at, c.max_identities, \
             t.name AS default_tier_name, \
             (SELECT COUNT(*) FROM identities i WHERE i.client_id = c.client_id) AS number_of_identities \
             FROM oauth_clients c JOIN tiers t ON t.id = c.default_tier ORDER BY c.created_at",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClientOverview {
                    client: client_from_row(row)?,
                    default_tier_name: row.try_get("default_tier_name")?,
                    number_of_identities: row.try_get("number_of_identities")?,
                })
            })
            .collect()
    }

    /// Deletes a client; `false` if it did not exist. Identities created with it stay.
    pub async fn delete_client(&self, client_id: &str) -> sqlx::Result<bool> {
        let result = sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    // Identities -------------------------------------------------------------------------------

    pub async fn find_identity(&self, address: &IdentityAddress) -> sqlx::Result<Option<Identity>> {
        let row = sqlx::query(sql::FIND_IDENTITY)
            .bind(address.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// Creates the identity with its first device in the caller's transaction (committed only
    /// when [`CreateIdentityOutcome::Created`]), enforcing the address uniqueness and the
    /// client's identity limit under a lock so concurrent requests cannot exceed it.
    pub async fn create_identity(
        &self,
        tx: &mut AnyConnection,
        identity: &Identity,
        device: &Device,
        password_hash: &str,
        event: &DomainEvent,
    ) -> sqlx::Result<CreateIdentityOutcome> {
        let client_id = identity.client_id.as_deref().unwrap_or_default();
        let client_row = sqlx::query(&format!(
            "SELECT max_identities FROM oauth_clients WHERE client_id = $1{}",
            self.db.dialect().for_update()
        ))
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(client_row) = client_row else {
            return Ok(CreateIdentityOutcome::ClientVanished);
        };
        if let Some(max) = client_row.try_get::<Option<i64>, _>("max_identities")? {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE client_id = $1")
                .bind(client_id)
                .fetch_one(&mut *tx)
                .await?;
            if count >= max {
                return Ok(CreateIdentityOutcome::ClientReachedIdentitiesLimit);
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO identities (address, client_id, public_key, tier_id, created_at, identity_version, status, \
             deletion_grace_period_ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(identity.address.as_str())
        .bind(identity.client_id.as_deref())
        .bind(identity.public_key.as_slice())
        .bind(identity.tier_id.as_str())
        .bind(to_millis(&identity.created_at))
        .bind(identity.identity_version)
        .bind(identity.status.as_str())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if backbone_db::is_unique_violation(&e) => {
                return Ok(CreateIdentityOutcome::AddressAlreadyExists)
            }
            other => other?,
        };
        insert_device(tx, device, password_hash).await?;
        outbox::enqueue(tx, event, identity.created_at).await?;
        Ok(CreateIdentityOutcome::Created)
    }

    // Devices ---------------------------------------------------------------------------------

    pub async fn find_device(&self, id: &DeviceId) -> sqlx::Result<Option<Device>> {
        let row = sqlx::query(&sql::find_device())
            .bind(id.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    pub async fn find_device_by_username(&self, username: &str) -> sqlx::Result<Option<Device>> {
        Ok(self.find_login(username).await?.map(|login| login.device))
    }

    /// Looks a device up by its login name: trimmed and case-insensitive, as upstream.
    pub async fn find_login(&self, username: &str) -> sqlx::Result<Option<DeviceLogin>> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS}, password_hash, failed_login_attempts, locked_out_until \
             FROM devices WHERE normalized_username = $1"
        ))
        .bind(normalize_username(username))
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|row| {
            Ok(DeviceLogin {
                device: device_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
                failed_login_attempts: row.try_get("failed_login_attempts")?,
                locked_out_until: row
                    .try_get::<Option<i64>, _>("locked_out_until")?
                    .map(from_millis),
            })
        })
        .transpose()
    }

    pub async fn password_hash(&self, id: &DeviceId) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT password_hash FROM devices WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db.pool())
            .await
    }

    pub async fn list_devices(
        &self,
        identity: &IdentityAddress,
        ids: &[DeviceId],
        page: PageRequest,
    ) -> sqlx::Result<Page<Device>> {
        // One positional parameter per requested ID, after the identity ($1).
        let (list, count) = (sql::list_devices(ids.len()), sql::count_devices(ids.len()));
        let params = with_ids(&[Param::Text(identity.as_str())], ids);
        let mut conn = self.db.pool().acquire().await?;
        fetch_page(
            &mut conn,
            PagedSql {
                list: &list,
                count: &count,
            },
            &params,
            page,
        )
        .await?
        .try_map(device_from_row)
    }

    pub async fn has_backup_device(&self, identity: &IdentityAddress) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE identity_address = $1 AND is_backup_device = $2",
        )
        .bind(identity.as_str())
        .bind(1_i64)
        .fetch_one(self.db.pool())
        .await?;
        Ok(count > 0)
    }

    /// Adds a device on the caller's write transaction.
    pub async fn add_device(
        &self,
        conn: &mut sqlx::AnyConnection,
        device: &Device,
        password_hash: &str,
    ) -> sqlx::Result<()> {
        insert_device(conn, device, password_hash).await
    }

    pub async fn update_communication_language(&self, id: &DeviceId, language: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE devices SET communication_language = $1 WHERE id = $2")
            .bind(language)
            .bind(id.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    pub async fn update_password_hash(&self, id: &DeviceId, password_hash: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE devices SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Deletes a device only while it is still not onboarded; `false` if it was meanwhile.
    pub async fn delete_unonboarded_device(&self, id: &DeviceId) -> sqlx::Result<bool> {
        let result = sqlx::query("DELETE FROM devices WHERE id = $1 AND last_login_at IS NULL")
            .bind(id.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Counts a login attempt before its password is checked, unless the device is locked or
    /// `max_attempts` attempts are already counted (failed, or in flight). Returns the
    /// attempt's number, or `None` if it may not be evaluated. One statement, so parallel
    /// attempts cannot all read the same count.
    pub async fn begin_login_attempt(
        &self,
        id: &DeviceId,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar(
            "UPDATE devices SET failed_login_attempts = failed_login_attempts + 1, locked_out_until = NULL \
             WHERE id = $1 AND (locked_out_until IS NULL OR locked_out_until <= $2) \
             AND failed_login_attempts < $3 RETURNING failed_login_attempts",
        )
        .bind(id.as_str())
        .bind(to_millis(&now))
        .bind(max_attempts)
        .fetch_optional(self.db.writer())
        .await
    }

    /// Locks the device until `until`; the attempt counter starts again after it.
    pub async fn lock_out(&self, id: &DeviceId, until: DateTime<Utc>) -> sqlx::Result<()> {
        sqlx::query("UPDATE devices SET failed_login_attempts = 0, locked_out_until = $1 WHERE id = $2")
            .bind(to_millis(&until))
            .bind(id.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Records a successful login: resets the failure counter, sets the last login (the device
    /// is now onboarded) and clears the backup flag, raising `event` if it was set.
    pub async fn record_successful_login(
        &self,
        tx: &mut AnyConnection,
        id: &DeviceId,
        now: DateTime<Utc>,
        backup_device_used: Option<&DomainEvent>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE devices SET failed_login_attempts = 0, locked_out_until = NULL, last_login_at = $1, \
             is_backup_device = $2 WHERE id = $3",
        )
        .bind(to_millis(&now))
        .bind(0_i64)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(event) = backup_device_used {
            outbox::enqueue(tx, event, now).await?;
        }
        Ok(())
    }

    // Feature flags ---------------------------------------------------------------------------

    pub async fn feature_flags(&self, identity: &IdentityAddress) -> sqlx::Result<Vec<(String, bool)>> {
        let rows = sqlx::query(sql::FEATURE_FLAGS)
            .bind(identity.as_str())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("name")?, get_flag(row, "is_enabled")?)))
            .collect()
    }

    /// Upserts the flags unless the identity would then have more than `max` flags; returns
    /// whether they were stored.
    pub async fn upsert_feature_flags(
        &self,
        tx: &mut AnyConnection,
        identity: &IdentityAddress,
        flags: &[(String, bool)],
        max: usize,
        event: &DomainEvent,
        now: DateTime<Utc>,
    ) -> sqlx::Result<bool> {
        let existing: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM feature_flags WHERE identity_address = $1{}",
            self.db.dialect().for_update()
        ))
        .bind(identity.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let new_names = flags.iter().filter(|(name, _)| !existing.contains(name)).count();
        if existing.len() + new_names > max {
            return Ok(false);
        }
        for (name, enabled) in flags {
            sqlx::query(
                "INSERT INTO feature_flags (identity_address, name, is_enabled) VALUES ($1, $2, $3) \
                 ON CONFLICT (identity_address, name) DO UPDATE SET is_enabled = excluded.is_enabled",
            )
            .bind(identity.as_str())
            .bind(name)
            .bind(i64::from(*enabled))
            .execute(&mut *tx)
            .await?;
        }
        outbox::enqueue(tx, event, now).await?;
        Ok(true)
    }

    /// Every device of these identities with its communication language, in one query (a
    /// push goes to all devices of its audience, in each device's language).
    pub async fn device_languages(
        &self,
        identities: &[IdentityAddress],
    ) -> sqlx::Result<Vec<DeviceLanguage>> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, communication_language FROM devices WHERE identity_address IN ({}) ORDER BY created_at, id",
            backbone_db::placeholders(1, identities.len())
        );
        let mut query = sqlx::query(&sql);
        for identity in identities {
            query = query.bind(identity.as_str());
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(DeviceLanguage {
                    device_id: DeviceId::from_trusted(row.try_get("id")?),
                    communication_language: row.try_get("communication_language")?,
                })
            })
            .collect()
    }
}

pub fn normalize_username(username: &str) -> String {
    username.trim().to_uppercase()
}

async fn insert_device(
    connection: &mut sqlx::AnyConnection,
    device: &Device,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO devices (id, identity_address, username, normalized_username, password_hash, created_at, \
         created_by_device, last_login_at, communication_language, is_backup_device) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)",
    )
    .bind(device.id.as_str())
    .bind(device.identity_address.as_str())
    .bind(device.username.as_str())
    .bind(normalize_username(device.username.as_str()))
    .bind(password_hash)
    .bind(to_millis(&device.created_at))
    .bind(device.created_by_device.as_str())
    .bind(&device.communication_language)
    .bind(i64::from(device.is_backup_device))
    .execute(connection)
    .await?;
    Ok(())
}

pub(crate) fn tier_from_row(row: &AnyRow) -> sqlx::Result<Tier> {
    Ok(Tier {
        id: TierId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        can_be_used_as_default_for_client: get_flag(row, "can_be_used_as_default_for_client")?,
        can_be_manually_assigned: get_flag(row, "can_be_manually_assigned")?,
    })
}

pub(crate) fn client_from_row(row: &AnyRow) -> sqlx::Result<OAuthClient> {
    Ok(OAuthClient {
        client_id: row.try_get("client_id")?,
        display_name: row.try_get("display_name")?,
        secret_hash: row.try_get("secret_hash")?,
        default_tier: TierId::from_trusted(row.try_get("default_tier")?),
        created_at: from_millis(row.try_get("created_at")?),
        max_identities: row.try_get("max_identities")?,
    })
}

pub(crate) fn identity_from_row(row: &AnyRow) -> sqlx::Result<Identity> {
    Ok(Identity {
        address: IdentityAddress::from_trusted(row.try_get("address")?),
        client_id: row.try_get("client_id")?,
        public_key: row.try_get("public_key")?,
        tier_id: TierId::from_trusted(row.try_get("tier_id")?),
        created_at: from_millis(row.try_get("created_at")?),
        identity_version: row.try_get("identity_version")?,
        // An unknown status is a decode error: guessing one could let a deleted identity act.
        status: IdentityStatus::parse(row.try_get::<String, _>("status")?.as_str())
            .map_err(|e| sqlx::Error::Decode(e.into()))?,
        deletion_grace_period_ends_at: row
            .try_get::<Option<i64>, _>("deletion_grace_period_ends_at")?
            .map(from_millis),
    })
}

pub(crate) fn device_from_row(row: &AnyRow) -> sqlx::Result<Device> {
    Ok(Device {
        id: DeviceId::from_trusted(row.try_get("id")?),
        identity_address: IdentityAddress::from_trusted(row.try_get("identity_address")?),
        username: Username::from_trusted(row.try_get("username")?),
        created_at: from_millis(row.try_get("created_at")?),
        created_by_device: DeviceId::from_trusted(row.try_get("created_by_device")?),
        last_login_at: row.try_get::<Option<i64>, _>("last_login_at")?.map(from_millis),
        communication_language: row.try_get("communication_language")?,
        is_backup_device: get_flag(row, "is_backup_device")?,
    })
}
