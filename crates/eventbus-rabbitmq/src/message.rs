//! An [`Event`] as an AMQP message, as upstream sends it: the body is the PascalCase payload,
//! the routing key the event type, the message ID the event ID; persistent.

use backbone_eventbus::Event;
use chrono::{DateTime, Utc};
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::BasicProperties;

/// The header that keeps the event's creation time to the millisecond.
const CREATED_AT: &str = "CreatedAt";
/// Persistent: the broker writes it to disk before it confirms.
const PERSISTENT: u8 = 2;

pub fn properties(event: &Event) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        CREATED_AT.into(),
        AMQPValue::LongLongInt(event.created_at.timestamp_millis()),
    );
    BasicProperties::default()
        .with_message_id(ShortString::from(event.id.clone()))
        .with_type(ShortString::from(event.event_type.clone()))
        .with_content_type("application/json".into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(u64::try_from(event.created_at.timestamp()).unwrap_or_default())
        .with_headers(headers)
}

pub fn body(event: &Event) -> Vec<u8> {
    event.payload.to_string().into_bytes()
}

/// The event a delivery carries.
pub fn decode(delivery: &Delivery) -> anyhow::Result<Event> {
    let properties = &delivery.properties;
    let id = properties
        .message_id()
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the message has no message ID"))?
        .to_string();
    let event_type = properties
        .kind()
        .as_ref()
        .map_or_else(|| delivery.routing_key.to_string(), ToString::to_string);
    let created_at = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(CREATED_AT).cloned())
        .and_then(|value| match value {
            AMQPValue::LongLongInt(millis) => DateTime::<Utc>::from_timestamp_millis(millis),
            _ => None,
        })
        .unwrap_or_else(Utc::now);
    let payload = serde_json::from_slice(&delivery.data)
        .map_err(|e| anyhow::anyhow!("the body of {id} is not JSON: {e}"))?;
    Ok(Event {
        id,
        event_type,
        payload,
        created_at,
    })
}
