//! Running the roles of an [`Application`]: the listeners of the Consumer API, the Admin API
//! and metrics, and the worker (jobs, push sender, outbox relay). Kept apart from the wiring in
//! `app`, which therefore depends on none of the surfaces it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use backbone_eventbus::RelayWorker;
use backbone_push::PushWorker;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Landscape;
use crate::server;

/// Which roles to run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub consumer_api: bool,
    pub admin_api: bool,
    /// Relays domain events from the outbox to their handlers.
    pub worker: bool,
}

impl Roles {
    pub const ALL: Self = Self {
        consumer_api: true,
        admin_api: true,
        worker: true,
    };
}

/// Servers started by [`Application::start`], with the addresses they actually bound.
pub struct Running {
    pub consumer_api: Option<SocketAddr>,
    pub admin_api: Option<SocketAddr>,
    /// The `[metrics]` listener, if configured.
    pub metrics: Option<SocketAddr>,
    /// The HTTP servers; they end only when `stop` is cancelled (or on an error).
    servers: JoinSet<anyhow::Result<()>>,
    /// Workers and jobs: they run until the process ends.
    tasks: JoinSet<anyhow::Result<()>>,
    stop: CancellationToken,
    readiness: Arc<backbone_gateway::Readiness>,
    shutdown_drain: std::time::Duration,
    shutdown_timeout: std::time::Duration,
}

