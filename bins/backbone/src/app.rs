//! Wiring: one [`Application`] holds the database, the clock and every module's service, and
//! runs whichever roles the command asked for.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use backbone_announcements::{AnnouncementsService, AnnouncementsState, AnnouncementsStore};
use backbone_challenges::{ChallengeStore, ChallengesState};
use backbone_core::clock::SystemClock;
use backbone_core::paging::PagingLimits;
use backbone_core::SharedClock;
use backbone_db::Database;
use backbone_devices::domain::PasswordPolicy;
use backbone_devices::{DevicesService, DevicesSettings, DevicesState, DevicesStore};
use backbone_eventbus::{EventHandler, OutboxRelay, RelayWorker};
use backbone_files::{FilesService, FilesState, FilesStore};
use backbone_messages::store::MessagesStore;
use backbone_messages::{MessagesService, MessagesSettings, MessagesState};
use backbone_onboarding::OnboardingState;
use backbone_push::{PushSender, PushService, PushState, PushStore, PushWorker};
use backbone_quotas::{QuotasService, QuotasState};
use backbone_relationships::store::RelationshipsStore;
use backbone_relationships::{RelationshipsService, RelationshipsState};
use backbone_synchronization::{
    ExternalEventsHandler, SynchronizationService, SynchronizationState, SynchronizationStore,
};
use backbone_tags::TagsState;
use backbone_tokens::{TokensService, TokensState, TokensStore};
use backbone_web::JwtKeys;
use chrono::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::adapters::{
    quotas_service, ChallengesForDevices, FromRelationships, IdentitiesFromDevices, QuotasGate,
};
use crate::config::{Landscape, Settings};
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

