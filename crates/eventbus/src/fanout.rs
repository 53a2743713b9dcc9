//! Fan-out: short-lived signals that every replica must see, such as "push this SSE event to
//! device X" (the device may be connected to any Consumer API replica). Unlike domain events
//! they skip the outbox: a lost signal is only a missed hint to sync, and the device catches
//! up at its next sync anyway.
//!
//! [`LocalFanOut`] serves a single process; [`PostgresFanOut`] uses `LISTEN/NOTIFY`, so every
//! process on the same PostgreSQL database hears every signal without a broker.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backbone_db::sqlx;
use backbone_db::Database;
use tokio::sync::broadcast;

/// Where a listener's messages go.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

#[async_trait]
pub trait FanOut: Send + Sync {
    /// Sends `message` to the listeners of every process; `Err` if it could not be sent.
    async fn publish(&self, message: &str) -> anyhow::Result<()>;

    /// Hands every message published from now on (by any process) to `sink`, until the
    /// process ends; reconnects by itself after a lost connection.
    fn listen(&self, sink: Sink);
}

/// Fan-out within this process.
#[derive(Clone)]
pub struct LocalFanOut {
    sender: broadcast::Sender<String>,
}

impl Default for LocalFanOut {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(1024).0,
        }
    }
}

#[async_trait]
impl FanOut for LocalFanOut {
    async fn publish(&self, message: &str) -> anyhow::Result<()> {
        // No listener is not an error: nobody is connected here.
        let _ = self.sender.send(message.to_owned());
        Ok(())
    }

    fn listen(&self, sink: Sink) {
        let mut receiver = self.sender.subscribe();
        tokio::spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(message) => sink(message),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "fan-out listener fell behind; signals were dropped");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
}

/// Fan-out through PostgreSQL's `NOTIFY` on one channel of the database.
#[derive(Clone)]
pub struct PostgresFanOut {
    db: Database,
    url: String,
    channel: String,
}

impl PostgresFanOut {
    /// `url` must be the database `db` is connected to: notifications stay in one database.
    pub fn new(db: Database, url: impl Into<String>, channel: impl Into<String>) -> Self {
        Self {
            db,
            url: url.into(),
            channel: channel.into(),
        }
    }
}

#[async_trait]
impl FanOut for PostgresFanOut {
    async fn publish(&self, message: &str) -> anyhow::Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(message)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    fn listen(&self, sink: Sink) {
        let (url, channel) = (self.url.clone(), self.channel.clone());
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen_until_lost(&url, &channel, &sink).await {
                    tracing::warn!(error = %format!("{error:#}"), "fan-out listener lost PostgreSQL; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

async fn listen_until_lost(url: &str, channel: &str, sink: &Sink) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(channel).await?;
    loop {
        // `recv` reconnects by itself after an intermittent failure; an error is lasting.
        let notification = listener.recv().await?;
        sink(notification.payload().to_owned());
    }
}
