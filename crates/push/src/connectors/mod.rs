//! The push services behind the platforms: FCM, APNs, SSE (this process's hub, or every
//! replica's through a fan-out) and the dummy.
//!
//! A connector sends one [`Delivery`] and says what became of it; it never touches the
//! database. The sender turns the [`Outcome`] into a deletion, a retry or a removed registration.

pub mod apns;
pub mod fcm;
pub mod sse;

use std::sync::Arc;

use backbone_core::SharedClock;
use backbone_eventbus::fanout::FanOut;

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
    /// Carries SSE pushes to the hub of every Consumer API replica; `None`: this process's
    /// hub only (one process serves both, see [`Connectors::with_sse_fan_out`]).
    pub sse_fan_out: Option<Arc<dyn FanOut>>,
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
            sse_fan_out: None,
        })
    }

    /// Sends SSE pushes through `fan_out`, so that the replica holding the device's stream
    /// delivers them, whichever process sends. Replicas call [`Connectors::listen_for_sse`].
    #[must_use]
    pub fn with_sse_fan_out(mut self, fan_out: Arc<dyn FanOut>) -> Self {
        if self.sse.is_some() {
            self.sse_fan_out = Some(fan_out);
        }
        self
    }

    /// The Consumer API role: hands the SSE pushes of every process to this process's hub.
    pub fn listen_for_sse(&self) {
        let (Some(hub), Some(fan_out)) = (self.sse.clone(), &self.sse_fan_out) else {
            return;
        };
        fan_out.listen(Arc::new(move |message: String| {
            match serde_json::from_str::<sse::Signal>(&message) {
                Ok(signal) => {
                    hub.send(&signal.device, &signal.event);
                }
                Err(error) => tracing::warn!(%error, "ignoring a malformed SSE signal"),
            }
        }));
    }

    /// Whether a registration can be served: its platform is enabled and, for FCM and APNs,
    /// its app id is configured.
    pub fn check_registration(&self, registration: &NewRegistration) -> Result<(), PushError> {
        let app_id = registration.app_id.as_str();
        match registration.platform {
            Platform::Fcm => {
                let supported = self
                    .fcm
                    .as_ref()
                    .map(fcm::FcmConnector::app_ids)
                    .unwrap_or_default();
                if supported.iter().any(|id| id == app_id) {
                    Ok(())
                } else {
                    Err(PushError::UnsupportedAppId(supported))
                }
            }
            Platform::Apns => {
                let supported = self
                    .apns
                    .as_ref()
                    .map(apns::ApnsConnector::bundle_ids)
                    .unwrap_or_default();
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
                (Some(_), Some(event_name)) if self.sse_fan_out.is_some() => {
                    self.fan_out_sse(delivery, event_name).await
                }
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

impl Connectors {
    /// Any replica may hold the stream, so the push counts as sent once every replica got
    /// it; a device that is connected nowhere has no registration (its last stream closing
    /// removed it).
    async fn fan_out_sse(&self, delivery: &Delivery, event_name: &str) -> Outcome {
        let Some(fan_out) = &self.sse_fan_out else {
            return Outcome::Failed("SSE fan-out is not configured".into());
        };
        let signal = sse::Signal {
            device: delivery.device_id.clone(),
            event: event_name.to_owned(),
        };
        let message = serde_json::to_string(&signal).expect("signals serialize");
        match fan_out.publish(&message).await {
            Ok(()) => Outcome::Sent,
            Err(error) => Outcome::Retry(format!("SSE fan-out failed: {error:#}")),
        }
    }
}

/// A provider's answer body, shortened for logs.
fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}
