//! Consuming one handler's queue: bounded prefetch, manual acks, per-key order.

use std::sync::Arc;

use backbone_eventbus::{ordering_keys, Dispatcher, KeyedSequencer};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::Channel;

use crate::message;
use crate::QueueSpec;

/// Handles deliveries until the channel or connection goes away (an `Err`: reconnect).
pub async fn run(
    channel: Channel,
    queue: QueueSpec,
    dispatcher: Dispatcher,
    prefetch: u16,
) -> anyhow::Result<()> {
    let handler = dispatcher
        .handler(queue.handler)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no handler {}", queue.handler))?;
    channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let mut deliveries = channel
        .basic_consume(
            &queue.queue,
            "",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let sequencer = KeyedSequencer::default();
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        let event = match message::decode(&delivery) {
            Ok(event) => event,
            Err(error) => {
                // Not ours to handle (we publish every message as JSON): drop it, loudly.
                tracing::error!(queue = %queue.queue, error = %format!("{error:#}"), "dropping an undecodable message");
                delivery.reject(BasicRejectOptions { requeue: false }).await?;
                continue;
            }
        };
        let (dispatcher, handler) = (dispatcher.clone(), Arc::clone(&handler));
        let work = sequencer.schedule(ordering_keys(&event), async move {
            let result = dispatcher.deliver(handler.as_ref(), &event).await;
            settle(&delivery, result, &dispatcher).await;
        });
        tokio::spawn(work);
    }
    anyhow::bail!("the consumer of {} was cancelled", queue.queue)
}

/// Acks a handled delivery; gives one that met an outage back to the queue after a pause.
async fn settle(delivery: &Delivery, result: anyhow::Result<()>, dispatcher: &Dispatcher) {
    let settled = match result {
        Ok(()) => delivery.ack(BasicAckOptions::default()).await,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "event handling met an outage; the message goes back to the queue");
            tokio::time::sleep(dispatcher.policy().first_delay).await;
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(error) = settled {
        // The connection went away: the broker redelivers it, and the handler skips it then.
        tracing::debug!(%error, "could not settle a delivery");
    }
}
