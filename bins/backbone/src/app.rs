//! Wiring: one [`Application`] holds the database, the clock and every module's service, and
//! runs whichever roles the command asked for.

use std::sync::Arc;

use anyhow::Context;
use backbone_announcements::{AnnouncementsService, AnnouncementsState, AnnouncementsStore};
use backbone_challenges::{ChallengeStore, ChallengesState};
use backbone_core::clock::SystemClock;
use backbone_core::ports::IdentityDataDeleter;
use backbone_core::SharedClock;
use backbone_db::Database;
use backbone_devices::deletion::IdentityDataDeletion;
use backbone_devices::{DevicesPorts, DevicesService, DevicesState, DevicesStore};
use backbone_eventbus::{EventHandler, OutboxRelay};
use backbone_files::{FilesService, FilesState, FilesStore};
use backbone_gateway::rate_limits::LimiterClock;
use backbone_messages::store::MessagesStore;
use backbone_messages::{MessagesService, MessagesState};
use backbone_onboarding::OnboardingState;
use backbone_push::{PushSender, PushService, PushState, PushStore};
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
use tokio::sync::Notify;

use crate::adapters::{
    quotas_service, ChallengesForDevices, FromRelationships, IdentitiesFromDevices, QuotasGate,
};
use crate::config::Settings;
use crate::event_bus::Events;

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
    pub events: Events,
    /// Woken after every successful write request, so the worker relays at once.
    pub wake: Arc<Notify>,
    /// The Consumer API's rate limits and trusted proxies (`[rate_limits]`).
    pub rate_limits: Arc<backbone_gateway::RateLimits>,
    /// `/health/ready`: the dependencies' checks, and 503 once shutting down.
    pub readiness: Arc<backbone_gateway::Readiness>,
    /// Every module's part of deleting an identity, in order (the deletion job).
    pub identity_deletion: IdentityDataDeletion,
}

