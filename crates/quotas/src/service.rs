//! Use cases of the Quotas module for operators (Admin API, CLI) and for the quota overview
//! of an identity, in upstream's order of checks (which decides the error an operator sees):
//! the request's own validity, then the tier or identity, then the metric, then the rules.

use std::sync::Arc;

use backbone_core::ids::{QuotaId, TierId, TierQuotaDefinitionId};
use backbone_core::quotas::MetricKey;
use backbone_core::{IdentityAddress, SharedClock};

use crate::domain::quota::{check_max, check_removable_from, define_for_identity, define_for_tier};
use crate::domain::{IndividualQuota, Limit, Quota, QuotaPeriod, TierQuotaDefinition};
use crate::ports::{TierDirectory, UsageCounter};
use crate::store::QuotasStore;
use crate::QuotasError;

#[derive(Clone)]
pub struct QuotasService {
    pub store: QuotasStore,
    pub tiers: Arc<dyn TierDirectory>,
    pub usage: Arc<dyn UsageCounter>,
    pub clock: SharedClock,
}

/// A quota as an operator asks for it (`QuotaRequest`), after the body was read.
#[derive(Debug, Clone)]
pub struct NewQuota {
    /// Present but possibly null in the body.
    pub metric_key: Option<String>,
    pub max: i64,
    pub period: QuotaPeriod,
}

/// A tier with its quota definitions (`TierDetails`).
#[derive(Debug, Clone)]
pub struct TierDetails {
    pub id: TierId,
    pub name: String,
    pub quotas: Vec<TierQuotaDefinition>,
}

fn invalid_id(property: &str) -> QuotasError {
    QuotasError::InvalidProperty(format!(
        "'{property}': The ID or Address is not valid. Check length, prefix and the used characters."
    ))
}

fn parse_tier(id: &str) -> Result<TierId, QuotasError> {
    TierId::parse(id).ok_or_else(|| invalid_id("tierId"))
}

fn parse_address(address: &str) -> Result<IdentityAddress, QuotasError> {
    IdentityAddress::parse(address).ok_or_else(|| invalid_id("identityAddress"))
}

/// The validator's part: `max` above zero, a metric key given (it is checked later).
fn validate(new: &NewQuota) -> Result<&str, QuotasError> {
    check_max(new.max)?;
    new.metric_key
        .as_deref()
        .ok_or_else(|| QuotasError::InvalidProperty("'metricKey' must not be empty.".into()))
}

fn parse_metric(key: &str) -> Result<MetricKey, QuotasError> {
    MetricKey::parse(key).ok_or(QuotasError::UnsupportedMetricKey)
}

impl QuotasService {
    pub fn metrics(&self) -> &'static [MetricKey] {
        &MetricKey::ALL
    }

    pub async fn tier_details(&self, tier: &str) -> Result<TierDetails, QuotasError> {
        let id = parse_tier(tier)?;
        let mut conn = self.store.db().pool().acquire().await?;
        let name = self.tiers.tier_name(&mut conn, &id, false).await?;
        let name = name.ok_or(QuotasError::NotFound("Tier"))?;
        let quotas = self.store.tier_quotas(&mut conn, &id).await?;
        Ok(TierDetails { id, name, quotas })
    }

    pub async fn create_tier_quota(
        &self,
        tier: &str,
        new: NewQuota,
    ) -> Result<TierQuotaDefinition, QuotasError> {
        let tier = parse_tier(tier)?;
        let key = validate(&new)?;
        let mut tx = self.store.db().begin_write().await?;
        // Locked: the tier cannot be deleted before this definition is committed.
        if self.tiers.tier_name(&mut tx, &tier, true).await?.is_none() {
            return Err(QuotasError::NotFound("Tier"));
        }
        let limit = Limit {
            metric: parse_metric(key)?,
            max: new.max,
            period: new.period,
        };
        let existing = self.store.tier_quotas(&mut tx, &tier).await?;
        let definition = define_for_tier(&tier, &existing, limit, self.clock.now())?;
        if !self.store.insert_tier_quota(&mut tx, &definition).await? {
            return Err(QuotasError::DuplicateQuota);
        }
        tx.commit().await?;
        Ok(definition)
    }

    pub async fn delete_tier_quota(&self, tier: &str, id: &str) -> Result<(), QuotasError> {
        let tier = parse_tier(tier)?;
        let id = TierQuotaDefinitionId::parse(id).ok_or_else(|| invalid_id("tierQuotaDefinitionId"))?;
        let mut tx = self.store.db().begin_write().await?;
        if self.tiers.tier_name(&mut tx, &tier, false).await?.is_none() {
            return Err(QuotasError::NotFound("Tier"));
        }
        check_removable_from(&tier)?;
        if !self.store.delete_tier_quota(&mut tx, &tier, &id).await? {
            return Err(QuotasError::NotFound("TierQuotaDefinition"));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_individual_quota(
        &self,
        address: &str,
        new: NewQuota,
    ) -> Result<IndividualQuota, QuotasError> {
        let identity = parse_address(address)?;
        let key = validate(&new)?;
        let mut tx = self.store.db().begin_write().await?;
        if self.tiers.tier_of(&mut tx, &identity, false).await?.is_none() {
            return Err(QuotasError::NotFound("Identity"));
        }
        let limit = Limit {
            metric: parse_metric(key)?,
            max: new.max,
            period: new.period,
        };
        let existing = self.store.individual_quotas(&mut tx, &identity).await?;
        let quota = define_for_identity(&identity, &existing, limit, self.clock.now())?;
        if !self.store.insert_individual_quota(&mut tx, &quota).await? {
            return Err(QuotasError::DuplicateQuota);
        }
        tx.commit().await?;
        Ok(quota)
    }

    pub async fn delete_individual_quota(&self, address: &str, id: &str) -> Result<(), QuotasError> {
        let identity = parse_address(address)?;
        let mut tx = self.store.db().begin_write().await?;
        if self.tiers.tier_of(&mut tx, &identity, false).await?.is_none() {
            return Err(QuotasError::NotFound("Identity"));
        }
        let id = QuotaId::parse(id).ok_or_else(|| invalid_id("individualQuotaId"))?;
        if !self
            .store
            .delete_individual_quota(&mut tx, &identity, &id)
            .await?
        {
            return Err(QuotasError::NotFound("IndividualQuota"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every quota of the identity, individual ones first, each with its usage in its current
    /// window (also the quotas that are hidden and do not apply).
    pub async fn quotas_with_usage(
        &self,
        identity: &IdentityAddress,
    ) -> Result<Vec<(Quota, u64)>, QuotasError> {
        let mut conn = self.store.db().pool().acquire().await?;
        let tier = self.tiers.tier_of(&mut conn, identity, false).await?;
        let tier = tier.ok_or(QuotasError::NotFound("Identity"))?;
        let individual = self.store.individual_quotas(&mut conn, identity).await?;
        let of_tier = self.store.tier_quotas(&mut conn, &tier).await?;
        let quotas = individual
            .into_iter()
            .map(Quota::from)
            .chain(of_tier.into_iter().map(Quota::from));
        let now = self.clock.now();
        let mut with_usage = Vec::new();
        for quota in quotas {
            let window = quota.limit.period.window(now);
            let usage = self
                .usage
                .usage(&mut conn, identity, quota.limit.metric, window)
                .await?;
            with_usage.push((quota, usage));
        }
        Ok(with_usage)
    }

    /// The identity deletion job's step: its individual quotas.
    pub async fn delete_identity(&self, identity: &IdentityAddress) -> Result<(), QuotasError> {
        Ok(self.store.delete_identity(identity).await?)
    }
}
