//! Sends queued deliveries: the worker role runs [`PushWorker`]; tests call
//! [`PushSender::run_due`] step by step with a manual clock.
//!
//! Each due delivery is claimed, sent through its connector and then: deleted when sent;
//! deleted together with its registration when the handle is invalid; rescheduled with
//! exponential back-off after a temporary failure (until `max_attempts`); dropped with an error
//! log after a permanent one. Claims expire, so a sender that dies leaves nothing stuck.

use std::sync::Arc;
use std::time::Duration;

use backbone_core::SharedClock;
use futures::future::join_all;
use tokio::sync::Notify;

use crate::config::DeliveryConfig;
use crate::connectors::{Connectors, Outcome};
use crate::domain::{retry_delay, Delivery};
use crate::store::PushStore;

/// How patiently deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_delay: chrono::Duration,
    pub max_delay: chrono::Duration,
    /// How long a sender may work on a claimed delivery before another may take it.
    pub claim: chrono::Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &DeliveryConfig) -> Self {
        let timeout = i64::try_from(config.request_timeout_milliseconds).unwrap_or(i64::MAX / 4);
        Self {
            max_attempts: config.max_attempts,
            first_delay: chrono::Duration::seconds(
                i64::try_from(config.first_retry_delay_seconds).unwrap_or(1),
            ),
            max_delay: chrono::Duration::seconds(
                i64::try_from(config.max_retry_delay_seconds).unwrap_or(3600),
            ),
            // A send may need a token exchange and the message request, each up to the timeout.
            claim: chrono::Duration::milliseconds(timeout.saturating_mul(3)) + chrono::Duration::seconds(30),
        }
    }
}

/// What one [`PushSender::run_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    /// Handles found invalid: their registrations were removed.
    pub invalid_handles: usize,
    /// Temporary failures, to be tried again later.
    pub retried: usize,
    /// Permanent failures, or retries exhausted.
    pub dropped: usize,
}

impl SendReport {
    pub fn total(&self) -> usize {
        self.sent + self.invalid_handles + self.retried + self.dropped
    }
}

#[derive(Clone)]
pub struct PushSender {
    pub store: PushStore,
    pub connectors: Arc<Connectors>,
    pub clock: SharedClock,
    pub policy: RetryPolicy,
}

impl PushSender {
    /// Sends up to `limit` due deliveries concurrently and records what became of them.
    pub async fn run_due(&self, limit: i64) -> anyhow::Result<SendReport> {
        let now = self.clock.now();
        let deliveries = self.store.claim_due(now, limit, now + self.policy.claim).await?;
        let outcomes = join_all(deliveries.iter().map(|d| self.connectors.send(d))).await;
        let mut report = SendReport::default();
        for (delivery, outcome) in deliveries.iter().zip(outcomes) {
            self.settle(delivery, outcome, &mut report).await?;
        }
        Ok(report)
    }

    async fn settle(
        &self,
        delivery: &Delivery,
        outcome: Outcome,
        report: &mut SendReport,
    ) -> anyhow::Result<()> {
        let platform = delivery.platform.as_str();
        let event = delivery.event_name.as_deref().unwrap_or("(text only)");
        match outcome {
            Outcome::Sent => {
                count_delivery(platform, "sent");
                tracing::debug!(device = %delivery.device_id, platform, event, "push notification sent");
                self.store.delete_delivery(&delivery.id).await?;
                report.sent += 1;
            }
            Outcome::InvalidHandle(reason) => {
                count_delivery(platform, "invalid_handle");
                tracing::info!(device = %delivery.device_id, platform, %reason, "deleting the device's push registration since its handle is no longer valid");
                self.store
                    .delete_registration_if(&delivery.device_id, delivery.platform, &delivery.handle)
                    .await?;
                self.store.delete_delivery(&delivery.id).await?;
                report.invalid_handles += 1;
            }
            Outcome::Retry(reason) => {
                let attempts = delivery.attempts + 1;
                if attempts >= i64::from(self.policy.max_attempts) {
                    count_delivery(platform, "given_up");
                    tracing::error!(device = %delivery.device_id, platform, event, attempts, %reason, "giving up on a push notification");
                    self.store.delete_delivery(&delivery.id).await?;
                    report.dropped += 1;
                } else {
                    count_delivery(platform, "retried");
                    let next = self.clock.now()
                        + retry_delay(attempts, self.policy.first_delay, self.policy.max_delay);
                    tracing::warn!(device = %delivery.device_id, platform, event, attempts, %reason, next_attempt_at = %next, "push notification failed; will retry");
                    self.store
                        .reschedule(&delivery.id, attempts, next, &reason)
                        .await?;
                    report.retried += 1;
                }
            }
            Outcome::Failed(reason) => {
                count_delivery(platform, "failed");
                tracing::error!(device = %delivery.device_id, platform, event, %reason, "push notification could not be sent");
                self.store.delete_delivery(&delivery.id).await?;
                report.dropped += 1;
            }
        }
        Ok(())
    }
}

/// `backbone_push_deliveries_total{platform,result}` for `/metrics`.
fn count_delivery(platform: &str, result: &'static str) {
    metrics::counter!("backbone_push_deliveries_total", "platform" => platform.to_owned(), "result" => result)
        .increment(1);
}

/// The worker role's loop: send whenever woken (deliveries queued in this process) or every
/// `interval` (queued elsewhere, or retries that became due).
pub struct PushWorker {
    pub sender: PushSender,
    pub wake: Arc<Notify>,
    pub interval: Duration,
}

impl PushWorker {
    pub async fn run(self) {
        loop {
            match self.sender.run_due(50).await {
                Ok(report) if report.total() > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::error!(error = %format!("{error:#}"), "the push sender failed"),
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}
