//! The `[push]` section of the configuration. Every key has a default; FCM and APNs are off
//! until configured, `dummy` and `sse` are on.
//!
//! ```toml
//! [push.fcm]
//! enabled = true
//! [push.fcm.service_accounts.main]
//! service_account_file = "/run/secrets/firebase.json"  # or service_account_json = '''{…}'''
//! [push.fcm.apps."eu.enmeshed.app"]
//! service_account = "main"
//!
//! [push.apns]
//! enabled = true
//! [push.apns.keys.main]
//! team_id = "ABCDE12345"
//! key_id = "FGHIJ67890"
//! private_key = "-----BEGIN PRIVATE KEY-----…"  # the .p8 file (or its base64 body)
//! [push.apns.bundles."eu.enmeshed.app"]
//! key = "main"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Serialize};

use crate::connectors::apns::ApnsKey;
use crate::connectors::fcm::ServiceAccount;
use crate::domain::NotificationText;
use crate::texts::{TextCatalog, DEFAULT_LANGUAGE};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    pub fcm: FcmConfig,
    pub apns: ApnsConfig,
    pub dummy: DummyConfig,
    pub sse: SseConfig,
    pub delivery: DeliveryConfig,
    /// Overrides or additions to the built-in texts: language → event name → text, e.g.
    /// `[push.texts.de.DatawalletModificationsCreated]`.
    pub texts: BTreeMap<String, BTreeMap<String, TextConfig>>,
    /// Text-only notifications identities may send to their peers (`POST /api/v2/Notifications`).
    pub notifications: Vec<NotificationCodeConfig>,
}

/// Firebase Cloud Messaging (HTTP v1 API with service-account credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcmConfig {
    pub enabled: bool,
    /// The FCM API base URL (tests point it at a local server).
    pub endpoint: String,
    /// Named service accounts (Google service-account key JSON).
    pub service_accounts: BTreeMap<String, FcmServiceAccountConfig>,
    /// App id (the `appId` of registrations) → which service account sends to it.
    pub apps: BTreeMap<String, FcmAppConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FcmServiceAccountConfig {
    /// The key file's JSON text; alternative to `service_account_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_json: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_file: Option<PathBuf>,
    /// The Firebase project; default: the key's `project_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmAppConfig {
    pub service_account: String,
}

/// Apple Push Notification service, token-based (a `.p8` key, its key id and the team id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApnsConfig {
    pub enabled: bool,
    /// Where `Production` registrations are sent.
    pub production_endpoint: String,
    /// Where `Development` registrations are sent (Apple's sandbox).
    pub development_endpoint: String,
    pub keys: BTreeMap<String, ApnsKeyConfig>,
    /// Bundle id (the `appId` of registrations) → which key signs for it.
    pub bundles: BTreeMap<String, ApnsBundleConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsKeyConfig {
    pub team_id: String,
    pub key_id: String,
    /// The `.p8` file (PKCS#8 PEM), or its base64 body without the PEM lines (upstream's form).
    pub private_key: Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnsBundleConfig {
    pub key: String,
}

/// Accepts any registration and sends nothing (logs only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DummyConfig {
    pub enabled: bool,
}

/// `GET /api/v2/sse`: pushes as server-sent events to connected devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SseConfig {
    pub enabled: bool,
    /// A `keep-alive` event goes out after this long without other events (upstream: 240 s).
    pub keep_alive_interval_milliseconds: u64,
}

/// The delivery queue: how often and how patiently pushes are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts per push before it is given up (a timeout, a 5xx or a 429 counts as one).
    pub max_attempts: u32,
    /// Wait after the first failure; doubles with every further one.
    pub first_retry_delay_seconds: u64,
    pub max_retry_delay_seconds: u64,
    /// One request to a provider (token exchange or send) may take this long.
    pub request_timeout_milliseconds: u64,
    /// How often the worker looks for due pushes (new pushes of this process wake it at once).
    pub poll_interval_milliseconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextConfig {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationCodeConfig {
    pub code: String,
    /// Language → text; `en` is required.
    pub translations: BTreeMap<String, TextConfig>,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            fcm: FcmConfig::default(),
            apns: ApnsConfig::default(),
            dummy: DummyConfig { enabled: true },
            sse: SseConfig::default(),
            delivery: DeliveryConfig::default(),
            texts: BTreeMap::new(),
            notifications: Vec::new(),
        }
    }
}

impl Default for FcmConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "https://fcm.googleapis.com".into(),
            service_accounts: BTreeMap::new(),
            apps: BTreeMap::new(),
        }
    }
}

