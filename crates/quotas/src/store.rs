//! The tables this module owns: `tier_quota_definitions` and `individual_quotas`. Every
//! function takes the connection to run on, so use cases decide the transaction.

use backbone_core::encoding::{from_millis, to_millis};
use backbone_core::ids::{QuotaId, TierId, TierQuotaDefinitionId};
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::any::AnyRow;
use backbone_db::sqlx::{self, AnyConnection, Row};
use backbone_db::Database;

use crate::domain::{IndividualQuota, Limit, Quota, QuotaPeriod, QuotaSource, TierQuotaDefinition};

#[derive(Debug, Clone)]
pub struct QuotasStore {
    db: Database,
}

impl QuotasStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The individual quotas of `identity` and the quotas of `tier` for the given metrics.
    pub async fn quotas_for(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        tier: &TierId,
        metrics: &[MetricKey],
    ) -> sqlx::Result<Vec<Quota>> {
        let keys = backbone_db::placeholders(3, metrics.len());
        let sql = format!(
            "SELECT id, 'Individual' AS source, metric_key, max, period FROM individual_quotas \
             WHERE identity_address = $1 AND metric_key IN ({keys}) \
             UNION ALL SELECT id, 'Tier' AS source, metric_key, max, period FROM tier_quota_definitions \
             WHERE tier_id = $2 AND metric_key IN ({keys})"
        );
        let mut query = sqlx::query(&sql).bind(identity.as_str()).bind(tier.as_str());
        for metric in metrics {
            query = query.bind(metric.as_str());
        }
        let rows = query.fetch_all(conn).await?;
        rows.iter()
            .map(|row| {
                let source = match row.try_get::<String, _>("source")?.as_str() {
                    "Individual" => QuotaSource::Individual,
                    _ => QuotaSource::Tier,
                };
                Ok(Quota {
                    id: row.try_get("id")?,
                    source,
                    limit: limit_from_row(row)?,
                })
            })
            .collect()
    }

    // Tier quota definitions ------------------------------------------------------------------

    pub async fn tier_quotas(
        &self,
        conn: &mut AnyConnection,
        tier: &TierId,
    ) -> sqlx::Result<Vec<TierQuotaDefinition>> {
        let rows = sqlx::query(
            "SELECT id, tier_id, metric_key, max, period, created_at FROM tier_quota_definitions \
             WHERE tier_id = $1 ORDER BY created_at, id",
        )
        .bind(tier.as_str())
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TierQuotaDefinition {
                    id: TierQuotaDefinitionId::from_trusted(row.try_get("id")?),
                    tier_id: TierId::from_trusted(row.try_get("tier_id")?),
                    limit: limit_from_row(row)?,
                    created_at: from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// `false` if the tier has a quota of that metric and period already (a concurrent insert).
    pub async fn insert_tier_quota(
        &self,
        conn: &mut AnyConnection,
        d: &TierQuotaDefinition,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO tier_quota_definitions (id, tier_id, metric_key, max, period, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(d.id.as_str())
        .bind(d.tier_id.as_str())
        .bind(d.limit.metric.as_str())
        .bind(d.limit.max)
        .bind(d.limit.period.as_str())
        .bind(to_millis(&d.created_at))
        .execute(conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn delete_tier_quota(
        &self,
        conn: &mut AnyConnection,
        tier: &TierId,
        id: &TierQuotaDefinitionId,
    ) -> sqlx::Result<bool> {
        let deleted = sqlx::query("DELETE FROM tier_quota_definitions WHERE tier_id = $1 AND id = $2")
            .bind(tier.as_str())
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// A deleted tier's definitions (its `TierDeleted` event).
    pub async fn delete_tier_quotas_of(&self, conn: &mut AnyConnection, tier: &TierId) -> sqlx::Result<u64> {
        let deleted = sqlx::query("DELETE FROM tier_quota_definitions WHERE tier_id = $1")
            .bind(tier.as_str())
            .execute(conn)
            .await?;
        Ok(deleted.rows_affected())
    }

    // Individual quotas -----------------------------------------------------------------------

    pub async fn individual_quotas(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
    ) -> sqlx::Result<Vec<IndividualQuota>> {
        let rows = sqlx::query(
            "SELECT id, identity_address, metric_key, max, period, created_at FROM individual_quotas \
             WHERE identity_address = $1 ORDER BY created_at, id",
        )
        .bind(identity.as_str())
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IndividualQuota {
                    id: QuotaId::from_trusted(row.try_get("id")?),
                    identity: IdentityAddress::from_trusted(row.try_get("identity_address")?),
                    limit: limit_from_row(row)?,
                    created_at: from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// `false` if the identity has a quota of that metric and period already.
    pub async fn insert_individual_quota(
        &self,
        conn: &mut AnyConnection,
        q: &IndividualQuota,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO individual_quotas (id, identity_address, metric_key, max, period, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(q.id.as_str())
        .bind(q.identity.as_str())
        .bind(q.limit.metric.as_str())
        .bind(q.limit.max)
        .bind(q.limit.period.as_str())
        .bind(to_millis(&q.created_at))
        .execute(conn)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn delete_individual_quota(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        id: &QuotaId,
    ) -> sqlx::Result<bool> {
        let deleted = sqlx::query("DELETE FROM individual_quotas WHERE identity_address = $1 AND id = $2")
            .bind(identity.as_str())
            .bind(id.as_str())
            .execute(conn)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The identity deletion job's step for this module.
    pub async fn delete_identity(&self, identity: &IdentityAddress) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM individual_quotas WHERE identity_address = $1")
            .bind(identity.as_str())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }
}

/// An unknown stored metric or period is corrupt data, not a default.
fn limit_from_row(row: &AnyRow) -> sqlx::Result<Limit> {
    let metric: String = row.try_get("metric_key")?;
    let period: String = row.try_get("period")?;
    let corrupt = |what: String| sqlx::Error::Decode(what.into());
    Ok(Limit {
        metric: MetricKey::parse(&metric)
            .ok_or_else(|| corrupt(format!("unknown stored metric key {metric:?}")))?,
        max: row.try_get("max")?,
        period: QuotaPeriod::parse(&period)
            .ok_or_else(|| corrupt(format!("unknown stored period {period:?}")))?,
    })
}
