//! The `[app_onboarding]` and `[well_known_endpoints]` sections (upstream's `AppOnboarding` and
//! `WellKnownEndpoints`), checked at start so that a bad value names its key.

use anyhow::{bail, ensure};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppOnboardingConfig {
    /// The app shown when a link names none; without it such links get the app selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_app_id: Option<String>,
    pub apps: Vec<AppConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The `app` query parameter that selects it; also the URL scheme that opens the app.
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// `http(s)://…` or `data:image/…;base64,…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// `http(s)://…` or `data:image/…;base64,…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner_url: Option<String>,
    pub color_scheme: ColorScheme,
    pub apple_app_store: StoreConfig,
    pub google_play_store: StoreConfig,
}

/// `#RRGGBB` colours of the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorScheme {
    pub background: String,
    pub primary: String,
    pub secondary: String,
    pub on_primary: String,
    pub on_secondary: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The app's page in the store; without it the button is greyed out and `no_link_text`
    /// says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_link: Option<String>,
    pub no_link_text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WellKnownEndpointsConfig {
    /// `<team id>.<bundle id>` of each iOS app that may open `/r/…` links.
    #[serde(default)]
    pub apple_app_site_associations: Vec<String>,
    #[serde(default)]
    pub android_asset_links: Vec<AndroidAssetLink>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndroidAssetLink {
    pub package_name: String,
    /// SHA-256 fingerprints of the signing certificates, `AA:BB:…` (32 upper-case hex pairs).
    pub sha256_cert_fingerprints: Vec<String>,
}

const APPS: &str = "app_onboarding.apps";

impl AppOnboardingConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(!self.apps.is_empty(), "{APPS} must list at least one app");
        for (index, app) in self.apps.iter().enumerate() {
            app.validate(&format!("{APPS}[{index}]"))?;
            if self.apps[..index].iter().any(|other| other.id == app.id) {
                bail!("{APPS}[{index}].id: {:?} is used by another app", app.id);
            }
        }
        if let Some(default) = &self.default_app_id {
            ensure!(
                self.apps.iter().any(|app| &app.id == default),
                "app_onboarding.default_app_id: {default:?} is not the id of one of the apps"
            );
        }
        Ok(())
    }

    /// The app a link asks for, or the default app when it names none.
    pub fn app(&self, requested: Option<&str>) -> Option<&AppConfig> {
        let id = requested.or(self.default_app_id.as_deref())?;
        self.apps.iter().find(|app| app.id == id)
    }
}

impl AppConfig {
    fn validate(&self, key: &str) -> anyhow::Result<()> {
        ensure!(
            is_url_scheme(&self.id),
            "{key}.id must be usable as a URL scheme (a letter, then letters, digits, '+', '-' or '.')"
        );
        ensure!(
            !self.display_name.trim().is_empty(),
            "{key}.display_name must not be empty"
        );
        for (name, url) in [("icon_url", &self.icon_url), ("banner_url", &self.banner_url)] {
            if let Some(url) = url {
                ensure!(
                    is_http_url(url) || is_image_data_url(url),
                    "{key}.{name} must be an http(s):// URL or a data:image/…;base64,… URL"
                );
            }
        }
        let scheme = &self.color_scheme;
        for (name, colour) in [
            ("background", &scheme.background),
            ("primary", &scheme.primary),
            ("secondary", &scheme.secondary),
            ("on_primary", &scheme.on_primary),
            ("on_secondary", &scheme.on_secondary),
        ] {
            ensure!(
                is_hex_colour(colour),
                "{key}.color_scheme.{name} must be a colour like #1A2B3C, not {colour:?}"
            );
        }
        for (name, store) in [
            ("apple_app_store", &self.apple_app_store),
            ("google_play_store", &self.google_play_store),
        ] {
            if let Some(link) = &store.app_link {
                ensure!(
                    is_http_url(link),
                    "{key}.{name}.app_link must be an http(s):// URL"
                );
            }
            ensure!(
                !store.no_link_text.trim().is_empty(),
                "{key}.{name}.no_link_text must not be empty"
            );
        }
        Ok(())
    }
}

impl WellKnownEndpointsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        const KEY: &str = "well_known_endpoints";
        for (index, id) in self.apple_app_site_associations.iter().enumerate() {
            ensure!(
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
                "{KEY}.apple_app_site_associations[{index}] must be an app id like ABCDE12345.com.example.app"
            );
        }
        for (index, link) in self.android_asset_links.iter().enumerate() {
            let key = format!("{KEY}.android_asset_links[{index}]");
            ensure!(
                !link.package_name.is_empty()
                    && link
                        .package_name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.".contains(&b)),
                "{key}.package_name must be an Android package name like com.example.app"
            );
            ensure!(
                !link.sha256_cert_fingerprints.is_empty(),
                "{key}.sha256_cert_fingerprints must name at least one fingerprint"
            );
            for fingerprint in &link.sha256_cert_fingerprints {
                ensure!(
                    is_sha256_fingerprint(fingerprint),
                    "{key}.sha256_cert_fingerprints: {fingerprint:?} is not 32 upper-case hex pairs joined by ':'"
                );
            }
        }
        Ok(())
    }
}

fn is_url_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

fn is_image_data_url(text: &str) -> bool {
    let Some((media_type, payload)) = text
        .strip_prefix("data:image/")
        .and_then(|rest| rest.split_once(";base64,"))
    else {
        return false;
    };
    !media_type.is_empty()
        && media_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !payload.is_empty()
        && payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_sha256_fingerprint(text: &str) -> bool {
    let pairs: Vec<&str> = text.split(':').collect();
    pairs.len() == 32
        && pairs.iter().all(|pair| {
            pair.len() == 2
                && pair
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
}

#[cfg(test)]
mod tests;
