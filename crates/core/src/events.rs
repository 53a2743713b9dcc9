//! Domain events: what modules tell each other. They are written to the outbox in the same
//! transaction as the change that raised them, then relayed to the event bus.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    /// Unique per event; handlers use it to stay idempotent.
    pub id: String,
    /// Upstream's bus name: the class name without the `DomainEvent` suffix.
    pub event_type: &'static str,
    /// JSON payload with upstream's PascalCase property names.
    pub payload: serde_json::Value,
}

impl DomainEvent {
    pub fn new(event_type: &'static str, payload: &impl Serialize) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            event_type,
            payload: serde_json::to_value(payload).expect("event payloads serialize"),
        }
    }
}
