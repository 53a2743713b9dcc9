//! Request and response shapes (admin-and-services §1.4, consumer-api-identity §11.3).

use backbone_core::quotas::MetricKey;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::domain::{IndividualQuota, Limit, Quota, QuotaPeriod, TierQuotaDefinition};
use crate::service::{NewQuota, TierDetails};

/// `QuotaRequest`. Like upstream's `required` members every property must be present;
/// `metricKey` may be null (the validator refuses it then, with another code).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaRequest {
    #[serde(deserialize_with = "nullable")]
    metric_key: Option<String>,
    #[serde(deserialize_with = "int32")]
    max: i64,
    #[serde(deserialize_with = "period")]
    #[schema(value_type = String)]
    period: QuotaPeriod,
}

impl From<QuotaRequest> for NewQuota {
    fn from(request: QuotaRequest) -> Self {
        Self {
            metric_key: request.metric_key,
            max: request.max,
            period: request.period,
        }
    }
}

fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
}

/// An `int`: a JSON integer in range, or a string holding one (ASP.NET's web defaults).
fn int32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let number = match &value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    number.filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "The JSON value {value} could not be converted to an int."
        ))
    })
}

/// A period by name (any case) or by its number, as upstream's enum binding accepts.
fn period<'de, D: Deserializer<'de>>(deserializer: D) -> Result<QuotaPeriod, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let period = match &value {
        Value::String(name) => QuotaPeriod::parse(name.trim()),
        Value::Number(n) => n.as_i64().and_then(QuotaPeriod::from_index),
        _ => None,
    };
    period.ok_or_else(|| {
        serde::de::Error::custom(format!(
            "The JSON value {value} is not a period (Hour, Day, Week, Month, Year, Total)."
        ))
    })
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDto {
    pub key: &'static str,
    pub display_name: &'static str,
}

impl From<MetricKey> for MetricDto {
    fn from(key: MetricKey) -> Self {
        Self {
            key: key.as_str(),
            display_name: key.display_name(),
        }
    }
}

/// `TierQuotaDefinition` and `IndividualQuota` have the same shape.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuotaDefinitionDto {
    pub id: String,
    pub metric: MetricDto,
    pub max: i64,
    pub period: &'static str,
}

impl QuotaDefinitionDto {
    fn new(id: String, limit: Limit) -> Self {
        Self {
            id,
            metric: limit.metric.into(),
            max: limit.max,
            period: limit.period.as_str(),
        }
    }
}

impl From<TierQuotaDefinition> for QuotaDefinitionDto {
    fn from(d: TierQuotaDefinition) -> Self {
        Self::new(d.id.into_string(), d.limit)
    }
}

impl From<IndividualQuota> for QuotaDefinitionDto {
    fn from(q: IndividualQuota) -> Self {
        Self::new(q.id.into_string(), q.limit)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TierDetailsDto {
    pub id: String,
    pub name: String,
    pub quotas: Vec<QuotaDefinitionDto>,
}

impl From<TierDetails> for TierDetailsDto {
    fn from(t: TierDetails) -> Self {
        Self {
            id: t.id.into_string(),
            name: t.name,
            quotas: t.quotas.into_iter().map(Into::into).collect(),
        }
    }
}

/// One entry of `IdentityDetails.quotas` (Admin API). A tier quota's `id` is its definition's.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityQuotaDto {
    pub id: String,
    pub source: &'static str,
    pub metric: MetricDto,
    pub max: i64,
    pub usage: u64,
    pub period: &'static str,
}

impl From<(Quota, u64)> for IdentityQuotaDto {
    fn from((quota, usage): (Quota, u64)) -> Self {
        Self {
            id: quota.id,
            source: quota.source.as_str(),
            metric: quota.limit.metric.into(),
            max: quota.limit.max,
            usage,
            period: quota.limit.period.as_str(),
        }
    }
}

/// `GET /api/v2/Quotas`: the caller's quotas grouped by metric, in order of appearance.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaGroupDto {
    pub metric_key: &'static str,
    pub quotas: Vec<SingleQuotaDto>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingleQuotaDto {
    /// `Tier` or `Individual`
    pub source: &'static str,
    pub metric_key: &'static str,
    pub max: i64,
    pub usage: u64,
    pub period: &'static str,
}

pub fn group_by_metric(quotas: Vec<(Quota, u64)>) -> Vec<QuotaGroupDto> {
    let mut groups: Vec<QuotaGroupDto> = Vec::new();
    for (quota, usage) in quotas {
        let key = quota.limit.metric.as_str();
        let single = SingleQuotaDto {
            source: quota.source.as_str(),
            metric_key: key,
            max: quota.limit.max,
            usage,
            period: quota.limit.period.as_str(),
        };
        match groups.iter_mut().find(|g| g.metric_key == key) {
            Some(group) => group.quotas.push(single),
            None => groups.push(QuotaGroupDto {
                metric_key: key,
                quotas: vec![single],
            }),
        }
    }
    groups
}
