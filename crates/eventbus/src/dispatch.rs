//! Delivering one event to its handlers, the same way on every bus: a handler that fails is
//! retried with exponential back-off a bounded number of times, then the event is set aside
//! for that handler in the dead-letter store and counts as handled, so the events behind it
//! go on. Only an outage (the database unreachable) is not the event's fault: such a failure
//! is returned at once and the bus offers the event again later, without using up retries.

use std::sync::Arc;
use std::time::Duration;

use backbone_core::SharedClock;

use crate::dead_letters::DeadLetterStore;
use crate::{Event, EventHandler};

/// How often a failing handler is tried before its event is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries in all, the first included (at least 1).
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based): doubling from `first_delay`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The longest a poisoned event can hold back the events that must follow it.
    pub fn budget(&self) -> Duration {
        (1..self.max_attempts)
            .map(|attempt| self.delay_after(attempt))
            .sum()
    }
}

/// Whether a handler's failure is an outage rather than something wrong with the event.
pub fn is_outage(error: &anyhow::Error) -> bool {
    backbone_db::is_unavailable(error)
}

/// The handlers of this process and what to do when one keeps failing.
#[derive(Clone)]
pub struct Dispatcher {
    handlers: Arc<[Arc<dyn EventHandler>]>,
    policy: RetryPolicy,
    /// `None`: failures are returned to the bus instead (tests of raw handler behaviour).
    dead_letters: Option<DeadLetterStore>,
    clock: Option<SharedClock>,
}

impl Dispatcher {
    /// Failures go back to the bus, which offers the event again (no dead letters).
    pub fn new(handlers: Vec<Arc<dyn EventHandler>>) -> Self {
        Self {
            handlers: handlers.into(),
            policy: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            dead_letters: None,
            clock: None,
        }
    }

    /// Retries failures under `policy`, then sets the event aside in `store`.
    #[must_use]
    pub fn with_dead_letters(
        mut self,
        store: DeadLetterStore,
        policy: RetryPolicy,
        clock: SharedClock,
    ) -> Self {
        self.dead_letters = Some(store);
        self.policy = policy;
        self.clock = Some(clock);
        self
    }

    pub fn handlers(&self) -> &[Arc<dyn EventHandler>] {
        &self.handlers
    }

    pub fn handler(&self, name: &str) -> Option<&Arc<dyn EventHandler>> {
        self.handlers.iter().find(|h| h.name() == name)
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Every event type some handler subscribes to.
    pub fn event_types(&self) -> Vec<&'static str> {
        let mut types: Vec<&'static str> = self
            .handlers
            .iter()
            .flat_map(|h| h.event_types().iter().copied())
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// Delivers `event` to every handler subscribed to its type, one after another (later
    /// handlers may depend on what earlier ones wrote). An `Err` means the event must be
    /// offered again; handlers that already succeeded skip it then (they are idempotent).
    pub async fn dispatch(&self, event: &Event) -> anyhow::Result<()> {
        for handler in self
            .handlers
            .iter()
            .filter(|h| h.event_types().contains(&event.event_type.as_str()))
        {
            self.deliver(handler.as_ref(), event).await?;
        }
        Ok(())
    }

    /// Delivers `event` to one handler with retries; `Ok` also when it was set aside.
    pub async fn deliver(&self, handler: &dyn EventHandler, event: &Event) -> anyhow::Result<()> {
        let mut attempt = 1;
        loop {
            let error = match handler.handle(event).await {
                Ok(()) => return Ok(()),
                Err(error) => error.context(format!(
                    "{} failed on {} {}",
                    handler.name(),
                    event.event_type,
                    event.id
                )),
            };
            let Some(store) = self.dead_letters.as_ref().filter(|_| !is_outage(&error)) else {
                return Err(error);
            };
            if attempt < self.policy.max_attempts {
                tracing::warn!(handler = handler.name(), event_id = %event.id, attempt, error = %format!("{error:#}"), "event handler failed; will retry");
                tokio::time::sleep(self.policy.delay_after(attempt)).await;
                attempt += 1;
                continue;
            }
            let now = self
                .clock
                .as_ref()
                .map_or_else(chrono::Utc::now, |clock| clock.now());
            store
                .store(handler.name(), event, &format!("{error:#}"), attempt, now)
                .await?;
            tracing::error!(handler = handler.name(), event_id = %event.id, event_type = %event.event_type, attempts = attempt, error = %format!("{error:#}"), "event handler keeps failing; the event was moved to the dead letters");
            return Ok(());
        }
    }

    /// Replays a dead letter once; on success it is removed, otherwise its error is updated.
    pub async fn retry_dead_letter(&self, id: &str) -> anyhow::Result<RetryOutcome> {
        let store = self
            .dead_letters
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this dispatcher keeps no dead letters"))?;
        let Some(letter) = store.find(id).await? else {
            return Ok(RetryOutcome::NotFound);
        };
        let handler = self
            .handler(&letter.consumer)
            .ok_or_else(|| anyhow::anyhow!("no handler named {} in this version", letter.consumer))?;
        let event = letter.event();
        match handler.handle(&event).await {
            Ok(()) => {
                store.delete(id).await?;
                Ok(RetryOutcome::Handled)
            }
            Err(error) => {
                let error = format!("{error:#}");
                let now = self
                    .clock
                    .as_ref()
                    .map_or_else(chrono::Utc::now, |clock| clock.now());
                store.store(&letter.consumer, &event, &error, 1, now).await?;
                Ok(RetryOutcome::FailedAgain(error))
            }
        }
    }
}

/// What became of a replayed dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    Handled,
    FailedAgain(String),
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_maximum_and_the_budget_sums_them() {
        let policy = RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let delays: Vec<u128> = (1..5).map(|a| policy.delay_after(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500]);
        assert_eq!(policy.budget(), Duration::from_millis(1200));
    }
}
