//! The dashboard's port: usage figures that no Admin API endpoint offers. The binary
//! implements it with queries that the owning modules expose.

use chrono::{DateTime, NaiveDate, Utc};

/// How many things happened on one UTC day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: i64,
}

#[derive(Clone, Debug, Default)]
pub struct UsageSnapshot {
    /// Days without any are left out.
    pub identities_created_per_day: Vec<DayCount>,
    pub messages_sent_per_day: Vec<DayCount>,
    /// Devices that logged in since `since`.
    pub active_devices: i64,
    /// Domain events written but not yet handed to the event bus.
    pub outbox_backlog: i64,
    /// Push notifications waiting to be sent (or retried).
    pub push_queue: i64,
    /// Requests refused because a quota was exhausted, per metric key, since this process
    /// started.
    pub quota_exhaustions: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
#[error("the usage figures could not be read: {0:#}")]
pub struct StatisticsError(#[from] pub anyhow::Error);

#[async_trait::async_trait]
pub trait UsageStatistics: Send + Sync {
    /// The figures from `since` (the start of the first day shown) until now.
    async fn snapshot(&self, since: DateTime<Utc>) -> Result<UsageSnapshot, StatisticsError>;
}
