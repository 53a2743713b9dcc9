//! `[http]`: limits of the HTTP server that both listeners (Consumer API, Admin API) share.
//! They keep slow, idle and hostile clients from holding connections, file descriptors and
//! memory; see `crate::server` and `crate::body_limits`.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Seconds a client has to complete a request head once its first byte arrived.
    pub header_read_timeout_seconds: f64,
    /// Seconds a request body may stall (no data arriving) before the request ends with an
    /// error; a slow but steady upload is not cut off.
    pub request_body_timeout_seconds: f64,
    /// Seconds a connection may wait for its next request (or a new one for its first).
    pub idle_timeout_seconds: f64,
    /// Open connections per listener; further clients wait in the listen backlog. Lowered at
    /// start if the open-file limit cannot hold them.
    pub max_connections: usize,
    /// Seconds a shutdown waits for requests in flight before it closes their connections.
    pub shutdown_timeout_seconds: f64,
    /// Seconds between SIGTERM and closing the listeners, during which `/health/ready`
    /// answers 503 and requests are still served, so that load balancers stop sending new
    /// ones first (Kubernetes: a few seconds, less than terminationGracePeriodSeconds).
    pub shutdown_drain_seconds: f64,
    /// Request bodies at least this large (by `Content-Length`) are read only once they fit
    /// into the large-body budget.
    pub large_body_threshold_bytes: usize,
    /// Bytes of large request bodies the Consumer API reads at the same time.
    pub large_body_budget_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_seconds: 10.0,
            request_body_timeout_seconds: 60.0,
            idle_timeout_seconds: 60.0,
            max_connections: 1024,
            shutdown_timeout_seconds: 10.0,
            shutdown_drain_seconds: 0.0,
            large_body_threshold_bytes: 1024 * 1024,
            large_body_budget_bytes: 64 * 1024 * 1024,
        }
    }
}

impl HttpSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        seconds(
            "header_read_timeout_seconds",
            self.header_read_timeout_seconds,
            600.0,
        )?;
        seconds(
            "request_body_timeout_seconds",
            self.request_body_timeout_seconds,
            3600.0,
        )?;
        seconds("idle_timeout_seconds", self.idle_timeout_seconds, 3600.0)?;
        if !(0.0..=600.0).contains(&self.shutdown_timeout_seconds) {
            bail!("http.shutdown_timeout_seconds must be between 0 and 600");
        }
        if !(0.0..=600.0).contains(&self.shutdown_drain_seconds) {
            bail!("http.shutdown_drain_seconds must be between 0 and 600");
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            bail!("http.max_connections must be between 1 and 1000000");
        }
        if self.large_body_threshold_bytes < 1 {
            bail!("http.large_body_threshold_bytes must be at least 1");
        }
        if self.large_body_budget_bytes < self.large_body_threshold_bytes {
            bail!("http.large_body_budget_bytes must be at least http.large_body_threshold_bytes");
        }
        Ok(())
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.header_read_timeout_seconds)
    }

    pub fn request_body_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_body_timeout_seconds)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_seconds)
    }

    pub fn shutdown_drain(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_drain_seconds)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_timeout_seconds)
    }
}

fn seconds(key: &str, value: f64, max: f64) -> anyhow::Result<()> {
    // Negated, so that NaN fails too.
    if !(value > 0.0 && value <= max) {
        bail!("http.{key} must be more than 0 and at most {max}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_key() {
        HttpSettings::default().validate().unwrap();
        let error = |change: fn(&mut HttpSettings)| {
            let mut settings = HttpSettings::default();
            change(&mut settings);
            settings.validate().unwrap_err().to_string()
        };
        assert!(error(|s| s.header_read_timeout_seconds = 0.0).contains("http.header_read_timeout_seconds"));
        assert!(error(|s| s.idle_timeout_seconds = f64::NAN).contains("http.idle_timeout_seconds"));
        assert!(error(|s| s.request_body_timeout_seconds = 1e9).contains("http.request_body_timeout_seconds"));
        assert!(error(|s| s.max_connections = 0).contains("http.max_connections"));
        assert!(error(|s| s.large_body_budget_bytes = 10).contains("http.large_body_budget_bytes"));
    }
}
