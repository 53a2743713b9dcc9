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
//! Every bus hands events to handlers through a [`Dispatcher`]: a handler that keeps failing
//! on an event is retried with back-off a bounded number of times, then the event goes to the
//! [`DeadLetterStore`] for that handler and the events behind it go on.
//!
//! The embedded default is the [`InProcessBus`]: the relay runs the handlers itself. Brokers
//! (RabbitMQ in `backbone-eventbus-rabbitmq`, Google Pub/Sub in `backbone-eventbus-pubsub`)
//! implement the same trait, so modules never know which one runs. [`fanout`] carries the
//! short-lived signals every replica must see (SSE pushes).

mod bus;
pub mod config;
pub mod dead_letters;
mod dispatch;
pub mod fanout;
pub mod health;
mod ordering;
mod relay;

pub use bus::{Event, EventBus, EventHandler, InProcessBus, Subscriber};
pub use config::{EventBusConfig, Provider};
pub use dead_letters::{DeadLetter, DeadLetterStore};
pub use dispatch::{is_outage, Dispatcher, RetryOutcome, RetryPolicy};
pub use health::BusHealth;
pub use ordering::{ordering_keys, KeyedSequencer};
pub use relay::{claim_sql, OutboxBacklog, OutboxRelay, RelayWorker};
