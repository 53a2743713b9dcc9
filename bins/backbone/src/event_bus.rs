//! Wiring of the `[event_bus]` section: the bus the outbox relay publishes to, the consumers
//! the worker role runs, the health check, and the fan-out that carries SSE pushes to every
//! Consumer API replica.
//!
//! | provider | relay publishes to | handlers run in | SSE fan-out |
//! | --- | --- | --- | --- |
//! | `in-process` | the handlers directly | the relaying worker | `LISTEN/NOTIFY` on PostgreSQL; on SQLite none (one process) |
//! | `rabbitmq` | a durable direct exchange, with publisher confirms | each worker's consumers of the per-handler queues | as above |
//! | `google-pubsub` | one topic, waiting for the server's ack | each worker's streaming pulls of the per-handler filtered subscriptions | as above |

use std::sync::Arc;

use backbone_core::SharedClock;
use backbone_db::{Database, Dialect};
use backbone_eventbus::fanout::{FanOut, PostgresFanOut};
use backbone_eventbus::health::InProcessHealth;
use backbone_eventbus::{
    BusHealth, DeadLetterStore, Dispatcher, EventBus, EventHandler, InProcessBus, Provider,
};

use backbone_eventbus_pubsub::PubSubBus;
use backbone_eventbus_rabbitmq::RabbitMqBus;

use crate::config::Settings;

/// The PostgreSQL channel SSE signals travel on.
const SSE_CHANNEL: &str = "backbone_sse";

/// The fan-out SSE pushes travel on to every Consumer API replica: `LISTEN/NOTIFY` on
/// PostgreSQL (replicas share the database, whichever bus runs). `None` on SQLite, whose
/// file serves one host: the process that sends pushes hands them to its own hub.
pub fn sse_fan_out(settings: &Settings, db: &Database) -> Option<Arc<dyn FanOut>> {
    match db.dialect() {
        Dialect::Postgres => Some(Arc::new(PostgresFanOut::new(
            db.clone(),
            settings.database_url(),
            SSE_CHANNEL,
        ))),
        Dialect::Sqlite => None,
    }
}

/// Everything about events that the roles share.
#[derive(Clone)]
pub struct Events {
    /// The handlers of this process, with retries and dead letters.
    pub dispatcher: Dispatcher,
    pub dead_letters: DeadLetterStore,
    /// What the outbox relay publishes to.
    pub bus: Arc<dyn EventBus>,
    pub health: Arc<dyn BusHealth>,
    broker: Broker,
    prefetch: u16,
}

#[derive(Clone)]
enum Broker {
    InProcess,
    RabbitMq(RabbitMqBus),
    PubSub(PubSubBus),
}

impl Events {
    /// Connects the configured bus (in the background: a broker that is down delays events,
    /// it does not stop the process).
    pub fn build(
        settings: &Settings,
        db: &Database,
        handlers: Vec<Arc<dyn EventHandler>>,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let config = &settings.event_bus;
        let dead_letters = DeadLetterStore::new(db.clone());
        let dispatcher =
            Dispatcher::new(handlers).with_dead_letters(dead_letters.clone(), config.retry_policy(), clock);
        let (bus, health, broker): (Arc<dyn EventBus>, Arc<dyn BusHealth>, Broker) = match config.provider {
            Provider::InProcess => (
                Arc::new(InProcessBus::from_dispatcher(dispatcher.clone())),
                Arc::new(InProcessHealth),
                Broker::InProcess,
            ),
            Provider::Rabbitmq => {
                let bus = RabbitMqBus::start(config.rabbitmq.clone(), &dispatcher);
                (
                    Arc::new(bus.clone()),
                    Arc::new(bus.clone()),
                    Broker::RabbitMq(bus),
                )
            }
            Provider::GooglePubsub => {
                let bus = PubSubBus::start(config.google_pubsub.clone(), &dispatcher);
                (Arc::new(bus.clone()), Arc::new(bus.clone()), Broker::PubSub(bus))
            }
        };
        Ok(Self {
            dispatcher,
            dead_letters,
            bus,
            health,
            broker,
            prefetch: config.prefetch,
        })
    }

    /// The RabbitMQ bus, when it is the configured one (inspection in tests and tools).
    pub fn rabbitmq(&self) -> Option<&RabbitMqBus> {
        match &self.broker {
            Broker::RabbitMq(bus) => Some(bus),
            Broker::InProcess | Broker::PubSub(_) => None,
        }
    }

    /// The Pub/Sub bus, when it is the configured one.
    pub fn pubsub(&self) -> Option<&PubSubBus> {
        match &self.broker {
            Broker::PubSub(bus) => Some(bus),
            Broker::InProcess | Broker::RabbitMq(_) => None,
        }
    }

    /// Closes the broker connection (RabbitMQ) before the process ends.
    pub async fn close(&self) {
        if let Broker::RabbitMq(bus) = &self.broker {
            bus.close(std::time::Duration::from_secs(5)).await;
        }
    }

    /// The worker role: with a broker, consume the handlers' queues (the in-process bus needs
    /// nothing: the relay runs the handlers).
    pub fn start_consumers(&self) {
        let prefetch = self.prefetch;
        match &self.broker {
            Broker::InProcess => {}
            Broker::RabbitMq(bus) => bus.consume(self.dispatcher.clone(), prefetch),
            Broker::PubSub(bus) => bus.consume(&self.dispatcher, prefetch),
        }
    }
}