impl Running {
    /// Waits until any server or worker stops (which only happens on an error).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.next_stop().await
    }

    async fn next_stop(&mut self) -> anyhow::Result<()> {
        let result = tokio::select! {
            Some(result) = self.servers.join_next() => result,
            Some(result) = self.tasks.join_next() => result,
            else => return Ok(()),
        };
        result.context("server task panicked")?
    }

    /// Runs until `signal` resolves (or a server fails), then shuts down gracefully:
    /// readiness turns 503 and requests are still served for `http.shutdown_drain_seconds`
    /// (load balancers stop sending new ones), then the listeners stop accepting, and
    /// connections finish their request in flight within `http.shutdown_timeout_seconds`
    /// before they are dropped.
    pub async fn run_until(mut self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            result = self.next_stop() => return result,
            () = signal => {}
        }
        self.readiness.start_draining();
        tracing::info!(
            drain_seconds = self.shutdown_drain.as_secs_f64(),
            "shutting down: readiness answers 503"
        );
        tokio::time::sleep(self.shutdown_drain).await;
        tracing::info!("shutting down: no new connections");
        self.stop.cancel();
        self.tasks.abort_all();
        let drained = tokio::time::timeout(self.shutdown_timeout, async {
            while let Some(result) = self.servers.join_next().await {
                if let Ok(Err(error)) = result {
                    tracing::warn!(error = %format!("{error:#}"), "a server failed while shutting down");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("requests still in flight after the shutdown timeout were cut off");
        }
        Ok(())
    }
}

impl Application {
    /// Binds the listeners of the requested roles and serves them in background tasks.
    pub async fn start(&self, roles: Roles) -> anyhow::Result<Running> {
        let mut running = Running {
            consumer_api: None,
            admin_api: None,
            metrics: None,
            servers: JoinSet::new(),
            tasks: JoinSet::new(),
            stop: CancellationToken::new(),
            readiness: self.readiness.clone(),
            shutdown_drain: self.settings.http.shutdown_drain(),
            shutdown_timeout: self.settings.http.shutdown_timeout(),
        };
        self.rate_limits.spawn_housekeeping();
        self.start_servers(roles, &mut running).await?;
        if roles.worker {
            self.start_workers(&mut running.tasks);
        }
        if self.settings.landscape == Landscape::Dev && self.settings.testing.clock_offset_seconds != 0 {
            tracing::warn!(
                offset = self.settings.testing.clock_offset_seconds,
                "the server clock is shifted"
            );
        }
        Ok(running)
    }

    async fn start_servers(&self, roles: Roles, running: &mut Running) -> anyhow::Result<()> {
        let metrics_listener = self.settings.metrics.listen.is_some();
        let listeners =
            usize::from(roles.consumer_api) + usize::from(roles.admin_api) + usize::from(metrics_listener);
        if listeners == 0 {
            return Ok(());
        }
        let http = &self.settings.http;
        let connections = server::connection_limit(
            http.max_connections,
            listeners,
            self.settings.database.max_connections,
        )?;
        let limits = server::Limits::new(http, connections);
        if roles.consumer_api {
            let listener = bind(self.settings.consumer_api.listen, "consumer_api.listen").await?;
            running.consumer_api = Some(listener.local_addr()?);
            let router = crate::consumer_api::service(self);
            // SSE pushes sent by any worker reach the streams held here.
            self.push.connectors.listen_for_sse();
            let tls = tls_listener(self.settings.consumer_api.tls.as_ref(), "consumer_api.tls")?;
            let stop = running.stop.clone();
            running.servers.spawn(async move {
                server::serve("consumer API", listener, router, limits, tls, stop)
                    .await
                    .context("consumer API server")
            });
        }
        if roles.admin_api {
            let listener = bind(self.settings.admin_api.listen, "admin_api.listen").await?;
            running.admin_api = Some(listener.local_addr()?);
            let router = crate::admin_api::service(self)?;
            let tls = tls_listener(self.settings.admin_api.tls.as_ref(), "admin_api.tls")?;
            let stop = running.stop.clone();
            running.servers.spawn(async move {
                server::serve("admin API", listener, router, limits, tls, stop)
                    .await
                    .context("admin API server")
            });
        }
        if let Some(address) = self.settings.metrics.listen {
            let listener = bind(address, "metrics.listen").await?;
            running.metrics = Some(listener.local_addr()?);
            let router = server::observability::metrics_service(self);
            let stop = running.stop.clone();
            running.servers.spawn(async move {
                server::serve("metrics", listener, router, limits, None, stop)
                    .await
                    .context("metrics server")
            });
        }
        Ok(())
    }

    /// The worker: the scheduled jobs, the push sender and the outbox relay.
    fn start_workers(&self, tasks: &mut JoinSet<anyhow::Result<()>>) {
        let schedule = &self.settings.jobs;
        for (name, seconds) in [
            ("identity-deletion", schedule.identity_deletion_interval_seconds),
            (
                "grace-period-reminders",
                schedule.grace_period_reminders_interval_seconds,
            ),
            ("housekeeping", schedule.housekeeping_interval_seconds),
        ] {
            if seconds == 0 {
                continue;
            }
            let app = self.clone();
            tasks.spawn(async move {
                let mut ticks = tokio::time::interval(std::time::Duration::from_secs(seconds));
                loop {
                    ticks.tick().await;
                    match crate::jobs::run(&app, name).await {
                        Ok(summary) => tracing::info!(job = name, %summary, "job finished"),
                        Err(error) => {
                            tracing::error!(job = name, error = %format!("{error:#}"), "job failed");
                        }
                    }
                    app.wake.notify_one();
                }
            });
        }
        let push_worker = PushWorker {
            sender: self.push_sender.clone(),
            wake: self.push.wake.clone(),
            interval: std::time::Duration::from_millis(
                self.settings.push.delivery.poll_interval_milliseconds,
            ),
        };
        tasks.spawn(async move {
            push_worker.run().await;
            Ok(())
        });
        let worker = RelayWorker {
            relay: self.relay.clone(),
            wake: self.wake.clone(),
            interval: std::time::Duration::from_millis(self.settings.worker.relay_interval_milliseconds),
        };
        tasks.spawn(async move {
            worker.run().await;
            Ok(())
        });
        self.events.start_consumers();
    }
}

fn tls_listener(
    config: Option<&backbone_gateway::TlsConfig>,
    key: &str,
) -> anyhow::Result<Option<backbone_gateway::TlsListener>> {
    config
        .map(|config| backbone_gateway::TlsListener::new(config, key))
        .transpose()
}

async fn bind(address: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("{key}: cannot listen on {address}"))
}