impl Default for ApnsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            production_endpoint: "https://api.push.apple.com".into(),
            development_endpoint: "https://api.sandbox.push.apple.com".into(),
            keys: BTreeMap::new(),
            bundles: BTreeMap::new(),
        }
    }
}

impl Default for DummyConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

impl Default for SseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keep_alive_interval_milliseconds: 240_000,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_retry_delay_seconds: 10,
            max_retry_delay_seconds: 3600,
            request_timeout_milliseconds: 10_000,
            poll_interval_milliseconds: 1000,
        }
    }
}

impl TextConfig {
    fn to_text(&self) -> NotificationText {
        NotificationText {
            title: self.title.clone(),
            body: self.body.clone(),
        }
    }
}

impl DeliveryConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_milliseconds)
    }
}

impl SseConfig {
    pub fn keep_alive_interval(&self) -> Duration {
        Duration::from_millis(self.keep_alive_interval_milliseconds)
    }
}

impl PushConfig {
    /// Checks every key, including that credentials parse and keys can sign.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.fcm_apps()?;
        self.apns_bundles()?;
        let delivery = &self.delivery;
        ensure!(
            (1..=100).contains(&delivery.max_attempts),
            "push.delivery.max_attempts must be between 1 and 100"
        );
        ensure!(
            delivery.first_retry_delay_seconds >= 1,
            "push.delivery.first_retry_delay_seconds must be at least 1"
        );
        ensure!(
            delivery.max_retry_delay_seconds >= delivery.first_retry_delay_seconds,
            "push.delivery.max_retry_delay_seconds must not be less than push.delivery.first_retry_delay_seconds"
        );
        ensure!(
            (10..=300_000).contains(&delivery.request_timeout_milliseconds),
            "push.delivery.request_timeout_milliseconds must be between 10 and 300000"
        );
        ensure!(
            (10..=60_000).contains(&delivery.poll_interval_milliseconds),
            "push.delivery.poll_interval_milliseconds must be between 10 and 60000"
        );
        ensure!(
            self.sse.keep_alive_interval_milliseconds >= 10,
            "push.sse.keep_alive_interval_milliseconds must be at least 10"
        );
        for (language, events) in &self.texts {
            ensure!(
                backbone_core::language::is_supported_language(language),
                "push.texts: unknown language {language:?}"
            );
            for (event, text) in events {
                ensure!(
                    crate::texts::is_known_event(event),
                    "push.texts.{language}.{event}: unknown notification (e.g. ExternalEventCreated, TokenLocked)"
                );
                ensure!(
                    !text.title.trim().is_empty() || !text.body.trim().is_empty(),
                    "push.texts.{language}.{event} needs a title or a body"
                );
            }
        }
        let mut codes = std::collections::HashSet::new();
        for (index, notification) in self.notifications.iter().enumerate() {
            let key = format!("push.notifications[{index}]");
            ensure!(
                notification.code.chars().count() >= 3,
                "{key}.code must have at least 3 characters"
            );
            ensure!(
                codes.insert(notification.code.as_str()),
                "{key}.code: {:?} is configured twice",
                notification.code
            );
            ensure!(
                notification.translations.contains_key(DEFAULT_LANGUAGE),
                "{key}.translations must contain \"en\""
            );
            for language in notification.translations.keys() {
                ensure!(
                    backbone_core::language::is_supported_language(language),
                    "{key}.translations: unknown language {language:?}"
                );
            }
        }
        Ok(())
    }

    /// App id → (service account name, parsed credentials); empty when FCM is off.
    pub fn fcm_apps(&self) -> anyhow::Result<BTreeMap<String, (String, ServiceAccount)>> {
        let fcm = &self.fcm;
        if !fcm.enabled {
            return Ok(BTreeMap::new());
        }
        ensure!(
            fcm.endpoint.starts_with("http://") || fcm.endpoint.starts_with("https://"),
            "push.fcm.endpoint must be an http(s) URL"
        );
        ensure!(
            !fcm.apps.is_empty(),
            "push.fcm.apps must name at least one app id when push.fcm.enabled is true"
        );
        let mut accounts = BTreeMap::new();
        for (name, account) in &fcm.service_accounts {
            let key = format!("push.fcm.service_accounts.{name}");
            let json = match (&account.service_account_json, &account.service_account_file) {
                (Some(json), None) => json.expose().to_owned(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .with_context(|| format!("{key}.service_account_file: cannot read {}", path.display()))?,
                _ => bail!("{key}: set exactly one of service_account_json and service_account_file"),
            };
            let parsed = ServiceAccount::parse(&json, account.project_id.as_deref())
                .with_context(|| format!("{key}: not a usable service account key"))?;
            accounts.insert(name.clone(), parsed);
        }
        fcm.apps
            .iter()
            .map(|(app_id, app)| {
                let account = accounts.get(&app.service_account).with_context(|| {
                    format!(
                        "push.fcm.apps.{app_id:?}.service_account: no service account named {:?}",
                        app.service_account
                    )
                })?;
                Ok((app_id.clone(), (app.service_account.clone(), account.clone())))
            })
            .collect()
    }

    /// Bundle id → (key name, parsed key); empty when APNs is off.
    pub fn apns_bundles(&self) -> anyhow::Result<BTreeMap<String, (String, ApnsKey)>> {
        let apns = &self.apns;
        if !apns.enabled {
            return Ok(BTreeMap::new());
        }
        for (key, url) in [
            ("production_endpoint", &apns.production_endpoint),
            ("development_endpoint", &apns.development_endpoint),
        ] {
            ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "push.apns.{key} must be an http(s) URL"
            );
        }
        ensure!(
            !apns.bundles.is_empty(),
            "push.apns.bundles must name at least one bundle id when push.apns.enabled is true"
        );
        let mut keys = BTreeMap::new();
        for (name, key) in &apns.keys {
            let parsed = ApnsKey::parse(&key.key_id, &key.team_id, key.private_key.expose())
                .with_context(|| format!("push.apns.keys.{name}: not a usable APNs key"))?;
            keys.insert(name.clone(), parsed);
        }
        apns.bundles
            .iter()
            .map(|(bundle, config)| {
                let key = keys.get(&config.key).with_context(|| {
                    format!("push.apns.bundles.{bundle:?}.key: no key named {:?}", config.key)
                })?;
                Ok((bundle.clone(), (config.key.clone(), key.clone())))
            })
            .collect()
    }

    /// The texts: built-in, the configured overrides, and the text-only notifications.
    pub fn text_catalog(&self) -> TextCatalog {
        let overrides = self
            .texts
            .iter()
            .map(|(language, events)| {
                let events = events
                    .iter()
                    .map(|(event, text)| (event.clone(), text.to_text()))
                    .collect();
                (language.clone(), events)
            })
            .collect();
        let codes = self
            .notifications
            .iter()
            .map(|n| {
                let translations = n
                    .translations
                    .iter()
                    .map(|(language, text)| (language.clone(), text.to_text()))
                    .collect();
                (n.code.clone(), translations)
            })
            .collect();
        TextCatalog::new(&overrides, codes)
    }
}

