//! Quotas, periods and the exhaustion rule: no HTTP, no SQL.

pub mod period;
pub mod quota;

pub use period::{QuotaPeriod, Window};
pub use quota::{applied, IndividualQuota, Limit, Quota, QuotaSource, TierQuotaDefinition};
