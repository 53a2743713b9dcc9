//! The event bus on RabbitMQ (through `lapin`).
//!
//! - **Topology** (declared by every process on every connect, so queues exist before the
//!   first publish and nothing is routed to nowhere): a durable direct exchange
//!   (`event_bus.rabbitmq.exchange`), and per handler a durable queue
//!   `<queue_prefix><Module>.<Purpose>` bound with each event type the handler subscribes to.
//! - **Publishing** (the outbox relay): persistent messages on a channel in confirm mode;
//!   [`EventBus::publish`] returns only once the broker confirmed, so the relay marks an
//!   event published only then. Without a connection it fails, and the event stays in the
//!   outbox.
//! - **Consuming** (the worker role, [`RabbitMqBus::consume`]): one channel per queue with a
//!   bounded prefetch and manual acks. Deliveries about the same identity or relationship
//!   are handled in order, others concurrently; the handler runs through the
//!   [`Dispatcher`] (retries, dead letters), then the message is acked. An outage
//!   (database down) nacks it back to the queue. Redeliveries change nothing: handlers are
//!   idempotent.
//! - **Reconnection**: a supervisor task keeps one connection; when it is lost (broker
//!   restart) it connects again with back-off and restores publisher and consumers, without
//!   restarting the process.

mod consumer;
mod message;
mod supervisor;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backbone_eventbus::config::RabbitMqConfig;
use backbone_eventbus::{BusHealth, Dispatcher, Event, EventBus};
use lapin::options::{BasicPublishOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::Channel;
use tokio::sync::watch;

/// How long a publish waits for a connection before it fails (the relay tries again later).
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// How long a publish waits for the broker's confirm.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// One handler's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub queue: String,
    pub handler: &'static str,
    pub event_types: Vec<&'static str>,
}

/// What the worker role consumes with.
#[derive(Clone)]
struct Consuming {
    dispatcher: Dispatcher,
    prefetch: u16,
}

struct Shared {
    config: RabbitMqConfig,
    queues: Vec<QueueSpec>,
    /// The confirm-mode channel of the current connection; `None` while disconnected.
    publisher: watch::Sender<Option<Channel>>,
    consuming: watch::Sender<Option<Consuming>>,
    /// Set by [`RabbitMqBus::close`] and [`RabbitMqBus::delete_topology`]: the supervisor stops.
    retired: std::sync::atomic::AtomicBool,
    /// The supervisor task, awaited by [`RabbitMqBus::close`].
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    last_error: Mutex<Option<String>>,
}

/// The bus; cheap to clone. Dropping every clone does not stop the supervisor: it runs for
/// the life of the process, like the other workers.
#[derive(Clone)]
pub struct RabbitMqBus {
    shared: Arc<Shared>,
}

impl RabbitMqBus {
    /// Starts connecting in the background and returns at once: a broker that is down delays
    /// events, it does not stop the process.
    pub fn start(config: RabbitMqConfig, dispatcher: &Dispatcher) -> Self {
        let queues = queues(&config, dispatcher);
        let shared = Arc::new(Shared {
            config,
            queues,
            publisher: watch::channel(None).0,
            consuming: watch::channel(None).0,
            retired: false.into(),
            supervisor: Mutex::new(None),
            last_error: Mutex::new(Some("not connected yet".into())),
        });
        let task = tokio::spawn(supervisor::run(shared.clone()));
        *lock(&shared.supervisor) = Some(task);
        Self { shared }
    }

    /// Stops the supervisor and closes the connection to the broker, so that a process that
    /// ends (a CLI command, a stopped server) does not leave it to the runtime's shutdown,
    /// which lapin reports as a connection error. Waits at most `within`.
    pub async fn close(&self, within: Duration) {
        self.retire();
        let Some(mut task) = lock(&self.shared.supervisor).take() else {
            return;
        };
        if tokio::time::timeout(within, &mut task).await.is_err() {
            task.abort();
        }
    }

    /// Marks the bus retired and ends the current session; the supervisor then stops.
    fn retire(&self) {
        self.shared
            .retired
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.consuming.send_replace(None);
    }

    /// Starts consuming every handler's queue (now, and after every reconnect).
    pub fn consume(&self, dispatcher: Dispatcher, prefetch: u16) {
        self.shared.consuming.send_replace(Some(Consuming {
            dispatcher,
            prefetch: prefetch.max(1),
        }));
    }

