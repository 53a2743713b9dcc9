//! How many requests this process refused per metric because a quota was exhausted, for the
//! Admin UI's dashboard. Quotas are checked inside each write and no exhaustion status is
//! stored, so the refusals themselves are what there is to count. Process-wide, like the
//! `backbone_quota_rejections_total` counter it sits beside: both start at zero with the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

static REJECTIONS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

pub(crate) fn record(metric: &str) {
    let mut counts = REJECTIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *counts.entry(metric.to_owned()).or_default() += 1;
}

/// Refused requests per metric key since the process started, by key.
pub fn rejections_since_start() -> Vec<(String, u64)> {
    let counts = REJECTIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    counts
        .iter()
        .map(|(metric, count)| (metric.clone(), *count))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_add_up_per_metric() {
        let before = |key: &str| {
            rejections_since_start()
                .into_iter()
                .find(|(m, _)| m == key)
                .map_or(0, |(_, n)| n)
        };
        let start = before("TestMetricForTally");
        record("TestMetricForTally");
        record("TestMetricForTally");
        assert_eq!(before("TestMetricForTally"), start + 2);
    }
}
