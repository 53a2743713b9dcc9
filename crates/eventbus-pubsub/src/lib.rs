//! The event bus on Google Cloud Pub/Sub (through `gcloud-pubsub`), with the RabbitMQ bus's
//! guarantees:
//!
//! - **Topology** (created by every process at start if missing): one topic
//!   `<topic_prefix>events`; per handler a subscription `<topic_prefix><Module>.<Purpose>`
//!   filtered on the `Subject` attribute (the event type, as upstream sets it), 60 s ack
//!   deadline, redelivery back-off 1 to 60 s.
//! - **Publishing**: [`EventBus::publish`] returns once the server acknowledged the message
//!   (it has a message ID), so the relay marks an event published only then.
//! - **Consuming** ([`PubSubBus::consume`]): a streaming pull per subscription with at most
//!   `prefetch` outstanding messages; same-key events in order, others concurrently, through
//!   the [`Dispatcher`]; ack after handling, nack on an outage. A stream that breaks is
//!   opened again.
//!
//! `endpoint` set: the emulator (`gcloud beta emulators pubsub start`), no credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backbone_eventbus::config::GooglePubSubConfig;
use backbone_eventbus::{ordering_keys, BusHealth, Dispatcher, Event, EventBus, KeyedSequencer};
use futures::StreamExt;
use gcloud_gax::conn::Environment;
use gcloud_googleapis::pubsub::v1::{PubsubMessage, RetryPolicy};
use gcloud_pubsub::client::{Client, ClientConfig};
use gcloud_pubsub::publisher::Publisher;
use gcloud_pubsub::subscriber::{ReceivedMessage, SubscriberConfig};
use gcloud_pubsub::subscription::{SubscribeConfig, Subscription, SubscriptionConfig};
use tokio::sync::watch;

const SUBJECT: &str = "Subject";
const EVENT_ID: &str = "EventId";
const CREATED_AT: &str = "CreatedAt";
const CONNECT_WAIT: Duration = Duration::from_secs(5);
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone)]
struct Connected {
    client: Client,
    publisher: Publisher,
}

/// The bus; cheap to clone.
#[derive(Clone)]
pub struct PubSubBus {
    config: Arc<GooglePubSubConfig>,
    /// (subscription ID, handler, event types) per handler.
    subscriptions: Arc<Vec<(String, &'static str, Vec<&'static str>)>>,
    connected: watch::Sender<Option<Connected>>,
    last_error: Arc<Mutex<String>>,
}

