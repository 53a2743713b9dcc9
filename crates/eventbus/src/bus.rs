use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A domain event as it travels on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per event; the key handlers deduplicate on.
    pub id: String,
    /// Upstream's bus name, e.g. `RelationshipStatusChanged`.
    pub event_type: String,
    /// Upstream's PascalCase JSON payload.
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl Event {
    /// The payload as a typed incoming event.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| anyhow::anyhow!("malformed {} payload: {e}", self.event_type))
    }
}

/// Something a module does when another module's event arrives. Must be idempotent.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// `<Module>.<Purpose>`: names the consumer for deduplication and logs.
    fn name(&self) -> &'static str;

    /// The event types this handler wants.
    fn event_types(&self) -> &'static [&'static str];

    async fn handle(&self, event: &Event) -> anyhow::Result<()>;
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Accepts the event for delivery; an error means it must be offered again later.
    async fn publish(&self, event: &Event) -> anyhow::Result<()>;
}

/// Delivers events to handlers in this process, one after another.
#[derive(Default, Clone)]
pub struct InProcessBus {
    handlers: Vec<Arc<dyn EventHandler>>,
}

impl InProcessBus {
    pub fn new(handlers: Vec<Arc<dyn EventHandler>>) -> Self {
        Self { handlers }
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    /// Runs every subscribed handler. If one fails the whole event is offered again later;
    /// handlers that already succeeded skip it then, because they are idempotent.
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        for handler in self
            .handlers
            .iter()
            .filter(|h| h.event_types().contains(&event.event_type.as_str()))
        {
            handler.handle(event).await.map_err(|e| {
                e.context(format!(
                    "{} failed on {} {}",
                    handler.name(),
                    event.event_type,
                    event.id
                ))
            })?;
        }
        Ok(())
    }
}
