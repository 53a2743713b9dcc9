//! The push services behind the platforms: FCM, APNs, SSE (in process) and the dummy.
//!
//! A connector sends one [`Delivery`] and says what became of it; it never touches the
//! database. The sender turns the [`Outcome`] into a deletion, a retry or a removed registration.

pub mod apns;
pub mod fcm;
pub mod sse;

use backbone_core::SharedClock;

use crate::config::PushConfig;
use crate::domain::{Delivery, NewRegistration, Platform};
use crate::error::PushError;
use apns::ApnsConnector;
use fcm::FcmConnector;
use sse::SseHub;

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// The handle is no longer valid (app uninstalled, token expired, SSE client gone): the
    /// registration is removed.
    InvalidHandle(String),
    /// A temporary failure (timeout, 5xx, 429, expired credentials): try again later.
    Retry(String),
    /// A failure that will not go away by retrying: logged and dropped.
    Failed(String),
}

/// The enabled connectors, built once from the configuration.
pub struct Connectors {
    pub fcm: Option<FcmConnector>,
    pub apns: Option<ApnsConnector>,
    pub dummy: bool,
    /// The in-process hub of SSE connections; `None` when SSE is disabled.
    pub sse: Option<SseHub>,
}

impl Connectors {
    /// Builds the connectors of `config` (which must have been validated).
    pub fn from_config(config: &PushConfig, clock: SharedClock) -> anyhow::Result<Self> {
        let timeout = config.delivery.request_timeout();
        let fcm_apps = config.fcm_apps()?;
        let apns_bundles = config.apns_bundles()?;
        Ok(Self {
            fcm: if config.fcm.enabled {
                Some(FcmConnector::new(
                    &config.fcm.endpoint,
                    fcm_apps,
                    timeout,
                    clock.clone(),
                )?)
            } else {
                None
            },
            apns: if config.apns.enabled {
                Some(ApnsConnector::new(
                    &config.apns.production_endpoint,
                    &config.apns.development_endpoint,
                    apns_bundles,
                    timeout,
                    clock,
                )?)
            } else {
                None
            },
            dummy: config.dummy.enabled,
            sse: config.sse.enabled.then(SseHub::default),
        })
    }

    /// Whether a registration can be served: its platform is enabled and, for FCM and APNs,
    /// its app id is configured.
    pub fn check_registration(&self, registration: &NewRegistration) -> Result<(), PushError> {
        let app_id = registration.app_id.as_str();
        match registration.platform {
            Platform::Fcm => {
                let supported = self.fcm.as_ref().map(|c| c.app_ids()).unwrap_or_default();
                if supported.iter().any(|id| id == app_id) {
                    Ok(())
                } else {
                    Err(PushError::UnsupportedAppId(supported))
                }
            }
            Platform::Apns => {
                let supported = self.apns.as_ref().map(|c| c.bundle_ids()).unwrap_or_default();
                if supported.iter().any(|id| id == app_id) {
                    Ok(())
                } else {
                    Err(PushError::UnsupportedAppId(supported))
                }
            }
            Platform::Dummy if self.dummy => Ok(()),
            Platform::Sse if self.sse.is_some() => Ok(()),
            platform => Err(PushError::PlatformNotEnabled(platform)),
        }
    }

    /// Sends one delivery through the connector of its platform.
    pub async fn send(&self, delivery: &Delivery) -> Outcome {
        match delivery.platform {
            Platform::Fcm => match &self.fcm {
                Some(fcm) => fcm.send(delivery).await,
                None => Outcome::Failed("FCM is not enabled".into()),
            },
            Platform::Apns => match &self.apns {
                Some(apns) => apns.send(delivery).await,
                None => Outcome::Failed("APNs is not enabled".into()),
            },
            Platform::Dummy => {
                tracing::info!(
                    device = %delivery.device_id,
                    event = delivery.event_name.as_deref().unwrap_or("(text only)"),
                    "dummy push notification (nothing is sent)"
                );
                Outcome::Sent
            }
            Platform::Sse => match (&self.sse, &delivery.event_name) {
                (Some(hub), Some(event_name)) => {
                    if hub.send(&delivery.device_id, event_name) {
                        Outcome::Sent
                    } else {
                        Outcome::InvalidHandle("the SSE client is not connected".into())
                    }
                }
                // Text-only notifications are not forwarded via SSE.
                (Some(_), None) => Outcome::Sent,
                (None, _) => Outcome::Failed("SSE is not enabled".into()),
            },
        }
    }
}

/// A provider's answer body, shortened for logs.
fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}
