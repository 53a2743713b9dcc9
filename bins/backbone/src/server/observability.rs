//! What the gateway layer needs from this application: the gauges sampled at each scrape, and
//! the routes of `/metrics` and the health checks (on the Admin API and the `[metrics]`
//! listener). The readiness checks are `crate::readiness`.

use std::sync::Arc;

use axum::routing::get;
use backbone_core::SharedClock;
use backbone_db::Database;
use backbone_eventbus::{DeadLetterStore, OutboxRelay};
use backbone_gateway::health;
use backbone_gateway::metrics::{GaugeSource, Scrape};
use backbone_push::connectors::sse::SseHub;
use backbone_web::openapi::routes;
use backbone_web::Routes;

use crate::app::Application;

/// The gauges sampled at each scrape.
fn gauge_sources(app: &Application) -> Vec<Arc<dyn GaugeSource>> {
    vec![
        Arc::new(DeadLetters(app.events.dead_letters.clone())),
        Arc::new(DatabasePool(app.db.clone())),
        Arc::new(Outbox {
            relay: app.relay.clone(),
            clock: app.clock.clone(),
        }),
        Arc::new(SseStreams(app.push.connectors.sse.clone())),
    ]
}

/// A count as a gauge's value. The counts here (connections, events, streams) stay far below
/// `u32::MAX`, the most a gauge shows.
fn as_gauge(count: impl TryInto<u32>) -> f64 {
    f64::from(count.try_into().unwrap_or(u32::MAX))
}

/// `backbone_db_pool_connections{pool,state}` (in use, idle) and `backbone_db_pool_max`.
/// sqlx does not expose how many callers wait for a connection; a pool whose connections are
/// all in use has callers waiting, and one that makes them wait too long answers 503
/// (`backbone_http_requests_total{status="503"}`).
struct DatabasePool(Database);

#[async_trait::async_trait]
impl GaugeSource for DatabasePool {
    async fn sample(&self) -> anyhow::Result<()> {
        for (name, pool) in [("read", self.0.pool()), ("write", self.0.writer())] {
            let size = f64::from(pool.size());
            let idle = as_gauge(pool.num_idle());
            metrics::gauge!("backbone_db_pool_connections", "pool" => name, "state" => "in_use")
                .set(size - idle);
            metrics::gauge!("backbone_db_pool_connections", "pool" => name, "state" => "idle").set(idle);
            metrics::gauge!("backbone_db_pool_max", "pool" => name)
                .set(f64::from(pool.options().get_max_connections()));
        }
        Ok(())
    }
}

/// `backbone_outbox_pending` and `backbone_outbox_relay_lag_seconds` (age of the oldest
/// event not relayed yet; 0 when the outbox is empty).
struct Outbox {
    relay: OutboxRelay,
    clock: SharedClock,
}

#[async_trait::async_trait]
impl GaugeSource for Outbox {
    async fn sample(&self) -> anyhow::Result<()> {
        let backlog = self.relay.backlog().await?;
        let lag = backlog.oldest.map_or(0.0, |oldest| {
            (self.clock.now() - oldest)
                .max(chrono::TimeDelta::zero())
                .as_seconds_f64()
        });
        metrics::gauge!("backbone_outbox_pending").set(as_gauge(backlog.pending));
        metrics::gauge!("backbone_outbox_relay_lag_seconds").set(lag);
        Ok(())
    }
}

/// `backbone_dead_letter_events`: events set aside after their handler kept failing, waiting
/// for an operator (`backbone events dead-letters list|retry|discard`).
struct DeadLetters(DeadLetterStore);

#[async_trait::async_trait]
impl GaugeSource for DeadLetters {
    async fn sample(&self) -> anyhow::Result<()> {
        let count = self.0.count().await?;
        metrics::gauge!("backbone_dead_letter_events").set(as_gauge(count));
        Ok(())
    }
}

/// `backbone_sse_open_streams`: event streams open in this process.
struct SseStreams(Option<SseHub>);

#[async_trait::async_trait]
impl GaugeSource for SseStreams {
    async fn sample(&self) -> anyhow::Result<()> {
        let open = self.0.as_ref().map_or(0, SseHub::connection_count);
        metrics::gauge!("backbone_sse_open_streams").set(as_gauge(open));
        Ok(())
    }
}

/// `/health/live` and `/health/ready`, for every listener.
pub fn health_routes(app: &Application) -> Routes {
    Routes::new()
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .with_state(app.readiness.clone())
}

/// `GET /metrics`. A plain router, added beside the case-insensitive routes rather than among
/// them: its segment would collide with the Admin API's `/api/v1/Metrics` (the quota metrics).
pub fn metrics_router(app: &Application) -> axum::Router {
    backbone_gateway::metrics::spawn_upkeep();
    let scrape = Scrape {
        sources: gauge_sources(app),
    };
    axum::Router::new()
        .route("/metrics", get(backbone_gateway::metrics::render))
        .with_state(scrape)
}

/// The router of the `[metrics]` listener: `/metrics` and the health checks.
pub fn metrics_service(app: &Application) -> axum::Router {
    let (health, _) = health_routes(app).into_parts();
    metrics_router(app)
        .merge(health)
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
}
