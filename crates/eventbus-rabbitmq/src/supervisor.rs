//! Keeps one connection to the broker: connects (with back-off while the broker is down),
//! declares the topology, opens the publisher channel and, in the worker role, the
//! consumers; when the connection is lost it starts over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::{consumer, Shared};

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// A connection that lasted this long was healthy: the next failure starts the back-off anew.
const STABLE: Duration = Duration::from_secs(30);

/// Why a session ended.
enum End {
    /// The worker role asked to consume: reconnect at once with consumers.
    ConsumingChanged,
    Lost(anyhow::Error),
}

pub async fn run(shared: Arc<Shared>) {
    let mut consuming = shared.consuming.subscribe();
    let mut delay = FIRST_RETRY;
    loop {
        if shared.retired.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        let end = session(&shared, &mut consuming).await;
        shared.publisher.send_replace(None);
        match end {
            End::ConsumingChanged => continue,
            End::Lost(error) => {
                let error = format!("{error:#}");
                tracing::warn!(%error, "RabbitMQ connection lost or refused; reconnecting");
                *shared
                    .last_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
            }
        }
        if started.elapsed() > STABLE {
            delay = FIRST_RETRY;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY);
    }
}

async fn session(
    shared: &Shared,
    consuming: &mut tokio::sync::watch::Receiver<Option<crate::Consuming>>,
) -> End {
    consuming.mark_unchanged();
    let lost = Arc::new(Notify::new());
    let connection = match connect(shared, lost.clone()).await {
        Ok(connection) => connection,
        Err(error) => return End::Lost(error),
    };
    let mut consumers = JoinSet::new();
    let spec = consuming.borrow().clone();
    if let Some(spec) = spec {
        for queue in &shared.queues {
            let channel = match connection.create_channel().await {
                Ok(channel) => channel,
                Err(error) => return End::Lost(error.into()),
            };
            consumers.spawn(consumer::run(
                channel,
                queue.clone(),
                spec.dispatcher.clone(),
                spec.prefetch,
            ));
        }
    }
    tracing::info!(consumers = consumers.len(), "connected to RabbitMQ");
    let end = tokio::select! {
        () = lost.notified() => End::Lost(anyhow::anyhow!("the connection to RabbitMQ was lost")),
        Some(result) = consumers.join_next() => End::Lost(match result {
            Ok(Err(error)) => error,
            Ok(Ok(())) => anyhow::anyhow!("a consumer stopped"),
            Err(error) => anyhow::anyhow!("a consumer panicked: {error}"),
        }),
        Ok(()) = consuming.changed() => End::ConsumingChanged,
    };
    consumers.abort_all();
    if shared.retired.load(std::sync::atomic::Ordering::SeqCst) {
        close(connection, "closing").await;
    } else {
        // Reconnecting at once matters more than the old I/O thread's last log line.
        let _ = connection.close(200, "reconnecting").await;
    }
    end
}

/// Closes a connection and waits until lapin's I/O thread has ended: left running, it would
/// fail (and log errors) when the runtime shuts down at the end of the process.
pub async fn close(connection: Connection, reason: &str) {
    let _ = connection.close(200, reason).await;
    let io_loop = tokio::task::spawn_blocking(move || connection.run());
    let _ = tokio::time::timeout(Duration::from_secs(5), io_loop).await;
}

/// Connects, declares the topology and makes the publisher channel available.
/// A connection on this tokio runtime.
pub async fn open(url: &str) -> anyhow::Result<Connection> {
    let properties = ConnectionProperties::default()
        .with_connection_name("backbone".into())
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    Ok(Connection::connect(url, properties).await?)
}

async fn connect(shared: &Shared, lost: Arc<Notify>) -> anyhow::Result<Connection> {
    let connection = open(&shared.config.url).await?;
    let mut events = connection.events_listener();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let lapin::Event::Error(error) = event {
                tracing::debug!(%error, "RabbitMQ connection error");
                lost.notify_one();
                return;
            }
        }
        lost.notify_one();
    });
    // The topology is declared on the publisher channel rather than on one closed after use:
    // lapin drops a closed channel from its table later, on its internal task, and a connection
    // closed before that (a CLI command ends at once) drops it a second time and logs
    // "Connection error: invalid channel". Channels here end only with their connection.
    let publisher = connection.create_channel().await?;
    declare_topology(shared, &publisher).await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    shared.publisher.send_replace(Some(publisher));
    *shared
        .last_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    Ok(connection)
}

async fn declare_topology(shared: &Shared, channel: &Channel) -> anyhow::Result<()> {
    let exchange = &shared.config.exchange;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(exchange, ExchangeKind::Direct, durable, FieldTable::default())
        .await?;
    for queue in &shared.queues {
        let options = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(&queue.queue, options, FieldTable::default())
            .await?;
        for event_type in &queue.event_types {
            channel
                .queue_bind(
                    &queue.queue,
                    exchange,
                    event_type,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    Ok(())
}
