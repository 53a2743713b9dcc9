use std::sync::Arc;

use async_trait::async_trait;
use backbone_core::events::EventSet;
use chrono::{DateTime, Utc};

use crate::dispatch::Dispatcher;

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
    /// The event as a variant of `S`; `None` if `S` does not contain its type.
    pub fn decode<S: EventSet>(&self) -> anyhow::Result<Option<S>> {
        S::decode(&self.event_type, &self.payload)
            .map_err(|e| anyhow::anyhow!("malformed {} payload: {e}", self.event_type))
    }
}

/// What the bus delivers to. Modules implement [`Subscriber`] instead, which implements this.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// `<Module>.<Purpose>`: names the consumer for deduplication and logs.
    fn name(&self) -> &'static str;

    /// The event types this handler wants.
    fn event_types(&self) -> &'static [&'static str];

    async fn handle(&self, event: &Event) -> anyhow::Result<()>;
}

/// Something a module does when another module's events arrive. Must be idempotent.
///
/// The events it handles are the variants of [`Self::Events`] (an enum declared with
/// `backbone_core::event_set!`): the bus subscribes it to exactly their types and hands it the
/// decoded variant, so what it subscribes to and what it matches on cannot drift apart.
#[async_trait]
pub trait Subscriber: Send + Sync {
    /// `<Module>.<Purpose>`: names the consumer for deduplication and logs.
    const NAME: &'static str;

    type Events: EventSet + Send;

    /// Handles `decoded`, the payload of `event` (whose envelope gives the ID and time).
    async fn on_event(&self, event: &Event, decoded: Self::Events) -> anyhow::Result<()>;
}

#[async_trait]
impl<S: Subscriber> EventHandler for S {
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn event_types(&self) -> &'static [&'static str] {
        S::Events::TYPES
    }

    async fn handle(&self, event: &Event) -> anyhow::Result<()> {
        match event.decode::<S::Events>()? {
            Some(decoded) => self.on_event(event, decoded).await,
            // The bus only delivers subscribed types; anything else is not ours to handle.
            None => Ok(()),
        }
    }
}

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Accepts the event for delivery; an error means it must be offered again later.
    async fn publish(&self, event: &Event) -> anyhow::Result<()>;
}

/// Delivers events to the handlers in this process, through a [`Dispatcher`] (retries and
/// dead letters when it has a store).
#[derive(Clone)]
pub struct InProcessBus {
    dispatcher: Dispatcher,
}

impl InProcessBus {
    /// A bus whose handler failures go back to the relay (no retries, no dead letters).
    pub fn new(handlers: Vec<Arc<dyn EventHandler>>) -> Self {
        Self::from_dispatcher(Dispatcher::new(handlers))
    }

    pub fn from_dispatcher(dispatcher: Dispatcher) -> Self {
        Self { dispatcher }
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    /// Runs every subscribed handler. If one fails for good (or the database is down) the
    /// whole event is offered again later; handlers that already succeeded skip it then,
    /// because they are idempotent.
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        self.dispatcher.dispatch(event).await
    }
}