/// Everything the roles share.
#[derive(Clone)]
pub struct Application {
    pub settings: Arc<Settings>,
    pub db: Database,
    pub clock: SharedClock,
    pub jwt: Arc<JwtKeys>,
    pub devices: DevicesService,
    pub announcements: AnnouncementsService,
    pub challenges: ChallengeStore,
    pub files: FilesService,
    pub messages: MessagesService,
    pub relationships: RelationshipsService,
    pub synchronization: SynchronizationService,
    pub tags: TagsState,
    /// The `/r/{referenceId}` onboarding page and the `.well-known` app-link files.
    pub onboarding: OnboardingState,
    pub tokens: TokensService,
    /// Tier and individual quotas; its check runs inside the writes it limits.
    pub quotas: QuotasService,
    /// Queues push notifications (`send_to_identity` for jobs).
    pub push: PushService,
    /// Sends queued pushes; the worker runs it, tests call `run_due` step by step.
    pub push_sender: PushSender,
    /// Hands outbox events to the configured bus; tests call it directly.
    pub relay: OutboxRelay,
    /// The bus, its consumers, dead letters and the SSE fan-out (`[event_bus]`).
    pub events: crate::event_bus::Events,
    /// Woken after every successful write request, so the worker relays at once.
    pub wake: Arc<Notify>,
    /// The Consumer API's rate limits and trusted proxies (`[rate_limits]`).
    pub rate_limits: Arc<backbone_gateway::RateLimits>,
    /// `/health/ready`: the dependencies' checks, and 503 once shutting down.
    pub readiness: Arc<backbone_gateway::Readiness>,
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
    /// Connects to the database, runs migrations and builds every module.
    pub async fn build(settings: Settings, clock: Option<SharedClock>) -> anyhow::Result<Self> {
        // Rate limits run on a monotonic clock, or on the injected one (tests move it).
        let limiter_clock = clock.clone().map_or_else(
            backbone_gateway::rate_limits::LimiterClock::monotonic,
            backbone_gateway::rate_limits::LimiterClock::injected,
        );
        let clock = clock.unwrap_or_else(|| {
            Arc::new(SystemClock::with_offset(Duration::seconds(
                settings.testing.clock_offset_seconds,
            )))
        });
        let db = connect_and_migrate(&settings).await?;
        let jwt = Arc::new(JwtKeys::from_pem(
            &settings.jwt_signing_key()?,
            settings.authentication.jwt_lifetime_seconds,
            clock.clone(),
        )?);
        let paging = PagingLimits {
            default_page_size: settings.pagination.default_page_size,
            max_page_size: settings.pagination.max_page_size,
        };
        let challenges = ChallengeStore::new(db.clone());
        let relationships_store = RelationshipsStore::new(db.clone());
        let identities = Arc::new(IdentitiesFromDevices(DevicesStore::new(db.clone())));
        let relationship_directory = Arc::new(FromRelationships(relationships_store.clone()));
        let quotas = quotas_service(&db, &clock);
        let gate = Arc::new(QuotasGate(quotas.clone()));
        let devices = DevicesService {
            store: DevicesStore::new(db.clone()),
            challenges: Arc::new(ChallengesForDevices(challenges.clone())),
            relationships: relationship_directory.clone(),
            clock: clock.clone(),
            settings: Arc::new(DevicesSettings {
                did_domain_name: settings.did_domain_name.clone(),
                password_policy: if settings.strict_passwords() {
                    PasswordPolicy::Strict
                } else {
                    PasswordPolicy::Relaxed
                },
                lockout_duration: Duration::seconds(settings.lockout_seconds()),
                max_failed_logins: settings.authentication.max_failed_logins,
                max_feature_flags_per_identity: settings.devices.max_number_of_feature_flags_per_identity,
                paging,
                grace_period_days: settings.devices.deletion_grace_period_days,
                reminder_schedule: backbone_devices::deletion::ReminderSchedule {
                    days_before_end: settings.devices.grace_period_reminder_days,
                },
            }),
            verified_secrets: Default::default(),
            deletion: backbone_devices::deletion::DeletionStore::new(db.clone()),
            quotas: gate.clone(),
        };
        let relationships = RelationshipsService {
            store: relationships_store.clone(),
            clock: clock.clone(),
            identities: identities.clone(),
            quotas: gate.clone(),
            paging,
        };
        let synchronization = SynchronizationService {
            store: SynchronizationStore::new(db.clone()),
            clock: clock.clone(),
            identities: identities.clone(),
            quotas: gate.clone(),
            paging,
        };
        let tags = TagsState::new(&settings.tags)?;
        let onboarding = OnboardingState::new(
            settings.app_onboarding.as_ref(),
            settings.well_known_endpoints.as_ref(),
        )?;
        let tokens = TokensService {
            store: TokensStore::new(db.clone()),
            clock: clock.clone(),
            quotas: gate.clone(),
            paging,
        };
        let blob_storage = &settings.files.blob_storage;
        let blobs = blob_storage
            .open(&settings.data_dir)
            .context("files.blob_storage")?;
        tracing::info!(
            "file contents are kept in the {}",
            blob_storage.describe(&settings.data_dir)
        );
        let files = FilesService {
            store: FilesStore::new(db.clone()),
            blobs: Arc::new(blobs),
            quotas: gate.clone(),
            clock: clock.clone(),
            paging,
            max_file_size: settings.files.max_file_size_bytes,
        };
        let anonymous_address = backbone_core::IdentityAddress::anonymous(&settings.did_domain_name);
        let messages = MessagesService {
            store: MessagesStore::new(db.clone()),
            clock: clock.clone(),
            relationships: relationship_directory.clone(),
            quotas: gate,
            settings: Arc::new(MessagesSettings {
                max_number_of_recipients: settings.messages.max_number_of_recipients,
                max_number_of_unreceived_messages_from_one_sender: settings
                    .messages
                    .max_number_of_unreceived_messages_from_one_sender,
                anonymous_address: anonymous_address.clone(),
                paging,
            }),
        };
        let mut push_connectors =
            backbone_push::Connectors::from_config(&settings.push, clock.clone()).context("push")?;
        if let Some(fan_out) = crate::event_bus::sse_fan_out(&settings, &db) {
            push_connectors = push_connectors.with_sse_fan_out(fan_out);
        }
        let push_connectors = Arc::new(push_connectors);
        let push = PushService {
            store: PushStore::new(db.clone()),
            connectors: push_connectors.clone(),
            identities: identities.clone(),
            devices: identities,
            relationships: relationship_directory,
            texts: Arc::new(settings.push.text_catalog()),
            clock: clock.clone(),
            wake: Arc::new(Notify::new()),
        };
        let push_sender = PushSender {
            store: push.store.clone(),
            connectors: push_connectors,
            clock: clock.clone(),
            policy: backbone_push::RetryPolicy::from_config(&settings.push.delivery),
        };
        let handlers: Vec<Arc<dyn EventHandler>> = vec![
            Arc::new(backbone_messages::events::DecompositionHandler {
                store: messages.store.clone(),
                anonymous_address,
            }),
            Arc::new(ExternalEventsHandler {
                store: synchronization.store.clone(),
                clock: clock.clone(),
            }),
            Arc::new(backbone_relationships::events::FeatureFlagsHandler {
                store: relationships_store.clone(),
                clock: clock.clone(),
            }),
            Arc::new(backbone_quotas::events::TierDeletedHandler {
                store: quotas.store.clone(),
            }),
            Arc::new(backbone_relationships::events::IdentityDeletionHandler {
                store: relationships_store,
                clock: clock.clone(),
            }),
            // Last: pushes only queue deliveries, after the other modules did their part.
            Arc::new(backbone_push::PushEventsHandler {
                service: push.clone(),
            }),
            Arc::new(backbone_push::AnnouncementPushHandler {
                service: push.clone(),
            }),
        ];
        let events = crate::event_bus::Events::build(&settings, &db, handlers, clock.clone()).await?;
        let relay = OutboxRelay::new(db.clone(), events.bus.clone(), clock.clone())
            .with_concurrency(settings.worker.max_concurrent_events);
        let rate_limits = Arc::new(backbone_gateway::RateLimits::new(
            &settings.rate_limits,
            settings.rate_limits_by_default(),
            limiter_clock.clone(),
        )?);
        let readiness = Arc::new(server::observability::readiness(&db, &files.blobs));
        let announcements = AnnouncementsService {
            store: AnnouncementsStore::new(db.clone()),
            clock: clock.clone(),
        };
        Ok(Self {
            settings: Arc::new(settings),
            db,
            clock,
            jwt,
            devices,
            announcements,
            challenges,
            files,
            messages,
            relationships,
            synchronization,
            tags,
            onboarding,
            tokens,
            quotas,
            push,
            push_sender,
            relay,
            events,
            wake: Arc::new(Notify::new()),
            rate_limits,
            readiness,
        })
    }

