//! Latencies and failures per operation, collected per client (no locking on the hot path)
//! and merged at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::client::Failure;

#[derive(Default)]
struct OpStats {
    /// Every finished request, failed ones included: a 500 after 20 s is a 20 s request.
    latencies: Vec<Duration>,
    ok: u64,
    failures: BTreeMap<String, u64>,
}

#[derive(Default)]
pub(crate) struct Recorder {
    ops: BTreeMap<&'static str, OpStats>,
}

impl Recorder {
    pub(crate) fn record<T>(&mut self, op: &'static str, elapsed: Duration, result: &Result<T, Failure>) {
        let stats = self.ops.entry(op).or_default();
        stats.latencies.push(elapsed);
        match result {
            Ok(_) => stats.ok += 1,
            Err(failure) => *stats.failures.entry(failure.label()).or_default() += 1,
        }
    }

    pub(crate) fn merge(&mut self, other: Recorder) {
        for (op, theirs) in other.ops {
            let ours = self.ops.entry(op).or_default();
            ours.latencies.extend(theirs.latencies);
            ours.ok += theirs.ok;
            for (label, n) in theirs.failures {
                *ours.failures.entry(label).or_default() += n;
            }
        }
    }

    pub(crate) fn requests(&self) -> usize {
        self.ops.values().map(|s| s.latencies.len()).sum()
    }

    pub(crate) fn ok(&self, op: &str) -> u64 {
        self.ops.get(op).map_or(0, |s| s.ok)
    }

    /// Failures of every operation by label.
    pub(crate) fn failures(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for stats in self.ops.values() {
            for (label, n) in &stats.failures {
                *all.entry(label.clone()).or_default() += n;
            }
        }
        all
    }

    /// The per-operation table, an `all` row, and the failures by operation and kind.
    pub(crate) fn print(&self, wall: Duration) {
        println!(
            "{:<44} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "operation", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "failed"
        );
        let mut all = OpStats::default();
        for (op, stats) in &self.ops {
            print_row(op, stats, wall);
            all.latencies.extend(&stats.latencies);
            all.ok += stats.ok;
        }
        all.failures.insert("any".into(), self.failures().values().sum());
        print_row("all", &all, wall);
        let mut any = false;
        for (op, stats) in &self.ops {
            for (label, n) in &stats.failures {
                if !any {
                    println!("failures by operation and kind:");
                    any = true;
                }
                println!("  {n:>7} × {label:<60} {op}");
            }
        }
        if !any {
            println!("failures: none");
        }
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
)]
fn print_row(op: &str, stats: &OpStats, wall: Duration) {
    let n = stats.latencies.len();
    if n == 0 {
        return;
    }
    let mut sorted = stats.latencies.clone();
    sorted.sort_unstable();
    let failed: u64 = stats.failures.values().sum();
    println!(
        "{op:<44} {n:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {failed:>7}",
        n as f64 / wall.as_secs_f64(),
        ms(percentile(&sorted, 0.50)),
        ms(percentile(&sorted, 0.99)),
        ms(*sorted.last().unwrap_or(&Duration::ZERO)),
    );
}

/// The nearest-rank percentile of sorted values.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the nearest rank ceil(n * p) of a length n, with p in 0..=1, is a small whole number"
)]
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Latencies of one operation, sorted.
pub(crate) fn sorted_latencies(recorder: &Recorder, op: &str) -> Vec<Duration> {
    let mut sorted = recorder
        .ops
        .get(op)
        .map(|s| s.latencies.clone())
        .unwrap_or_default();
    sorted.sort_unstable();
    sorted
}
