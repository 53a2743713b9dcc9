//! `backbone events dead-letters list|retry|discard`: what an operator does with events whose
//! handler kept failing; and `backbone events delete-topology`. Retrying runs the handler in this process, on the shared database,
//! whichever bus is configured (handlers are idempotent, so a retry of an event that was
//! handled meanwhile changes nothing).

use anyhow::ensure;
use backbone_eventbus::RetryOutcome;

use crate::app::Application;
use crate::cli::DeadLettersCommand;

pub async fn dead_letters(app: &Application, command: DeadLettersCommand) -> anyhow::Result<()> {
    let store = &app.events.dead_letters;
    match command {
        DeadLettersCommand::List => {
            let letters = store.list().await?;
            println!("{}", serde_json::to_string_pretty(&letters)?);
            Ok(())
        }
        DeadLettersCommand::Retry { ids, all } => {
            let ids = if all {
                store.list().await?.into_iter().map(|letter| letter.id).collect()
            } else {
                ids
            };
            let mut failed = 0;
            for id in &ids {
                match app.events.dispatcher.retry_dead_letter(id).await? {
                    RetryOutcome::Handled => println!("{id}: handled and removed"),
                    RetryOutcome::FailedAgain(error) => {
                        failed += 1;
                        eprintln!("{id}: failed again, kept: {error}");
                    }
                    RetryOutcome::NotFound => {
                        failed += 1;
                        eprintln!("{id}: no such dead letter");
                    }
                }
            }
            // Events the handlers raised reach their own handlers before the command ends.
            app.relay.relay_all().await?;
            ensure!(
                failed == 0,
                "{failed} of {} dead letters were not handled",
                ids.len()
            );
            Ok(())
        }
        DeadLettersCommand::Discard { ids } => {
            let mut missing = 0;
            for id in &ids {
                if store.delete(id).await? {
                    println!("{id}: discarded");
                } else {
                    missing += 1;
                    eprintln!("{id}: no such dead letter");
                }
            }
            ensure!(
                missing == 0,
                "{missing} of {} dead letters did not exist",
                ids.len()
            );
            Ok(())
        }
    }
}

/// Deletes the configured RabbitMQ exchange and the handlers' queues, or the Pub/Sub topic and
/// subscriptions (with the events still in them): for decommissioning, or after a test or
/// benchmark run with names of its own.
pub async fn delete_topology(app: &Application) -> anyhow::Result<()> {
    if let Some(bus) = app.events.rabbitmq() {
        bus.delete_topology().await?;
        println!("deleted the exchange and {} queues", bus.queues().len());
    } else if let Some(bus) = app.events.pubsub() {
        bus.delete_topology().await?;
        println!("deleted the topic and its subscriptions");
    } else {
        anyhow::bail!("event_bus.provider is in-process: there is nothing to delete");
    }
    Ok(())
}
