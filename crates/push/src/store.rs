//! The tables this module owns: `push_registrations` (one per device) and `push_deliveries`
//! (the queue of pushes still to send, with their retry state).

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{DeviceId, DevicePushIdentifierId};
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::Database;
use chrono::{DateTime, Utc};

use crate::domain::{Delivery, NewRegistration, NotificationText, Platform, PushEnvironment, Registration};

const REGISTRATION_COLUMNS: &str =
    "device_id, identity_address, device_push_identifier, platform, handle, app_id, environment, updated_at";

const DELIVERY_COLUMNS: &str = "id, device_id, identity_address, device_push_identifier, platform, handle, \
     app_id, environment, event_name, payload, collapse_id, title, body, attempts";

/// The SQL behind the worker's pushes, public for the query-plan test
/// (`bins/backbone/tests/query_plans.rs`), which EXPLAINs exactly these texts.
pub mod sql {
    /// The registrations of the devices of `identities` identities ($1, …), oldest device first.
    pub fn registrations_of(identities: usize) -> String {
        format!(
            "SELECT {} FROM push_registrations WHERE identity_address IN ({}) ORDER BY updated_at, device_id",
            super::REGISTRATION_COLUMNS,
            backbone_db::placeholders(1, identities)
        )
    }
}

#[derive(Debug, Clone)]
pub struct PushStore {
    db: Database,
}

