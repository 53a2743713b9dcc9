//! Unit tests of the settings.

use super::*;
use backbone_devices::domain::PasswordPolicy;

#[test]
fn defaults_are_valid() {
    Settings::default().validate().unwrap();
}

#[test]
fn errors_name_the_key() {
    let mut settings = Settings::default();
    settings.authentication.jwt_lifetime_seconds = 30;
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("jwt_lifetime_seconds"));

    let mut settings = Settings {
        landscape: Landscape::Prod,
        ..Settings::default()
    };
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("admin_api.api_key"));
    settings.admin_api.api_key = Some("a-long-enough-api-key".into());
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("jwt_signing_key"));

    let settings = Settings {
        did_domain_name: "Not A Domain".into(),
        ..Settings::default()
    };
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("did_domain_name"));
}

#[test]
fn landscape_picks_password_policy_and_lockout() {
    let mut settings = Settings::default();
    assert_eq!(
        settings.devices_settings().password_policy,
        PasswordPolicy::Relaxed
    );
    assert_eq!(settings.lockout_seconds(), 60);
    settings.landscape = Landscape::Stage;
    assert_eq!(
        settings.devices_settings().password_policy,
        PasswordPolicy::Strict
    );
    assert_eq!(settings.lockout_seconds(), 600);
    settings.devices.password_policy = Some("relaxed".into());
    assert_eq!(
        settings.devices_settings().password_policy,
        PasswordPolicy::Relaxed
    );
}

#[test]
fn rate_limits_are_on_by_default_outside_dev() {
    let mut settings = Settings::default();
    assert!(!settings.rate_limits_by_default());
    settings.landscape = Landscape::Stage;
    assert!(settings.rate_limits_by_default());
    settings.landscape = Landscape::Prod;
    assert!(settings.rate_limits_by_default());
}

#[test]
fn the_example_file_loads_with_the_gateway_sections() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/backbone.example.toml");
    let settings = Settings::load(Some(&example)).unwrap();
    assert_eq!(settings.rate_limits.token_per_username.burst, 5);
    assert!(settings.consumer_api.tls.is_none() && settings.metrics.listen.is_none());
    let mut bad = settings.clone();
    bad.rate_limits.trusted_proxies.0 = vec!["not-an-address".into()];
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("rate_limits.trusted_proxies"));
    bad = settings;
    bad.http.shutdown_drain_seconds = -1.0;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("http.shutdown_drain_seconds"));
}