/// A credential: never printed.
#[derive(Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        PushConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let error = |config: &PushConfig| format!("{:#}", config.validate().unwrap_err());

        let mut config = PushConfig::default();
        config.fcm.enabled = true;
        assert!(error(&config).contains("push.fcm.apps"));
        config.fcm.apps.insert(
            "app".into(),
            FcmAppConfig {
                service_account: "main".into(),
            },
        );
        assert!(error(&config).contains("push.fcm.apps.\"app\".service_account"));
        config.fcm.service_accounts.insert(
            "main".into(),
            FcmServiceAccountConfig {
                service_account_json: Some(Secret::new("{}")),
                ..Default::default()
            },
        );
        assert!(error(&config).contains("push.fcm.service_accounts.main"));

        let mut config = PushConfig::default();
        config.apns.enabled = true;
        config
            .apns
            .bundles
            .insert("b".into(), ApnsBundleConfig { key: "k".into() });
        config.apns.keys.insert(
            "k".into(),
            ApnsKeyConfig {
                team_id: "TEAM".into(),
                key_id: "KEY".into(),
                private_key: Secret::new("not a key"),
            },
        );
        assert!(error(&config).contains("push.apns.keys.k"));

        let mut config = PushConfig::default();
        config.notifications.push(NotificationCodeConfig {
            code: "Hello".into(),
            translations: BTreeMap::from([(
                "de".into(),
                TextConfig {
                    title: "Hallo".into(),
                    body: "Welt".into(),
                },
            )]),
        });
        assert!(error(&config).contains("push.notifications[0].translations"));

        let mut config = PushConfig::default();
        config.texts.insert(
            "de".into(),
            BTreeMap::from([(
                "ExternalEventCreate".into(),
                TextConfig {
                    title: "x".into(),
                    body: "y".into(),
                },
            )]),
        );
        assert!(error(&config).contains("push.texts.de.ExternalEventCreate"));

        let mut config = PushConfig::default();
        config.delivery.max_attempts = 0;
        assert!(error(&config).contains("push.delivery.max_attempts"));
    }

    #[test]
    fn secrets_are_not_printed() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "\"***\"");
    }
}