impl PushStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    // Registrations ---------------------------------------------------------------------------

    /// Creates the device's registration or overwrites it, keeping its push identifier.
    pub async fn upsert_registration(
        &self,
        identity: &IdentityAddress,
        device: &DeviceId,
        registration: &NewRegistration,
        now: DateTime<Utc>,
    ) -> sqlx::Result<DevicePushIdentifierId> {
        let identifier: String = sqlx::query_scalar(&format!(
            "INSERT INTO push_registrations ({REGISTRATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (device_id) DO UPDATE SET platform = excluded.platform, handle = excluded.handle, \
             app_id = excluded.app_id, environment = excluded.environment, updated_at = excluded.updated_at \
             RETURNING device_push_identifier"
        ))
        .bind(device.as_str())
        .bind(identity.as_str())
        .bind(DevicePushIdentifierId::generate().as_str())
        .bind(registration.platform.as_str())
        .bind(&registration.handle)
        .bind(&registration.app_id)
        .bind(registration.environment.as_str())
        .bind(to_millis(&now))
        .fetch_one(self.db.writer())
        .await?;
        Ok(DevicePushIdentifierId::from_trusted(identifier))
    }

    pub async fn find_registration(&self, device: &DeviceId) -> sqlx::Result<Option<Registration>> {
        let row = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM push_registrations WHERE device_id = $1"
        ))
        .bind(device.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(registration_from_row).transpose()
    }

    /// `true` if the device had a registration.
    pub async fn delete_registration(&self, device: &DeviceId) -> sqlx::Result<bool> {
        let result = sqlx::query("DELETE FROM push_registrations WHERE device_id = $1")
            .bind(device.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes the device's registration only if it still is this one (the device may have
    /// registered anew since the push was queued).
    pub async fn delete_registration_if(
        &self,
        device: &DeviceId,
        platform: Platform,
        handle: &str,
    ) -> sqlx::Result<bool> {
        let result = sqlx::query(
            "DELETE FROM push_registrations WHERE device_id = $1 AND platform = $2 AND handle = $3",
        )
        .bind(device.as_str())
        .bind(platform.as_str())
        .bind(handle)
        .execute(self.db.writer())
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes every registration of an identity; returns how many. (Deleting its devices does
    /// the same.) Pushes already queued for it are still sent.
    pub async fn delete_registrations_of(&self, identity: &IdentityAddress) -> sqlx::Result<u64> {
        let result = sqlx::query("DELETE FROM push_registrations WHERE identity_address = $1")
            .bind(identity.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(result.rows_affected())
    }

    /// The registrations of the devices of these identities, oldest device first.
    pub async fn registrations_of(&self, identities: &[IdentityAddress]) -> sqlx::Result<Vec<Registration>> {
        if identities.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sql::registrations_of(identities.len());
        let mut query = sqlx::query(&sql);
        for identity in identities {
            query = query.bind(identity.as_str());
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter().map(registration_from_row).collect()
    }

    // Deliveries ------------------------------------------------------------------------------

    /// Queues deliveries, due at once, inside the caller's transaction.
    pub async fn insert_deliveries(
        &self,
        conn: &mut AnyConnection,
        deliveries: &[Delivery],
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        for delivery in deliveries {
            sqlx::query(&format!(
                "INSERT INTO push_deliveries ({DELIVERY_COLUMNS}, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ))
            .bind(&delivery.id)
            .bind(delivery.device_id.as_str())
            .bind(delivery.identity_address.as_str())
            .bind(delivery.device_push_identifier.as_str())
            .bind(delivery.platform.as_str())
            .bind(&delivery.handle)
            .bind(&delivery.app_id)
            .bind(delivery.environment.as_str())
            .bind(delivery.event_name.as_deref())
            .bind(delivery.payload.as_ref().map(std::string::ToString::to_string))
            .bind(delivery.collapse_id.as_deref())
            .bind(&delivery.text.title)
            .bind(&delivery.text.body)
            .bind(delivery.attempts)
            .bind(to_millis(&now))
            .bind(to_millis(&now))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Takes up to `limit` due deliveries for this sender until `claim_until`, so that other
    /// senders leave them alone (a sender that dies loses its claim when it runs out).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        claim_until: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Delivery>> {
        let mut tx = self.db.begin_write().await?;
        let skip_locked = self.db.dialect().for_update_skip_locked();
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM push_deliveries WHERE next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_attempt_at, id LIMIT $2{skip_locked}"
        ))
        .bind(to_millis(&now))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let deliveries = rows
            .iter()
            .map(delivery_from_row)
            .collect::<sqlx::Result<Vec<_>>>()?;
        for delivery in &deliveries {
            sqlx::query("UPDATE push_deliveries SET claimed_until = $1 WHERE id = $2")
                .bind(to_millis(&claim_until))
                .bind(&delivery.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deliveries)
    }

    pub async fn delete_delivery(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM push_deliveries WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn reschedule(
        &self,
        id: &str,
        attempts: i64,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE push_deliveries SET attempts = $1, next_attempt_at = $2, claimed_until = NULL, \
             last_error = $3 WHERE id = $4",
        )
        .bind(attempts)
        .bind(to_millis(&next_attempt_at))
        .bind(error)
        .bind(id)
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// How many deliveries wait to be sent or retried (the Admin UI's dashboard).
    pub async fn queued_count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM push_deliveries")
            .fetch_one(self.db.pool())
            .await
    }

    /// Every queued delivery (tests, diagnostics).
    pub async fn queued(&self) -> sqlx::Result<Vec<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM push_deliveries ORDER BY created_at, id"
        ))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }
}

fn platform(text: &str) -> sqlx::Result<Platform> {
    Platform::parse(text).ok_or_else(|| sqlx::Error::Decode(format!("unknown platform {text}").into()))
}

fn environment(text: &str) -> sqlx::Result<PushEnvironment> {
    PushEnvironment::parse(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown environment {text}").into()))
}

fn registration_from_row(row: &AnyRow) -> sqlx::Result<Registration> {
    Ok(Registration {
        device_id: DeviceId::from_trusted(row.try_get("device_id")?),
        identity_address: IdentityAddress::from_trusted(row.try_get("identity_address")?),
        device_push_identifier: DevicePushIdentifierId::from_trusted(row.try_get("device_push_identifier")?),
        platform: platform(row.try_get("platform")?)?,
        handle: row.try_get("handle")?,
        app_id: row.try_get("app_id")?,
        environment: environment(row.try_get("environment")?)?,
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

fn delivery_from_row(row: &AnyRow) -> sqlx::Result<Delivery> {
    let payload: Option<String> = row.try_get("payload")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        device_id: DeviceId::from_trusted(row.try_get("device_id")?),
        identity_address: IdentityAddress::from_trusted(row.try_get("identity_address")?),
        device_push_identifier: DevicePushIdentifierId::from_trusted(row.try_get("device_push_identifier")?),
        platform: platform(row.try_get("platform")?)?,
        handle: row.try_get("handle")?,
        app_id: row.try_get("app_id")?,
        environment: environment(row.try_get("environment")?)?,
        event_name: row.try_get("event_name")?,
        payload: payload
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        collapse_id: row.try_get("collapse_id")?,
        text: NotificationText {
            title: row.try_get("title")?,
            body: row.try_get("body")?,
        },
        attempts: row.try_get("attempts")?,
    })
}
