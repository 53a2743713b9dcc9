//! Wiring of the `[event_bus]` section: the bus the outbox relay publishes to, the consumers
//! the worker role runs, the health check, and the fan-out that carries SSE pushes to every
//! Consumer API replica.
//!
//! | provider | relay publishes to | handlers run in | SSE fan-out |
//! | --- | --- | --- | --- |
//! | `in-process` | the handlers directly | the relaying worker | `LISTEN/NOTIFY` on PostgreSQL, in memory on SQLite |
//! | `rabbitmq` | a durable direct exchange, with publisher confirms | each worker's consumers of the per-handler queues | `LISTEN/NOTIFY` on PostgreSQL, in memory on SQLite |
//! | `google-pubsub` | one topic, waiting for the server's ack | each worker's streaming pulls of the per-handler subscriptions | as above |

use std::sync::Arc;

use backbone_core::SharedClock;
use backbone_db::{Database, Dialect};
use backbone_eventbus::fanout::{FanOut, LocalFanOut, PostgresFanOut};
use backbone_eventbus::health::InProcessHealth;
use backbone_eventbus::{
    BusHealth, DeadLetterStore, Dispatcher, EventBus, EventHandler, InProcessBus, Provider,
};

use crate::config::Settings;

/// The PostgreSQL channel SSE signals travel on.
const SSE_CHANNEL: &str = "backbone_sse";

/// Everything about events that the roles share.
#[derive(Clone)]
pub struct Events {
    /// The handlers of this process, with retries and dead letters.
    pub dispatcher: Dispatcher,
    pub dead_letters: DeadLetterStore,
    /// What the outbox relay publishes to.
    pub bus: Arc<dyn EventBus>,
    pub health: Arc<dyn BusHealth>,
    /// Signals every Consumer API replica hears (SSE pushes).
    pub fan_out: Arc<dyn FanOut>,
    broker: Broker,
}

#[derive(Clone)]
enum Broker {
    InProcess,
}

impl Events {
    /// Connects the configured bus (in the background: a broker that is down delays events,
    /// it does not stop the process).
    pub async fn build(
        settings: &Settings,
        db: &Database,
        handlers: Vec<Arc<dyn EventHandler>>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let config = &settings.event_bus;
        let dead_letters = DeadLetterStore::new(db.clone());
        let dispatcher =
            Dispatcher::new(handlers).with_dead_letters(dead_letters.clone(), config.retry_policy(), clock);
        let fan_out: Arc<dyn FanOut> = match db.dialect() {
            Dialect::Postgres => Arc::new(PostgresFanOut::new(
                db.clone(),
                settings.database_url(),
                SSE_CHANNEL,
            )),
            Dialect::Sqlite => Arc::new(LocalFanOut::default()),
        };
        let (bus, health, broker): (Arc<dyn EventBus>, Arc<dyn BusHealth>, Broker) = match config.provider {
            Provider::InProcess => (
                Arc::new(InProcessBus::from_dispatcher(dispatcher.clone())),
                Arc::new(InProcessHealth),
                Broker::InProcess,
            ),
            Provider::Rabbitmq | Provider::GooglePubsub => {
                anyhow::bail!(
                    "event_bus.provider {} is not available yet",
                    config.provider.as_str()
                )
            }
        };
        Ok(Self {
            dispatcher,
            dead_letters,
            bus,
            health,
            fan_out,
            broker,
        })
    }

    /// The worker role: with a broker, consume the handlers' queues (the in-process bus needs
    /// nothing: the relay runs the handlers).
    pub fn start_consumers(&self) {
        match &self.broker {
            Broker::InProcess => {}
        }
    }
}
