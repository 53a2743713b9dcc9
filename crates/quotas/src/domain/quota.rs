//! Quotas and the exhaustion rule (admin-and-services §1.6).
//!
//! An identity's quotas are its individual quotas and its tier's quota definitions. For each
//! metric only the quotas of the highest weight apply: one individual quota of a metric hides
//! every tier quota of that metric. A quota is exhausted when the usage in its current window
//! has reached `max`, until the end of that window; a metric is exhausted until the latest of
//! its applied quotas' exhaustion dates.

use backbone_core::ids::{QuotaId, TierId, TierQuotaDefinitionId};
use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use chrono::{DateTime, Utc};

use super::period::QuotaPeriod;
use crate::QuotasError;

/// Where a quota of an identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QuotaSource {
    /// From the identity's tier (weight 1).
    Tier,
    /// Set for this identity (weight 2).
    Individual,
}

impl QuotaSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tier => "Tier",
            Self::Individual => "Individual",
        }
    }
}

/// What a quota limits, to how much, per which period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub metric: MetricKey,
    pub max: i64,
    pub period: QuotaPeriod,
}

/// Upstream's validator: operators give limits above zero (only the seeded
/// "Queued for Deletion" quotas are 0).
pub fn check_max(max: i64) -> Result<(), QuotasError> {
    if max <= 0 {
        return Err(QuotasError::MaxNotPositive);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct TierQuotaDefinition {
    pub id: TierQuotaDefinitionId,
    pub tier_id: TierId,
    pub limit: Limit,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndividualQuota {
    pub id: QuotaId,
    pub identity: IdentityAddress,
    pub limit: Limit,
    pub created_at: DateTime<Utc>,
}

/// One quota of an identity, whichever its source; `id` is the definition's or the
/// individual quota's ID.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub id: String,
    pub source: QuotaSource,
    pub limit: Limit,
}

impl Quota {
    /// §1.6 step 2: the end of the current window if the usage reached `max`.
    pub fn exhausted_until(&self, usage: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let max = u64::try_from(self.limit.max).unwrap_or(0);
        (usage >= max).then(|| self.limit.period.window(now).to)
    }
}

impl From<TierQuotaDefinition> for Quota {
    fn from(definition: TierQuotaDefinition) -> Self {
        Self {
            id: definition.id.into_string(),
            source: QuotaSource::Tier,
            limit: definition.limit,
        }
    }
}

impl From<IndividualQuota> for Quota {
    fn from(quota: IndividualQuota) -> Self {
        Self {
            id: quota.id.into_string(),
            source: QuotaSource::Individual,
            limit: quota.limit,
        }
    }
}

/// §1.6 step 1: the quotas of `metric` that apply.
pub fn applied(quotas: &[Quota], metric: MetricKey) -> Vec<&Quota> {
    let of_metric = quotas.iter().filter(|q| q.limit.metric == metric);
    let Some(highest) = of_metric.clone().map(|q| q.source).max() else {
        return Vec::new();
    };
    of_metric.filter(|q| q.source == highest).collect()
}

/// A new quota definition for a tier, in upstream's order of checks: the "Queued for
/// Deletion" tier's quotas are fixed, and a tier has one quota per metric and period.
pub fn define_for_tier(
    tier: &TierId,
    existing: &[TierQuotaDefinition],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<TierQuotaDefinition, QuotasError> {
    if *tier == TierId::queued_for_deletion() {
        return Err(QuotasError::QueuedForDeletionTier);
    }
    if existing.iter().any(|d| same_target(&d.limit, &limit)) {
        return Err(QuotasError::DuplicateQuota);
    }
    Ok(TierQuotaDefinition {
        id: TierQuotaDefinitionId::generate(),
        tier_id: tier.clone(),
        limit,
        created_at: now,
    })
}

/// Operators may not remove the "Queued for Deletion" tier's quotas either.
pub fn check_removable_from(tier: &TierId) -> Result<(), QuotasError> {
    if *tier == TierId::queued_for_deletion() {
        return Err(QuotasError::QueuedForDeletionTier);
    }
    Ok(())
}

/// A new individual quota: one per metric and period per identity.
pub fn define_for_identity(
    identity: &IdentityAddress,
    existing: &[IndividualQuota],
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<IndividualQuota, QuotasError> {
    if existing.iter().any(|q| same_target(&q.limit, &limit)) {
        return Err(QuotasError::DuplicateQuota);
    }
    Ok(IndividualQuota {
        id: QuotaId::generate(),
        identity: identity.clone(),
        limit,
        created_at: now,
    })
}

fn same_target(a: &Limit, b: &Limit) -> bool {
    a.metric == b.metric && a.period == b.period
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(source: QuotaSource, metric: MetricKey, max: i64, period: QuotaPeriod) -> Quota {
        Quota {
            id: format!("{}{max}", source.as_str()),
            source,
            limit: Limit { metric, max, period },
        }
    }

    #[test]
    fn an_individual_quota_hides_the_tier_quotas_of_its_metric_only() {
        use MetricKey::{NumberOfFiles, NumberOfSentMessages};
        let quotas = [
            quota(QuotaSource::Tier, NumberOfSentMessages, 1, QuotaPeriod::Hour),
            quota(QuotaSource::Tier, NumberOfSentMessages, 5, QuotaPeriod::Day),
            quota(
                QuotaSource::Individual,
                NumberOfSentMessages,
                100,
                QuotaPeriod::Day,
            ),
            quota(QuotaSource::Tier, NumberOfFiles, 3, QuotaPeriod::Total),
        ];
        let sent: Vec<_> = applied(&quotas, NumberOfSentMessages)
            .iter()
            .map(|q| q.limit.max)
            .collect();
        assert_eq!(sent, [100]);
        let files: Vec<_> = applied(&quotas, NumberOfFiles)
            .iter()
            .map(|q| q.limit.max)
            .collect();
        assert_eq!(files, [3]);
        assert!(applied(&quotas, MetricKey::NumberOfTokens).is_empty());
    }

    #[test]
    fn a_quota_is_exhausted_from_max_until_the_end_of_its_window() {
        let now = Utc::now();
        let q = quota(QuotaSource::Tier, MetricKey::NumberOfTokens, 2, QuotaPeriod::Hour);
        assert_eq!(q.exhausted_until(1, now), None);
        assert_eq!(q.exhausted_until(2, now), Some(QuotaPeriod::Hour.window(now).to));
        let zero = quota(
            QuotaSource::Tier,
            MetricKey::NumberOfTokens,
            0,
            QuotaPeriod::Total,
        );
        assert!(zero.exhausted_until(0, now).is_some());
    }

    #[test]
    fn definitions_follow_upstream_rules() {
        let now = Utc::now();
        let limit = Limit {
            metric: MetricKey::NumberOfFiles,
            max: 3,
            period: QuotaPeriod::Day,
        };
        assert!(matches!(check_max(0), Err(QuotasError::MaxNotPositive)));
        assert!(check_max(1).is_ok());
        let tier = TierId::generate();
        let first = define_for_tier(&tier, &[], limit, now).unwrap();
        assert!(matches!(
            define_for_tier(&tier, std::slice::from_ref(&first), limit, now),
            Err(QuotasError::DuplicateQuota)
        ));
        let other_period = Limit {
            period: QuotaPeriod::Week,
            ..limit
        };
        assert!(define_for_tier(&tier, &[first], other_period, now).is_ok());
        assert!(matches!(
            define_for_tier(&TierId::queued_for_deletion(), &[], limit, now),
            Err(QuotasError::QueuedForDeletionTier)
        ));
    }
}