    pub fn queues(&self) -> &[QueueSpec] {
        &self.shared.queues
    }

    /// Waits until connected (tests and start-up checks).
    pub async fn connected(&self, within: Duration) -> bool {
        self.channel(within).await.is_some()
    }

    async fn channel(&self, within: Duration) -> Option<Channel> {
        let mut publisher = self.shared.publisher.subscribe();
        let ready = tokio::time::timeout(
            within,
            publisher.wait_for(|channel| channel.as_ref().is_some_and(|c| c.status().connected())),
        )
        .await;
        match ready {
            Ok(Ok(channel)) => channel.clone(),
            _ => None,
        }
    }

    /// Messages ready in each handler's queue (not yet delivered to a consumer).
    pub async fn queue_depths(&self) -> anyhow::Result<Vec<(String, u32)>> {
        let (connection, channel) = self.admin_channel().await?;
        let depths = self.read_depths(&channel).await;
        supervisor::close(connection, "inspected").await;
        depths
    }

    async fn read_depths(&self, channel: &Channel) -> anyhow::Result<Vec<(String, u32)>> {
        let mut depths = Vec::new();
        for queue in &self.shared.queues {
            let options = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            let declared = channel
                .queue_declare(&queue.queue, options, FieldTable::default())
                .await?;
            depths.push((queue.queue.clone(), declared.message_count()));
        }
        Ok(depths)
    }

    /// Stops this bus for good and deletes the queues and the exchange it declared (tests;
    /// decommissioning). Other processes still connected would declare them again.
    pub async fn delete_topology(&self) -> anyhow::Result<()> {
        let (connection, channel) = self.admin_channel().await?;
        self.close(Duration::from_secs(5)).await;
        let deleted = self.delete_declared(&channel).await;
        supervisor::close(connection, "deleted").await;
        deleted
    }

    async fn delete_declared(&self, channel: &Channel) -> anyhow::Result<()> {
        for queue in &self.shared.queues {
            channel
                .queue_delete(&queue.queue, QueueDeleteOptions::default())
                .await?;
        }
        channel
            .exchange_delete(&self.shared.config.exchange, ExchangeDeleteOptions::default())
            .await?;
        Ok(())
    }

    /// A channel on a connection of its own, for inspection: what it does (a passive declare
    /// of a missing queue closes the channel) cannot disturb publishing or consuming. The
    /// channel is not closed on its own but with its connection (see `supervisor::connect`).
    async fn admin_channel(&self) -> anyhow::Result<(lapin::Connection, Channel)> {
        let connection = supervisor::open(&self.shared.config.url).await?;
        let channel = connection.create_channel().await?;
        Ok((connection, channel))
    }

    fn last_error(&self) -> String {
        lock(&self.shared.last_error)
            .clone()
            .unwrap_or_else(|| "not connected".into())
    }
}

/// The guarded value even if a holder panicked: each of these is replaced whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every handler's queue, named after it and bound to the types it subscribes to.
fn queues(config: &RabbitMqConfig, dispatcher: &Dispatcher) -> Vec<QueueSpec> {
    dispatcher
        .handlers()
        .iter()
        .map(|handler| QueueSpec {
            queue: format!("{}{}", config.queue_prefix, handler.name()),
            handler: handler.name(),
            event_types: handler.event_types().to_vec(),
        })
        .collect()
}

#[async_trait]
impl EventBus for RabbitMqBus {
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        let Some(channel) = self.channel(CONNECT_WAIT).await else {
            anyhow::bail!("not connected to RabbitMQ: {}", self.last_error());
        };
        let confirm = channel
            .basic_publish(
                &self.shared.config.exchange,
                &event.event_type,
                BasicPublishOptions::default(),
                &message::body(event),
                message::properties(event),
            )
            .await?;
        let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
            .await
            .map_err(|_| anyhow::anyhow!("RabbitMQ did not confirm {} in time", event.id))??;
        anyhow::ensure!(confirmation.is_ack(), "RabbitMQ refused {}", event.id);
        Ok(())
    }
}

#[async_trait]
impl BusHealth for RabbitMqBus {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    async fn check(&self) -> Result<(), String> {
        let connected = self
            .shared
            .publisher
            .borrow()
            .as_ref()
            .is_some_and(|channel| channel.status().connected());
        if connected {
            Ok(())
        } else {
            Err(self.last_error())
        }
    }
}
