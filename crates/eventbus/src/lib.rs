//! How domain events travel between modules.
//!
//! A module writes its events to the outbox in the same transaction as the change (see
//! `backbone_db::outbox`). The [`OutboxRelay`] later reads unpublished events and hands them to
//! an [`EventBus`]; only after the bus accepted an event is it marked published, so no event is
//! lost. The bus delivers each event to the [`EventHandler`]s subscribed to its type; modules
//! write [`Subscriber`]s, which declare the typed events they handle (see
//! `backbone_core::events`). Delivery is at least once, so every handler must be idempotent;
//! [`backbone_db::processed::mark_processed`] gives handlers a one-line way to be so inside
//! their own transaction.
//!
//! The embedded default uses [`InProcessBus`]. A broker-backed bus (RabbitMQ) implements the
//! same trait, so modules never know which one runs.

mod bus;
mod ordering;
mod relay;

pub use bus::{Event, EventBus, EventHandler, InProcessBus, Subscriber};
pub use relay::{OutboxBacklog, OutboxRelay, RelayWorker, CLAIM_SQL};