    /// Ends the process's connections in order: the broker's, then the database pool.
    pub async fn close(&self) {
        self.events.close().await;
        self.db.close().await;
    }

    pub fn devices_state(&self) -> DevicesState {
        DevicesState {
            service: self.devices.clone(),
            jwt: self.jwt.clone(),
        }
    }

    pub fn announcements_state(&self) -> AnnouncementsState {
        AnnouncementsState {
            service: self.announcements.clone(),
        }
    }

    pub fn challenges_state(&self) -> ChallengesState {
        ChallengesState {
            store: self.challenges.clone(),
            clock: self.clock.clone(),
            quotas: Arc::new(QuotasGate(self.quotas.clone())),
        }
    }

    pub fn quotas_state(&self) -> QuotasState {
        QuotasState {
            service: self.quotas.clone(),
        }
    }

    pub fn push_state(&self) -> PushState {
        PushState {
            service: self.push.clone(),
            keep_alive: self.settings.push.sse.keep_alive_interval(),
        }
    }

    pub fn tokens_state(&self) -> TokensState {
        TokensState {
            service: self.tokens.clone(),
        }
    }

    pub fn files_state(&self) -> FilesState {
        FilesState {
            service: self.files.clone(),
            max_request_body_bytes: self.settings.consumer_api.max_request_body_bytes,
        }
    }

    pub fn messages_state(&self) -> MessagesState {
        MessagesState {
            service: self.messages.clone(),
        }
    }

    pub fn relationships_state(&self) -> RelationshipsState {
        RelationshipsState {
            service: self.relationships.clone(),
            public_references: Arc::new(self.settings.relationships.public_template_references.clone()),
        }
    }

    pub fn synchronization_state(&self) -> SynchronizationState {
        SynchronizationState {
            service: self.synchronization.clone(),
        }
    }

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
                            tracing::error!(job = name, error = %format!("{error:#}"), "job failed")
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

pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Database> {
    if settings.uses_data_dir() {
        crate::secrets::prepare_data_dir(&settings.data_dir)?;
    }
    let url = settings.database_url();
    // Before sqlx opens it: SQLite would create the file readable by everyone.
    backbone_db::create_private_sqlite_file(&url)?;
    let db = Database::connect(&url, settings.database.pool_options()).await?;
    db.migrate().await?;
    Ok(db)
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
