//! The server's memory and the machine's load, read from `/proc` (Linux only; elsewhere the
//! figures are reported as unavailable).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A `kB` field of `/proc/<pid>/status`, e.g. `VmRSS` or `VmHWM`.
pub(crate) fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The 1, 5 and 15 minute load averages as `/proc/loadavg` shows them.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unavailable".into(),
        |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

#[expect(
    clippy::cast_precision_loss,
    reason = "a benchmark report: counts far below 2^52, where f64 is exact enough"
)]
fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// Samples the server's resident set every 250 ms while the load runs: `VmHWM` alone would
/// include the set-up, and the sampled peak shows what the load itself takes.
pub(crate) struct RssSampler {
    pid: u32,
    before_kb: Option<u64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Option<u64>>,
}

impl RssSampler {
    pub(crate) fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = None;
            while !flag.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    peak = peak.max(Some(kb));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            peak
        });
        Self {
            pid,
            before_kb: status_kb(pid, "VmRSS"),
            stop,
            task,
        }
    }

    /// Stops sampling and prints before, peak during and `VmHWM` (peak since the start).
    pub(crate) async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.task.await.ok().flatten();
        let show = |kb: Option<u64>| kb.map_or_else(|| "unavailable".into(), mib);
        println!(
            "server RSS (pid {}): before load {}, peak during load {}, after load {}; VmHWM {}",
            self.pid,
            show(self.before_kb),
            show(peak),
            show(status_kb(self.pid, "VmRSS")),
            show(status_kb(self.pid, "VmHWM")),
        );
    }
}
