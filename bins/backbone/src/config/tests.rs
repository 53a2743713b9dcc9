//! Unit tests of the settings.

use super::*;

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
    assert!(!settings.strict_passwords());
    assert_eq!(settings.lockout_seconds(), 60);
    settings.landscape = Landscape::Stage;
    assert!(settings.strict_passwords());
    assert_eq!(settings.lockout_seconds(), 600);
}
