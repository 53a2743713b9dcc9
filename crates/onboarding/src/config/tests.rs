//! Unit tests of the onboarding settings.

use super::*;

fn store(link: Option<&str>) -> StoreConfig {
    StoreConfig {
        app_link: link.map(str::to_owned),
        no_link_text: "Coming soon".into(),
    }
}

pub(crate) fn app(id: &str) -> AppConfig {
    AppConfig {
        id: id.into(),
        display_name: format!("{id} app"),
        description: "Your wallet.".into(),
        icon_url: Some("https://example.com/icon.png".into()),
        banner_url: Some("data:image/png;base64,iVBORw0KGgo=".into()),
        color_scheme: ColorScheme {
            background: "#FFFFFF".into(),
            primary: "#17428d".into(),
            secondary: "#E3E8F3".into(),
            on_primary: "#FFFFFF".into(),
            on_secondary: "#1A1B20".into(),
        },
        apple_app_store: store(Some("https://apps.apple.com/app/id1")),
        google_play_store: store(None),
    }
}

fn error(config: &AppOnboardingConfig) -> String {
    config.validate().unwrap_err().to_string()
}

fn with(change: impl FnOnce(&mut AppConfig)) -> AppOnboardingConfig {
    let mut first = app("enmeshed");
    change(&mut first);
    AppOnboardingConfig {
        default_app_id: None,
        apps: vec![first],
    }
}

#[test]
fn a_complete_configuration_is_valid() {
    let config = AppOnboardingConfig {
        default_app_id: Some("other".into()),
        apps: vec![app("enmeshed"), app("other")],
    };
    config.validate().unwrap();
    assert_eq!(config.app(None).unwrap().id, "other");
    assert_eq!(config.app(Some("enmeshed")).unwrap().id, "enmeshed");
    assert!(config.app(Some("unknown")).is_none());
    let without_default = AppOnboardingConfig {
        default_app_id: None,
        ..config
    };
    assert!(without_default.app(None).is_none());
}

#[test]
fn errors_name_the_key() {
    assert!(error(&AppOnboardingConfig::default()).contains("at least one app"));
    assert!(error(&with(|a| a.id = "1app".into())).contains("app_onboarding.apps[0].id"));
    assert!(error(&with(|a| a.display_name = " ".into())).contains("apps[0].display_name"));
    assert!(error(&with(|a| a.icon_url = Some("ftp://x".into()))).contains("apps[0].icon_url"));
    assert!(
        error(&with(|a| a.banner_url = Some("data:text/html;base64,PGI+".into()))).contains("banner_url")
    );
    assert!(
        error(&with(|a| a.color_scheme.on_secondary = "red".into())).contains("color_scheme.on_secondary")
    );
    assert!(error(&with(|a| a.color_scheme.primary = "#12345".into())).contains("color_scheme.primary"));
    assert!(error(&with(
        |a| a.google_play_store.app_link = Some("play.google.com".into())
    ))
    .contains("google_play_store.app_link"));
    assert!(error(&with(|a| a.apple_app_store.no_link_text = String::new()))
        .contains("apple_app_store.no_link_text"));

    let duplicate = AppOnboardingConfig {
        default_app_id: None,
        apps: vec![app("a"), app("a")],
    };
    assert!(error(&duplicate).contains("apps[1].id"));
    let unknown_default = AppOnboardingConfig {
        default_app_id: Some("b".into()),
        apps: vec![app("a")],
    };
    assert!(error(&unknown_default).contains("app_onboarding.default_app_id"));
}

#[test]
fn well_known_entries_are_checked() {
    let fingerprint = ["AB"; 32].join(":");
    let valid = WellKnownEndpointsConfig {
        apple_app_site_associations: vec!["ABCDE12345.eu.enmeshed.app".into()],
        android_asset_links: vec![AndroidAssetLink {
            package_name: "eu.enmeshed.app".into(),
            sha256_cert_fingerprints: vec![fingerprint.clone()],
        }],
    };
    valid.validate().unwrap();
    WellKnownEndpointsConfig::default().validate().unwrap();

    let message = |change: fn(&mut WellKnownEndpointsConfig)| {
        let mut config = valid.clone();
        change(&mut config);
        config.validate().unwrap_err().to_string()
    };
    assert!(message(|c| c.apple_app_site_associations[0] = "a b".into())
        .contains("well_known_endpoints.apple_app_site_associations[0]"));
    assert!(
        message(|c| c.android_asset_links[0].package_name = "eu/app".into())
            .contains("android_asset_links[0].package_name")
    );
    assert!(
        message(|c| c.android_asset_links[0].sha256_cert_fingerprints.clear())
            .contains("android_asset_links[0].sha256_cert_fingerprints")
    );
    assert!(
        message(|c| c.android_asset_links[0].sha256_cert_fingerprints[0] = ["ab"; 32].join(":"))
            .contains("upper-case hex")
    );
}
