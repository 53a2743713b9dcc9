//! App onboarding (spec consumer-api-identity §11.5–11.6): the links the official client puts
//! into QR codes and share texts (`<backbone>/r/<reference>?app=<id>#<secret>`) open a page
//! that offers the configured app in the right store, and `/.well-known/` serves the files
//! that let iOS and Android open those links in the app directly.
//!
//! Everything comes from configuration ([`AppOnboardingConfig`], [`WellKnownEndpointsConfig`]);
//! without it the routes answer 404, as upstream. The pages are askama templates compiled
//! into the binary; the only images are the icons and banners the configuration names.

mod config;
mod pages;
mod platform;
mod well_known;

use std::sync::Arc;

use backbone_web::openapi::routes;
use backbone_web::Routes;

pub use config::{
    AndroidAssetLink, AppConfig, AppOnboardingConfig, ColorScheme, StoreConfig, WellKnownEndpointsConfig,
};
pub use platform::Platform;

/// What the routes serve: the apps, and the `.well-known` bodies rendered once at start.
#[derive(Debug, Clone, Default)]
pub struct OnboardingState {
    apps: Option<Arc<AppOnboardingConfig>>,
    well_known: Option<Arc<well_known::Bodies>>,
}

impl OnboardingState {
    /// Checks both sections (`None`: not configured, the routes answer 404).
    pub fn new(
        apps: Option<&AppOnboardingConfig>,
        well_known: Option<&WellKnownEndpointsConfig>,
    ) -> anyhow::Result<Self> {
        if let Some(apps) = apps {
            apps.validate()?;
        }
        let well_known = match well_known {
            Some(config) => {
                config.validate()?;
                Some(Arc::new(well_known::Bodies::render(config)?))
            }
            None => None,
        };
        Ok(Self {
            apps: apps.cloned().map(Arc::new),
            well_known,
        })
    }
}

pub fn routes(state: OnboardingState) -> Routes {
    Routes::new()
        .routes(routes!(pages::get_reference))
        .routes(routes!(well_known::apple_app_site_association))
        .routes(routes!(well_known::android_asset_links))
        .with_state(state)
}
