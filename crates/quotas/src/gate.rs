//! The quota check that enforced use cases run inside their own write transaction.

use backbone_core::error::ExhaustedMetric;
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::AnyConnection;
use chrono::{DateTime, Utc};

use crate::domain::applied;
use crate::{QuotasError, QuotasService};

impl QuotasService {
    /// Refuses with [`QuotasError::Exhausted`] if any of `metrics` is exhausted for `identity`.
    ///
    /// Call it on the write transaction of the operation, before it inserts anything. The
    /// tier is read with the identity's row locked (PostgreSQL) until the transaction ends, so
    /// the usage counted here and the row inserted after it cannot interleave with another
    /// write of the same identity; the count runs after the lock was granted, in a statement of
    /// its own, so it sees every write committed by the previous holder.
    pub async fn check(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        metrics: &[MetricKey],
        now: DateTime<Utc>,
    ) -> Result<(), QuotasError> {
        let Some(tier) = self.tiers.tier_of(conn, identity, true).await? else {
            return Ok(());
        };
        let quotas = self.store.quotas_for(conn, identity, &tier, metrics).await?;
        if quotas.is_empty() {
            return Ok(());
        }
        let mut exhausted = Vec::new();
        for &metric in metrics {
            let mut until: Option<DateTime<Utc>> = None;
            for quota in applied(&quotas, metric) {
                // A maximum of 0 is exhausted whatever the usage: no need to count.
                let usage = if quota.limit.max == 0 {
                    0
                } else {
                    let window = quota.limit.period.window(now);
                    self.usage.usage(conn, identity, metric, window).await?
                };
                until = until.max(quota.exhausted_until(usage, now));
            }
            if let Some(until) = until {
                exhausted.push(ExhaustedMetric {
                    metric_key: metric.as_str().to_owned(),
                    is_exhausted_until: until,
                });
            }
        }
        if exhausted.is_empty() {
            Ok(())
        } else {
            for m in &exhausted {
                metrics::counter!("backbone_quota_rejections_total", "metric" => m.metric_key.clone())
                    .increment(1);
                crate::rejections::record(&m.metric_key);
            }
            Err(QuotasError::Exhausted(exhausted))
        }
    }
}
