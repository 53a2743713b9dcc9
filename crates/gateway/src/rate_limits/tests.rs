use std::sync::Arc;

use backbone_core::clock::ManualClock;
use chrono::Utc;

use super::*;

fn limits(config: &RateLimitsConfig) -> (RateLimits, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let limits = RateLimits::new(config, true, LimiterClock::injected(clock.clone())).unwrap();
    (limits, clock)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_burst_is_allowed_then_one_request_per_period() {
    let config = RateLimitsConfig {
        writes_per_ip: Rate {
            per_minute: 6,
            burst: 3,
        },
        ..RateLimitsConfig::default()
    };
    let (limits, clock) = limits(&config);
    let client = ip("198.51.100.1");
    for _ in 0..3 {
        limits.check_client(Category::Write, client).unwrap();
    }
    let refused = limits.check_client(Category::Write, client).unwrap_err();
    assert_eq!(refused.limit, "writes_per_ip");
    assert_eq!(refused.retry_after, Duration::from_secs(10));
    // Another client has its own bucket.
    limits.check_client(Category::Write, ip("198.51.100.2")).unwrap();
    clock.advance(chrono::Duration::seconds(9));
    assert!(limits.check_client(Category::Write, client).is_err());
    clock.advance(chrono::Duration::seconds(1));
    limits.check_client(Category::Write, client).unwrap();
    assert!(limits.check_client(Category::Write, client).is_err());
}

#[test]
fn categories_follow_the_routes() {
    use axum::http::Method;
    assert_eq!(
        Category::of(&Method::POST, "/connect/token"),
        Some(Category::Token)
    );
    assert_eq!(
        Category::of(&Method::POST, "/api/v2/Identities"),
        Some(Category::IdentityCreation)
    );
    assert_eq!(
        Category::of(&Method::DELETE, "/api/v2/Tokens/TOKx"),
        Some(Category::Write)
    );
    assert_eq!(Category::of(&Method::GET, "/api/v2/Messages"), None);
}

#[test]
fn limits_are_off_when_disabled_and_bad_rates_are_named() {
    let config = RateLimitsConfig::default();
    let off = RateLimits::new(&config, false, LimiterClock::monotonic()).unwrap();
    assert!(!off.enabled());
    let forced = RateLimitsConfig {
        enabled: Some(true),
        ..RateLimitsConfig::default()
    };
    assert!(RateLimits::new(&forced, false, LimiterClock::monotonic())
        .unwrap()
        .enabled());
    let mut bad = RateLimitsConfig::default();
    bad.token_per_username.burst = 0;
    let error = bad.validate().unwrap_err().to_string();
    assert!(error.contains("rate_limits.token_per_username.burst"), "{error}");
}

#[test]
fn idle_keys_are_forgotten_once_their_bucket_is_full_again() {
    let (limits, clock) = limits(&RateLimitsConfig::default());
    limits.check_client(Category::Token, ip("198.51.100.1")).unwrap();
    assert_eq!(limits.token_per_ip.len(), 1);
    clock.advance(chrono::Duration::minutes(5));
    limits.forget_idle_keys();
    assert_eq!(limits.token_per_ip.len(), 0);
}
