//! The outbox backlog: domain events written but not yet handled by the worker. A backlog that
//! grows under load means the API accepts writes faster than their events are handled (and
//! recipients learn of their messages later and later).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

#[derive(Clone)]
pub(crate) struct Backlog {
    pool: AnyPool,
}

impl Backlog {
    /// `postgres://…` or `sqlite://…` (the server's file; opened read-only).
    pub(crate) async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = if url.starts_with("sqlite:") && !url.contains('?') {
            format!("{url}?mode=ro")
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .context("connecting to the database to watch the outbox")?;
        Ok(Self { pool })
    }

    pub(crate) async fn count(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Samples every 250 ms until the watch is stopped; see [`Watch::stop`].
    pub(crate) fn watch(&self) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, backlog) = (stop.clone(), self.clone());
        let task = tokio::spawn(async move {
            let mut max = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(n) = backlog.count().await {
                    max = max.max(n);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            max
        });
        Watch { stop, task }
    }

    /// Polls until the backlog is at most `level`; the time that took, `None` on time-out.
    pub(crate) async fn wait_until(&self, level: i64, timeout: Duration) -> anyhow::Result<Option<Duration>> {
        let started = Instant::now();
        while self.count().await? > level {
            if started.elapsed() > timeout {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Some(started.elapsed()))
    }
}

pub(crate) struct Watch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<i64>,
}

impl Watch {
    /// The largest backlog seen.
    pub(crate) async fn stop(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}
