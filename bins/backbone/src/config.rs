//! Configuration: built-in defaults, then an optional TOML file (`--config`), then
//! `BACKBONE_<SECTION>__<KEY>` environment variables. Validated once at start; a bad value
//! stops the process with a message that names the key. See `config/backbone.example.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use backbone_blob::BlobStorageConfig;
use backbone_core::paging::PagingLimits;
use backbone_onboarding::{AppOnboardingConfig, WellKnownEndpointsConfig};
use backbone_tags::TagsConfig;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod http;
mod modules;
pub use http::HttpSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Landscape {
    #[default]
    Dev,
    Stage,
    Prod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// dev (default), stage or prod; picks safe defaults (password policy, lockout, secrets).
    pub landscape: Landscape,
    /// Where the embedded database, generated keys and local blobs live.
    pub data_dir: PathBuf,
    /// The host name clients use; part of every identity address.
    pub did_domain_name: String,
    pub database: DatabaseSettings,
    pub consumer_api: ConsumerApiSettings,
    pub admin_api: AdminApiSettings,
    /// Timeouts and limits of both HTTP listeners.
    pub http: HttpSettings,
    /// Per client IP and per identity limits; on by default in stage and prod.
    pub rate_limits: backbone_gateway::RateLimitsConfig,
    pub metrics: MetricsSettings,
    pub authentication: AuthenticationSettings,
    pub devices: backbone_devices::DevicesConfig,
    pub pagination: PagingLimits,
    pub cors: CorsSettings,
    pub files: backbone_files::FilesConfig,
    pub jobs: JobsConfig,
    pub messages: backbone_messages::MessagesConfig,
    /// Push notifications: FCM, APNs, dummy, SSE, delivery retries and texts.
    pub push: backbone_push::PushConfig,
    pub relationships: backbone_relationships::RelationshipsConfig,
    pub tags: TagsConfig,
    /// The `/r/{referenceId}` onboarding page; not set: 404.
    pub app_onboarding: Option<AppOnboardingConfig>,
    /// `/.well-known/apple-app-site-association` and `assetlinks.json`; not set: 404.
    pub well_known_endpoints: Option<WellKnownEndpointsConfig>,
    pub worker: WorkerSettings,
    /// Which bus carries events between processes, and how failing handlers are retried.
    pub event_bus: backbone_eventbus::EventBusConfig,
    pub testing: TestingSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://<path>` or `postgres://user@host:port/db`; default: SQLite under the data dir.
    pub url: Option<String>,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it is answered 503.
    pub acquire_timeout_seconds: u64,
}