impl PubSubBus {
    /// Connects and creates the topology in the background, retrying until it succeeds.
    pub fn start(config: GooglePubSubConfig, dispatcher: &Dispatcher) -> Self {
        let subscriptions = dispatcher
            .handlers()
            .iter()
            .map(|h| {
                (
                    format!("{}{}", config.topic_prefix, h.name()),
                    h.name(),
                    h.event_types().to_vec(),
                )
            })
            .collect();
        let bus = Self {
            config: Arc::new(config),
            subscriptions: Arc::new(subscriptions),
            connected: watch::channel(None).0,
            last_error: Arc::new(Mutex::new("not connected yet".into())),
        };
        let starting = bus.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(250);
            loop {
                match starting.connect().await {
                    Ok(connected) => {
                        starting.connected.send_replace(Some(connected));
                        tracing::info!("connected to Google Pub/Sub");
                        return;
                    }
                    Err(error) => {
                        let error = format!("{error:#}");
                        tracing::warn!(%error, "Google Pub/Sub is not reachable; retrying");
                        *starting
                            .last_error
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        });
        bus
    }

    fn topic_id(&self) -> String {
        format!("{}events", self.config.topic_prefix)
    }

    async fn connect(&self) -> anyhow::Result<Connected> {
        let mut client_config = ClientConfig {
            project_id: Some(self.config.project_id.clone()),
            ..ClientConfig::default()
        };
        if self.config.endpoint.is_empty() {
            client_config = if self.config.credentials_json.is_empty() {
                client_config.with_auth().await?
            } else {
                let credentials = serde_json::from_str(&self.config.credentials_json)?;
                client_config.with_credentials(credentials).await?
            };
        } else {
            client_config.environment = Environment::Emulator(self.config.endpoint.clone());
        }
        let client = Client::new(client_config).await?;
        let topic = client.topic(&self.topic_id());
        if !topic.exists(None).await? {
            ignore_exists(topic.create(None, None).await)?;
        }
        for (id, _, types) in self.subscriptions.iter() {
            let subscription = client.subscription(id);
            if subscription.exists(None).await? {
                continue;
            }
            let filter = types
                .iter()
                .map(|t| format!("attributes.{SUBJECT} = \"{t}\""))
                .collect::<Vec<_>>()
                .join(" OR ");
            let config = SubscriptionConfig {
                ack_deadline_seconds: 60,
                filter,
                retry_policy: Some(RetryPolicy {
                    minimum_backoff: Some(prost_duration(1)),
                    maximum_backoff: Some(prost_duration(60)),
                }),
                ..SubscriptionConfig::default()
            };
            ignore_exists(
                subscription
                    .create(topic.fully_qualified_name(), config, None)
                    .await,
            )?;
        }
        let publisher = topic.new_publisher(None);
        Ok(Connected { client, publisher })
    }

    async fn wait_connected(&self, within: Duration) -> Option<Connected> {
        let mut connected = self.connected.subscribe();
        let ready = tokio::time::timeout(within, connected.wait_for(Option::is_some)).await;
        match ready {
            Ok(Ok(value)) => value.clone(),
            _ => None,
        }
    }

    /// Waits until the topology exists (tests and start-up checks).
    pub async fn connected(&self, within: Duration) -> bool {
        self.wait_connected(within).await.is_some()
    }

    /// Starts a streaming pull of every handler's subscription (for the life of the process).
    pub fn consume(&self, dispatcher: &Dispatcher, prefetch: u16) {
        for (id, handler, _) in self.subscriptions.iter() {
            let (bus, dispatcher, id, handler) = (self.clone(), dispatcher.clone(), id.clone(), *handler);
            tokio::spawn(async move {
                let Some(connected) = bus.wait_connected(Duration::MAX).await else {
                    return;
                };
                let subscription = connected.client.subscription(&id);
                loop {
                    if let Err(error) = consume(&subscription, &dispatcher, handler, prefetch).await {
                        tracing::warn!(subscription = %id, error = %format!("{error:#}"), "Pub/Sub stream broke; opening it again");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    }

    /// Deletes the subscriptions and the topic (tests; decommissioning).
    pub async fn delete_topology(&self) -> anyhow::Result<()> {
        let connected = self
            .wait_connected(CONNECT_WAIT)
            .await
            .ok_or_else(|| anyhow::anyhow!("not connected to Google Pub/Sub"))?;
        for (id, _, _) in self.subscriptions.iter() {
            connected.client.subscription(id).delete(None).await?;
        }
        connected.client.topic(&self.topic_id()).delete(None).await?;
        Ok(())
    }
}

fn prost_duration(seconds: i64) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos: 0 }
}

/// A topic or subscription another process created meanwhile is fine.
fn ignore_exists(result: Result<(), gcloud_gax::grpc::Status>) -> anyhow::Result<()> {
    match result {
        Err(status) if status.code() == gcloud_gax::grpc::Code::AlreadyExists => Ok(()),
        other => Ok(other?),
    }
}

async fn consume(
    subscription: &Subscription,
    dispatcher: &Dispatcher,
    handler: &'static str,
    prefetch: u16,
) -> anyhow::Result<()> {
    let handler = dispatcher
        .handler(handler)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no handler {handler}"))?;
    let subscriber = SubscriberConfig {
        max_outstanding_messages: i64::from(prefetch),
        ..SubscriberConfig::default()
    };
    let mut stream = subscription
        .subscribe(Some(
            SubscribeConfig::default().with_subscriber_config(subscriber),
        ))
        .await?;
    let sequencer = KeyedSequencer::default();
    while let Some(message) = stream.next().await {
        let event = match decode(&message) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "dropping an undecodable Pub/Sub message");
                let _ = message.ack().await;
                continue;
            }
        };
        let (dispatcher, handler) = (dispatcher.clone(), handler.clone());
        tokio::spawn(sequencer.schedule(ordering_keys(&event), async move {
            let settled = match dispatcher.deliver(handler.as_ref(), &event).await {
                Ok(()) => message.ack().await,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "event handling met an outage; the message is redelivered");
                    message.nack().await
                }
            };
            if let Err(error) = settled {
                tracing::debug!(%error, "could not settle a Pub/Sub message; it is redelivered");
            }
        }));
    }
    anyhow::bail!("the stream ended")
}

fn encode(event: &Event) -> PubsubMessage {
    PubsubMessage {
        data: event.payload.to_string().into_bytes(),
        attributes: HashMap::from([
            (SUBJECT.to_owned(), event.event_type.clone()),
            (EVENT_ID.to_owned(), event.id.clone()),
            (
                CREATED_AT.to_owned(),
                event.created_at.timestamp_millis().to_string(),
            ),
        ]),
        ..PubsubMessage::default()
    }
}

fn decode(message: &ReceivedMessage) -> anyhow::Result<Event> {
    let attributes = &message.message.attributes;
    let get = |key: &str| {
        attributes
            .get(key)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the message has no {key} attribute"))
    };
    let created_at = get(CREATED_AT)?
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_else(chrono::Utc::now);
    Ok(Event {
        id: get(EVENT_ID)?,
        event_type: get(SUBJECT)?,
        payload: serde_json::from_slice(&message.message.data)?,
        created_at,
    })
}

#[async_trait]
impl EventBus for PubSubBus {
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        let Some(connected) = self.wait_connected(CONNECT_WAIT).await else {
            let error = self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            anyhow::bail!("not connected to Google Pub/Sub: {error}");
        };
        let awaiter = connected.publisher.publish(encode(event)).await;
        tokio::time::timeout(PUBLISH_TIMEOUT, awaiter.get())
            .await
            .map_err(|_| anyhow::anyhow!("Pub/Sub did not acknowledge {} in time", event.id))??;
        Ok(())
    }
}

#[async_trait]
impl BusHealth for PubSubBus {
    fn name(&self) -> &'static str {
        "google-pubsub"
    }

    async fn check(&self) -> Result<(), String> {
        let connected = self.connected.borrow().clone();
        let Some(connected) = connected else {
            return Err(self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone());
        };
        match connected.client.topic(&self.topic_id()).exists(None).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the topic does not exist".into()),
            Err(status) => Err(status.to_string()),
        }
    }
}