impl Application {
    /// Connects to the database, runs migrations and builds every module.
    pub async fn build(settings: Settings, clock: Option<SharedClock>) -> anyhow::Result<Self> {
        // Rate limits run on a monotonic clock, or on the injected one (tests move it).
        let limiter_clock = clock
            .clone()
            .map_or_else(LimiterClock::monotonic, LimiterClock::injected);
        let clock = clock.unwrap_or_else(|| system_clock(&settings));
        let db = connect_and_migrate(&settings).await?;
        let jwt = jwt_keys(&settings, &clock)?;
        let ports = Ports::new(&db, &clock);
        let challenges = ChallengeStore::new(db.clone());
        let devices = DevicesService::new(
            DevicesStore::new(db.clone()),
            ports.devices_ports(&challenges),
            clock.clone(),
            settings.devices_settings(),
        );
        let exchange = Exchange::new(&settings, &db, &clock, &ports);
        let files = files_service(&settings, &db, &clock, &ports)?;
        let (push, push_sender) = push_service(&settings, &db, &clock, &ports)?;
        let announcements = AnnouncementsService {
            store: AnnouncementsStore::new(db.clone()),
            clock: clock.clone(),
        };
        let handlers = event_handlers(&settings, &clock, &exchange, &ports, &push);
        let events = Events::build(&settings, &db, handlers, clock.clone())?;
        Ok(Self {
            identity_deletion: IdentityDataDeletion::new(
                devices.clone(),
                &exchange.deleters(&announcements, &challenges, &files, &ports.quotas),
                settings.anonymous_address(),
            )?,
            relay: OutboxRelay::new(db.clone(), events.bus.clone(), clock.clone())
                .with_concurrency(settings.worker.max_concurrent_events),
            rate_limits: Arc::new(backbone_gateway::RateLimits::new(
                &settings.rate_limits,
                settings.rate_limits_by_default(),
                limiter_clock,
            )?),
            readiness: Arc::new(crate::readiness::readiness(&db, &files.blobs)),
            tags: TagsState::new(&settings.tags)?,
            onboarding: OnboardingState::new(
                settings.app_onboarding.as_ref(),
                settings.well_known_endpoints.as_ref(),
            )?,
            settings: Arc::new(settings),
            db,
            clock,
            jwt,
            devices,
            announcements,
            challenges,
            files,
            messages: exchange.messages,
            relationships: exchange.relationships,
            synchronization: exchange.synchronization,
            tokens: exchange.tokens,
            quotas: ports.quotas,
            push,
            push_sender,
            events,
            wake: Arc::new(Notify::new()),
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
        RelationshipsState::new(self.relationships.clone(), &self.settings.relationships)
    }

    pub fn synchronization_state(&self) -> SynchronizationState {
        SynchronizationState {
            service: self.synchronization.clone(),
        }
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

/// The system clock, shifted by `testing.clock_offset_seconds` (dev only).
fn system_clock(settings: &Settings) -> SharedClock {
    Arc::new(SystemClock::with_offset(Duration::seconds(
        settings.testing.clock_offset_seconds,
    )))
}

fn jwt_keys(settings: &Settings, clock: &SharedClock) -> anyhow::Result<Arc<JwtKeys>> {
    Ok(Arc::new(JwtKeys::from_pem(
        &settings.jwt_signing_key()?,
        settings.authentication.jwt_lifetime_seconds,
        clock.clone(),
    )?))
}

/// The answers modules give each other, implemented once each over the owning module's store.
struct Ports {
    identities: Arc<IdentitiesFromDevices>,
    relationships: Arc<FromRelationships>,
    quotas: QuotasService,
    gate: Arc<QuotasGate>,
}

impl Ports {
    fn new(db: &Database, clock: &SharedClock) -> Self {
        let quotas = quotas_service(db, clock);
        Self {
            identities: Arc::new(IdentitiesFromDevices(DevicesStore::new(db.clone()))),
            relationships: Arc::new(FromRelationships(RelationshipsStore::new(db.clone()))),
            gate: Arc::new(QuotasGate(quotas.clone())),
            quotas,
        }
    }

    fn devices_ports(&self, challenges: &ChallengeStore) -> DevicesPorts {
        DevicesPorts {
            challenges: Arc::new(ChallengesForDevices(challenges.clone())),
            relationships: self.relationships.clone(),
            quotas: self.gate.clone(),
        }
    }
}

/// The services of the exchange between identities, which ask the other modules through ports.
struct Exchange {
    relationships: RelationshipsService,
    synchronization: SynchronizationService,
    tokens: TokensService,
    messages: MessagesService,
}

impl Exchange {
    fn new(settings: &Settings, db: &Database, clock: &SharedClock, ports: &Ports) -> Self {
        let paging = settings.paging();
        Self {
            relationships: RelationshipsService {
                store: RelationshipsStore::new(db.clone()),
                clock: clock.clone(),
                identities: ports.identities.clone(),
                quotas: ports.gate.clone(),
                paging,
            },
            synchronization: SynchronizationService {
                store: SynchronizationStore::new(db.clone()),
                clock: clock.clone(),
                identities: ports.identities.clone(),
                quotas: ports.gate.clone(),
                paging,
            },
            tokens: TokensService {
                store: TokensStore::new(db.clone()),
                clock: clock.clone(),
                quotas: ports.gate.clone(),
                paging,
            },
            messages: MessagesService {
                store: MessagesStore::new(db.clone()),
                clock: clock.clone(),
                relationships: ports.relationships.clone(),
                quotas: ports.gate.clone(),
                settings: Arc::new(settings.messages_settings()),
            },
        }
    }
}

impl Exchange {
    /// Every module's step of identity deletion; `IdentityDataDeletion` puts them in order.
    fn deleters(
        &self,
        announcements: &AnnouncementsService,
        challenges: &ChallengeStore,
        files: &FilesService,
        quotas: &QuotasService,
    ) -> [Arc<dyn IdentityDataDeleter>; 8] {
        [
            Arc::new(announcements.clone()),
            Arc::new(challenges.clone()),
            Arc::new(files.clone()),
            Arc::new(self.messages.clone()),
            Arc::new(quotas.clone()),
            Arc::new(self.relationships.clone()),
            Arc::new(self.synchronization.clone()),
            Arc::new(self.tokens.clone()),
        ]
    }
}

fn files_service(
    settings: &Settings,
    db: &Database,
    clock: &SharedClock,
    ports: &Ports,
) -> anyhow::Result<FilesService> {
    FilesService::new(
        &settings.files,
        &settings.data_dir,
        FilesStore::new(db.clone()),
        ports.gate.clone(),
        clock.clone(),
        settings.paging(),
    )
}

/// The service that queues pushes and the sender that delivers them, over the same connectors.
fn push_service(
    settings: &Settings,
    db: &Database,
    clock: &SharedClock,
    ports: &Ports,
) -> anyhow::Result<(PushService, PushSender)> {
    let mut connectors =
        backbone_push::Connectors::from_config(&settings.push, clock.clone()).context("push")?;
    if let Some(fan_out) = crate::event_bus::sse_fan_out(settings, db) {
        connectors = connectors.with_sse_fan_out(fan_out);
    }
    let connectors = Arc::new(connectors);
    let push = PushService {
        store: PushStore::new(db.clone()),
        connectors: connectors.clone(),
        identities: ports.identities.clone(),
        devices: ports.identities.clone(),
        relationships: ports.relationships.clone(),
        texts: Arc::new(settings.push.text_catalog()),
        clock: clock.clone(),
        wake: Arc::new(Notify::new()),
    };
    let sender = PushSender {
        store: push.store.clone(),
        connectors,
        clock: clock.clone(),
        policy: backbone_push::RetryPolicy::from_config(&settings.push.delivery),
    };
    Ok((push, sender))
}

/// The integration event handlers of every module, in the order they run for an event.
fn event_handlers(
    settings: &Settings,
    clock: &SharedClock,
    exchange: &Exchange,
    ports: &Ports,
    push: &PushService,
) -> Vec<Arc<dyn EventHandler>> {
    vec![
        Arc::new(backbone_messages::events::DecompositionHandler {
            store: exchange.messages.store.clone(),
            anonymous_address: settings.anonymous_address(),
        }),
        Arc::new(ExternalEventsHandler {
            store: exchange.synchronization.store.clone(),
            clock: clock.clone(),
        }),
        Arc::new(backbone_relationships::events::FeatureFlagsHandler {
            store: exchange.relationships.store.clone(),
            clock: clock.clone(),
        }),
        Arc::new(backbone_quotas::events::TierDeletedHandler {
            store: ports.quotas.store.clone(),
        }),
        Arc::new(backbone_relationships::events::IdentityDeletionHandler {
            store: exchange.relationships.store.clone(),
            clock: clock.clone(),
        }),
        // Last: pushes only queue deliveries, after the other modules did their part.
        Arc::new(backbone_push::PushEventsHandler {
            service: push.clone(),
        }),
        Arc::new(backbone_push::AnnouncementPushHandler {
            service: push.clone(),
        }),
    ]
}