impl DatabaseSettings {
    pub fn pool_options(&self) -> backbone_db::PoolOptions {
        backbone_db::PoolOptions {
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_seconds),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerApiSettings {
    pub listen: SocketAddr,
    pub max_request_body_bytes: usize,
    /// HTTPS on this listener: `cert_file`, `key_file` (PEM), reloaded when they change.
    #[serde(default)]
    pub tls: Option<backbone_gateway::TlsConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminApiSettings {
    pub listen: SocketAddr,
    /// Required in prod; generated and kept under the data dir in dev and stage.
    #[serde(default, deserialize_with = "optional_text")]
    pub api_key: Option<String>,
    /// HTTPS on this listener, as `consumer_api.tls`.
    #[serde(default)]
    pub tls: Option<backbone_gateway::TlsConfig>,
}

/// `[metrics]`: where roles without the Admin API serve `/metrics` and the health checks.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Not set: no metrics listener (the Admin API serves `/metrics` where it runs).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationSettings {
    /// 60..=3600
    pub jwt_lifetime_seconds: i64,
    /// Ed25519 private key, PKCS#8 PEM. Required in prod; generated under the data dir otherwise.
    #[serde(default, deserialize_with = "optional_text")]
    pub jwt_signing_key: Option<String>,
    /// Lock after this many consecutive failed logins.
    pub max_failed_logins: i64,
    /// How long a locked device stays locked; default 60 in dev, 600 otherwise.
    pub lockout_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// `;`-separated origins; empty disables CORS.
    pub allowed_origins: String,
    /// `;`-separated response headers to expose.
    pub exposed_headers: String,
}

/// How often the worker runs each job, in seconds; 0 disables a job (run it with `backbone job run`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    pub identity_deletion_interval_seconds: u64,
    pub grace_period_reminders_interval_seconds: u64,
    pub housekeeping_interval_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// How often the worker looks for events written by other processes. Writes in the same
    /// process wake it at once.
    pub relay_interval_milliseconds: u64,
    /// Events the worker handles at once. Events about the same identity or relationship
    /// still run in outbox order.
    pub max_concurrent_events: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TestingSettings {
    /// Shifts the server clock forward (dev landscape only), e.g. to let issued tokens expire.
    pub clock_offset_seconds: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter, e.g. `info` or `backbone=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

/// The top-level keys of [`Settings`]. Other `BACKBONE_*` variables (`BACKBONE_CONFIG`, or a
/// test harness's `BACKBONE_BIN`) are not settings: they are skipped with a warning, while an
/// unknown key inside a known section (`BACKBONE_DATABASE__ULR`) is an error.
const SECTIONS: &[&str] = &[
    "landscape",
    "data_dir",
    "did_domain_name",
    "database",
    "consumer_api",
    "admin_api",
    "http",
    "rate_limits",
    "metrics",
    "authentication",
    "devices",
    "pagination",
    "cors",
    "files",
    "jobs",
    "messages",
    "push",
    "relationships",
    "tags",
    "app_onboarding",
    "well_known_endpoints",
    "worker",
    "event_bus",
    "testing",
    "log",
];

fn is_settings_variable(key: &figment::value::UncasedStr) -> bool {
    let section = key
        .as_str()
        .split("__")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let known = SECTIONS.contains(&section.as_str());
    if !known && section != "config" {
        eprintln!("warning: ignoring BACKBONE_{key}: not a configuration key");
    }
    known
}

/// Secrets may look like numbers; environment values that do are parsed as numbers, so take
/// any scalar as text.
fn optional_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i128),
        Float(f64),
        Bool(bool),
    }
    Ok(
        Option::<Scalar>::deserialize(deserializer)?.map(|scalar| match scalar {
            Scalar::Text(text) => text,
            Scalar::Integer(number) => number.to_string(),
            Scalar::Float(number) => number.to_string(),
            Scalar::Bool(value) => value.to_string(),
        }),
    )
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            landscape: Landscape::Dev,
            data_dir: PathBuf::from("./data"),
            did_domain_name: "localhost".into(),
            database: DatabaseSettings {
                url: None,
                max_connections: 10,
                acquire_timeout_seconds: 5,
            },
            consumer_api: ConsumerApiSettings {
                listen: ([127, 0, 0, 1], 8090).into(),
                max_request_body_bytes: 20 * 1024 * 1024,
                tls: None,
            },
            admin_api: AdminApiSettings {
                listen: ([127, 0, 0, 1], 8091).into(),
                api_key: None,
                tls: None,
            },
            http: HttpSettings::default(),
            rate_limits: backbone_gateway::RateLimitsConfig::default(),
            metrics: MetricsSettings::default(),
            authentication: AuthenticationSettings {
                jwt_lifetime_seconds: 300,
                jwt_signing_key: None,
                max_failed_logins: 3,
                lockout_seconds: None,
            },
            devices: backbone_devices::DevicesConfig::default(),
            pagination: PagingLimits::default(),
            cors: CorsSettings::default(),
            files: backbone_files::FilesConfig::default(),
            jobs: JobsConfig {
                identity_deletion_interval_seconds: 3600,
                grace_period_reminders_interval_seconds: 3600,
                housekeeping_interval_seconds: 86_400,
            },
            messages: backbone_messages::MessagesConfig::default(),
            push: backbone_push::PushConfig::default(),
            relationships: backbone_relationships::RelationshipsConfig::default(),
            tags: TagsConfig::default(),
            app_onboarding: None,
            well_known_endpoints: None,
            worker: WorkerSettings {
                relay_interval_milliseconds: 500,
                max_concurrent_events: 8,
            },
            event_bus: backbone_eventbus::EventBusConfig::default(),
            testing: TestingSettings::default(),
            log: LogSettings {
                level: "info".into(),
                format: "text".into(),
            },
        }
    }
}

impl Settings {
    /// Loads defaults, then the file (if any), then the environment, and validates the result.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment
            .merge(
                Env::prefixed("BACKBONE_")
                    .filter(is_settings_variable)
                    .split("__"),
            )
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let auth = &self.authentication;
        if !(60..=3600).contains(&auth.jwt_lifetime_seconds) {
            bail!("authentication.jwt_lifetime_seconds must be between 60 and 3600");
        }
        if auth.max_failed_logins < 1 {
            bail!("authentication.max_failed_logins must be at least 1");
        }
        if auth.lockout_seconds.is_some_and(|s| s < 1) {
            bail!("authentication.lockout_seconds must be at least 1");
        }
        let domain_is_valid = (3..=45).contains(&self.did_domain_name.len())
            && backbone_core::IdentityAddress::parse(
                backbone_core::IdentityAddress::derive(&[0; 32], &self.did_domain_name).as_str(),
            )
            .is_some();
        if !domain_is_valid {
            bail!("did_domain_name must be a lower-case host name of 3 to 45 characters");
        }
        self.pagination.validate()?;
        self.devices.validate()?;
        if let Some(url) = &self.database.url {
            backbone_db::Dialect::from_url(url).context("database.url")?;
        }
        if self.database.max_connections < 1 {
            bail!("database.max_connections must be at least 1");
        }
        if !(1..=60).contains(&self.database.acquire_timeout_seconds) {
            bail!("database.acquire_timeout_seconds must be between 1 and 60");
        }
        if self.log.format != "text" && self.log.format != "json" {
            bail!("log.format must be \"text\" or \"json\"");
        }
        self.http.validate()?;
        self.rate_limits.validate()?;
        if let Some(tls) = &self.consumer_api.tls {
            tls.validate("consumer_api.tls")?;
        }
        if let Some(tls) = &self.admin_api.tls {
            tls.validate("admin_api.tls")?;
        }
        self.tags.validate()?;
        if let Some(onboarding) = &self.app_onboarding {
            onboarding.validate()?;
        }
        if let Some(well_known) = &self.well_known_endpoints {
            well_known.validate()?;
        }
        self.push.validate()?;
        self.files.validate()?;
        self.messages.validate()?;
        if !(10..=60_000).contains(&self.worker.relay_interval_milliseconds) {
            bail!("worker.relay_interval_milliseconds must be between 10 and 60000");
        }
        if !(1..=64).contains(&self.worker.max_concurrent_events) {
            bail!("worker.max_concurrent_events must be between 1 and 64");
        }
        self.event_bus.validate()?;
        if self.testing.clock_offset_seconds != 0 && self.landscape != Landscape::Dev {
            bail!("testing.clock_offset_seconds is only allowed in the dev landscape");
        }
        if self.landscape == Landscape::Prod {
            match &self.admin_api.api_key {
                Some(key) if key.len() >= 16 => {}
                _ => bail!("admin_api.api_key must be set (at least 16 characters) in the prod landscape"),
            }
            if auth.jwt_signing_key.as_deref().is_none_or(str::is_empty) {
                bail!("authentication.jwt_signing_key must be set in the prod landscape");
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("backbone.db").display()))
    }

    /// Rate limits apply unless configured otherwise: off in dev (client test suites make
    /// bursts), on in stage and prod.
    pub fn rate_limits_by_default(&self) -> bool {
        self.landscape != Landscape::Dev
    }

    /// The landscape's password policy when `devices.password_policy` is not set.
    pub fn strict_passwords_by_default(&self) -> bool {
        self.landscape != Landscape::Dev
    }

    pub fn lockout_seconds(&self) -> i64 {
        self.authentication
            .lockout_seconds
            .unwrap_or(if self.landscape == Landscape::Dev { 60 } else { 600 })
    }

    /// The JWT signing key: configured, or (outside prod) generated once and kept in the data dir.
    pub fn jwt_signing_key(&self) -> anyhow::Result<String> {
        if let Some(key) = self
            .authentication
            .jwt_signing_key
            .as_deref()
            .filter(|k| !k.is_empty())
        {
            return Ok(key.to_owned());
        }
        self.persisted_secret("jwt-signing-key.pem", crate::secrets::generate_jwt_signing_key)
    }

    /// The admin API key: configured, or (outside prod) generated once and kept in the data dir.
    pub fn admin_api_key(&self) -> anyhow::Result<String> {
        if let Some(key) = self.admin_api.api_key.as_deref().filter(|k| !k.is_empty()) {
            return Ok(key.to_owned());
        }
        self.persisted_secret("admin-api-key", crate::secrets::generate_admin_api_key)
    }

    fn persisted_secret(&self, name: &str, generate: fn() -> String) -> anyhow::Result<String> {
        if self.landscape == Landscape::Prod {
            bail!("secrets are never generated in the prod landscape");
        }
        crate::secrets::persisted(&self.data_dir, name, generate)
    }

    /// Whether this configuration keeps anything in `data_dir`: the default SQLite file, the
    /// default local blob directory, or secrets generated because none are configured.
    pub fn uses_data_dir(&self) -> bool {
        let generates_secrets = self.landscape != Landscape::Prod
            && (self.admin_api.api_key.as_deref().is_none_or(str::is_empty)
                || self
                    .authentication
                    .jwt_signing_key
                    .as_deref()
                    .is_none_or(str::is_empty));
        let default_blobs =
            matches!(&self.files.blob_storage, BlobStorageConfig::Local(local) if local.path.is_none());
        self.database.url.is_none() || generates_secrets || default_blobs
    }
}

#[cfg(test)]
mod tests;
