//! Domain events: what modules tell each other. They are written to the outbox in the same
//! transaction as the change that raised them, then relayed to the event bus.
//!
//! Every event that crosses a module boundary is one type here, in a file named after the
//! module that publishes it. The publisher builds the value and [`DomainEvent::from_event`]
//! serializes it; a subscriber lists the types it handles with [`event_set!`] and gets them
//! decoded. The payloads are upstream's PascalCase JSON, unchanged from what the outbox holds
//! already, so stored events still decode.

pub mod announcements;
pub mod devices;
pub mod files;
pub mod messages;
pub mod relationships;
pub mod synchronization;
pub mod tokens;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// An event one module publishes and others may subscribe to.
pub trait IntegrationEvent: Serialize + DeserializeOwned {
    /// Upstream's bus name: the class name without the `DomainEvent` suffix.
    const EVENT_TYPE: &'static str;
}

/// The events a subscriber handles, as one enum (declare it with [`event_set!`]): the bus
/// subscribes it to exactly [`Self::TYPES`] and hands it the decoded variant.
pub trait EventSet: Sized {
    const TYPES: &'static [&'static str];

    /// The variant for `event_type`, `None` if the set does not contain it, an error if the
    /// payload does not fit the type.
    fn decode(event_type: &str, payload: &serde_json::Value) -> Result<Option<Self>, serde_json::Error>;
}

/// Declares an enum with one variant per handled event type and implements [`EventSet`] for
/// it, so the list of subscribed types is the list of variants:
///
/// ```
/// use backbone_core::event_set;
/// use backbone_core::events::relationships::RelationshipStatusChanged;
///
/// event_set! {
///     enum Incoming {
///         StatusChanged(RelationshipStatusChanged),
///     }
/// }
/// # use backbone_core::events::{EventSet, IntegrationEvent};
/// # assert_eq!(Incoming::TYPES, [RelationshipStatusChanged::EVENT_TYPE]);
/// ```
#[macro_export]
macro_rules! event_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident($event:ty)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $($variant($event)),+
        }

        impl $crate::events::EventSet for $name {
            const TYPES: &'static [&'static str] =
                &[$(<$event as $crate::events::IntegrationEvent>::EVENT_TYPE),+];

            fn decode(
                event_type: &str,
                payload: &$crate::events::Payload,
            ) -> Result<Option<Self>, $crate::events::PayloadError> {
                $(
                    if event_type == <$event as $crate::events::IntegrationEvent>::EVENT_TYPE {
                        return $crate::events::decode_payload::<$event>(payload).map(|e| Some(Self::$variant(e)));
                    }
                )+
                Ok(None)
            }
        }
    };
}

/// The JSON a payload travels as; named for [`event_set!`], so its users need no `serde_json`.
pub type Payload = serde_json::Value;
pub type PayloadError = serde_json::Error;

/// Decodes one event's payload; used by [`event_set!`].
pub fn decode_payload<E: IntegrationEvent>(payload: &Payload) -> Result<E, PayloadError> {
    E::deserialize(payload)
}

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
    /// A new event (with a fresh ID) carrying `event`.
    ///
    /// # Panics
    ///
    /// Never for this crate's events: their fields are strings, numbers, dates and lists,
    /// which always serialize.
    pub fn from_event<E: IntegrationEvent>(event: &E) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            event_type: E::EVENT_TYPE,
            payload: serde_json::to_value(event).expect("event payloads serialize"),
        }
    }
}

#[cfg(test)]
mod tests;
