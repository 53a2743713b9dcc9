//! The `[event_bus]` configuration section: which bus carries events between the processes,
//! and how patiently a failing handler is retried before its event is set aside.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::dispatch::RetryPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// The worker that relays an event runs its handlers (embedded default).
    #[default]
    InProcess,
    Rabbitmq,
    GooglePubsub,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Rabbitmq => "rabbitmq",
            Self::GooglePubsub => "google-pubsub",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventBusConfig {
    pub provider: Provider,
    /// Deliveries of an event to a failing handler, the first included, before the event is
    /// moved to the dead letters (1..=20).
    pub max_attempts: u32,
    pub first_retry_delay_milliseconds: u64,
    pub max_retry_delay_milliseconds: u64,
    /// Events a worker takes from each handler's queue before it has acknowledged them
    /// (RabbitMQ's prefetch, Pub/Sub's outstanding messages), 1..=1000.
    pub prefetch: u16,
    pub rabbitmq: RabbitMqConfig,
    pub google_pubsub: GooglePubSubConfig,
}

impl Default for EventBusConfig {
    fn default() -> Self {
        let policy = RetryPolicy::default();
        Self {
            provider: Provider::InProcess,
            max_attempts: policy.max_attempts,
            first_retry_delay_milliseconds: millis(policy.first_delay),
            max_retry_delay_milliseconds: millis(policy.max_delay),
            prefetch: 32,
            rabbitmq: RabbitMqConfig::default(),
            google_pubsub: GooglePubSubConfig::default(),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RabbitMqConfig {
    /// `amqp://user:password@host:port/vhost` (`%2f` is the default vhost) or `amqps://…`.
    pub url: String,
    /// The durable direct exchange events are published to, routed by event type.
    pub exchange: String,
    /// Each handler consumes from the durable queue `<queue_prefix><Module>.<Purpose>`.
    pub queue_prefix: String,
}

impl Default for RabbitMqConfig {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "backbone".into(),
            queue_prefix: "backbone.".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GooglePubSubConfig {
    /// The Google Cloud project (6 to 30 characters).
    pub project_id: String,
    /// Events go to the topic `<topic_prefix>events`; each handler reads the subscription
    /// `<topic_prefix><Module>.<Purpose>`.
    pub topic_prefix: String,
    /// `host:port` of the Pub/Sub emulator; empty: Google's service.
    pub endpoint: String,
    /// A service account key (JSON); empty: the application default credentials.
    pub credentials_json: String,
}

impl Default for GooglePubSubConfig {
    fn default() -> Self {
        Self {
            project_id: "backbone".into(),
            topic_prefix: "backbone-".into(),
            endpoint: String::new(),
            credentials_json: String::new(),
        }
    }
}

impl EventBusConfig {
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            first_delay: Duration::from_millis(self.first_retry_delay_milliseconds),
            max_delay: Duration::from_millis(self.max_retry_delay_milliseconds),
        }
    }

    /// Checks every value; errors name the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=20).contains(&self.max_attempts) {
            bail!("event_bus.max_attempts must be between 1 and 20");
        }
        if !(1..=60_000).contains(&self.first_retry_delay_milliseconds) {
            bail!("event_bus.first_retry_delay_milliseconds must be between 1 and 60000");
        }
        if !(self.first_retry_delay_milliseconds..=600_000).contains(&self.max_retry_delay_milliseconds) {
            bail!("event_bus.max_retry_delay_milliseconds must be between first_retry_delay_milliseconds and 600000");
        }
        if !(1..=1000).contains(&self.prefetch) {
            bail!("event_bus.prefetch must be between 1 and 1000");
        }
        match self.provider {
            Provider::InProcess => Ok(()),
            Provider::Rabbitmq => self.rabbitmq.validate(),
            Provider::GooglePubsub => self.google_pubsub.validate(),
        }
    }
}

/// Letters, digits and `.-_`: safe as a queue, exchange, topic or subscription name.
fn is_name(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

impl RabbitMqConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if !(self.url.starts_with("amqp://") || self.url.starts_with("amqps://")) {
            bail!("event_bus.rabbitmq.url must be an amqp:// or amqps:// URL");
        }
        if self.exchange.is_empty() || self.exchange.len() > 200 || !is_name(&self.exchange) {
            bail!("event_bus.rabbitmq.exchange must be 1 to 200 letters, digits, '.', '-' or '_'");
        }
        if self.queue_prefix.len() > 150 || !is_name(&self.queue_prefix) {
            bail!("event_bus.rabbitmq.queue_prefix must be at most 150 letters, digits, '.', '-' or '_'");
        }
        Ok(())
    }
}

impl GooglePubSubConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let id = &self.project_id;
        let id_is_valid = (6..=30).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_is_valid {
            bail!("event_bus.google_pubsub.project_id must be 6 to 30 lower-case letters, digits or '-', starting with a letter");
        }
        let prefix = &self.topic_prefix;
        if prefix.len() > 200 || !prefix.starts_with(|c: char| c.is_ascii_alphabetic()) || !is_name(prefix) {
            bail!("event_bus.google_pubsub.topic_prefix must start with a letter and hold at most 200 letters, digits, '.', '-' or '_'");
        }
        if !self.endpoint.is_empty() && self.endpoint.parse::<std::net::SocketAddr>().is_err() {
            let (host, port) = self.endpoint.rsplit_once(':').unwrap_or_default();
            if host.is_empty() || port.parse::<u16>().is_err() {
                bail!("event_bus.google_pubsub.endpoint must be host:port (the emulator) or empty");
            }
        }
        if !self.credentials_json.is_empty()
            && serde_json::from_str::<serde_json::Value>(&self.credentials_json).is_err()
        {
            bail!("event_bus.google_pubsub.credentials_json must be a service account key in JSON");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_every_provider() {
        for provider in [Provider::InProcess, Provider::Rabbitmq, Provider::GooglePubsub] {
            let config = EventBusConfig {
                provider,
                ..EventBusConfig::default()
            };
            config.validate().unwrap();
        }
    }

    #[test]
    fn errors_name_the_key() {
        let mut config = EventBusConfig {
            provider: Provider::Rabbitmq,
            ..EventBusConfig::default()
        };
        config.rabbitmq.url = "http://localhost".into();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("event_bus.rabbitmq.url"), "{error}");
        config.rabbitmq = RabbitMqConfig {
            exchange: "has space".into(),
            ..RabbitMqConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("event_bus.rabbitmq.exchange"), "{error}");

        let mut config = EventBusConfig {
            provider: Provider::GooglePubsub,
            ..EventBusConfig::default()
        };
        config.google_pubsub.project_id = "x".into();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("event_bus.google_pubsub.project_id"), "{error}");
        config.google_pubsub.project_id = "backbone".into();
        config.google_pubsub.endpoint = "nonsense".into();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("event_bus.google_pubsub.endpoint"), "{error}");

        let config = EventBusConfig {
            max_attempts: 0,
            ..EventBusConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("event_bus.max_attempts"));
    }
}
