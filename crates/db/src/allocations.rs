//! Allocations: which identity read a shared object (a token, a relationship template) first
//! with which device, once per identity. Tokens and templates keep them in tables of the same
//! shape (`<key>, allocated_by, allocated_by_device, allocated_at`, keyed by object and
//! allocator); this is their one piece of SQL.

use backbone_core::encoding::to_millis;
use backbone_core::ids::DeviceId;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

/// An allocation table and the column naming the allocated object.
#[derive(Debug, Clone, Copy)]
pub struct Allocations {
    table: &'static str,
    key: &'static str,
}

impl Allocations {
    pub const fn new(table: &'static str, key: &'static str) -> Self {
        Self { table, key }
    }

    /// Whether $2 allocated the object $1 (a count, 0 or 1); public for the query-plan test.
    pub fn has_sql(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {} = $1 AND allocated_by = $2",
            self.table, self.key
        )
    }

    pub async fn has(
        &self,
        conn: &mut AnyConnection,
        object: &str,
        identity: &IdentityAddress,
    ) -> sqlx::Result<bool> {
        let count: i64 = sqlx::query_scalar(&self.has_sql())
            .bind(object)
            .bind(identity.as_str())
            .fetch_one(conn)
            .await?;
        Ok(count > 0)
    }

    /// Records that `identity` allocated the object; a second allocation changes nothing.
    pub async fn insert(
        &self,
        conn: &mut AnyConnection,
        object: &str,
        identity: &IdentityAddress,
        device: &DeviceId,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let (table, key) = (self.table, self.key);
        sqlx::query(&format!(
            "INSERT INTO {table} ({key}, allocated_by, allocated_by_device, allocated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT ({key}, allocated_by) DO NOTHING"
        ))
        .bind(object)
        .bind(identity.as_str())
        .bind(device.as_str())
        .bind(to_millis(&now))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Identity deletion: `identity`'s allocations keep their slot under `anonymous`, except
    /// where `anonymous` already allocated that object (the key is object + allocator); those
    /// are dropped.
    pub async fn hand_over(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        anonymous: &IdentityAddress,
    ) -> sqlx::Result<()> {
        let (table, key) = (self.table, self.key);
        sqlx::query(&format!(
            "UPDATE {table} SET allocated_by = $1 WHERE allocated_by = $2 AND NOT EXISTS \
             (SELECT 1 FROM {table} a WHERE a.{key} = {table}.{key} AND a.allocated_by = $1)"
        ))
        .bind(anonymous.as_str())
        .bind(identity.as_str())
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!("DELETE FROM {table} WHERE allocated_by = $1"))
            .bind(identity.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
