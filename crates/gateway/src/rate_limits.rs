//! Rate limits of the Consumer API, per client IP and per identity: the token endpoint
//! (per IP and per username), identity creation (per IP) and writes (per IP and per calling
//! identity). A request over a limit is answered 429 `error.platform.tooManyRequests` in the
//! upstream error envelope with `Retry-After` (whole seconds), counted in
//! `backbone_rate_limit_rejections_total` and logged to the security log.
//!
//! The limiters are governor's GCRA ("generic cell rate algorithm"): each key may send `burst`
//! requests at once and then one every `60 / per_minute` seconds, with no background timers.
//! Upstream has no rate limits; they are off by default in the dev landscape so that client
//! test suites can run, and on in stage and prod.

mod config;
mod limiter;
mod middleware;

pub use config::{Rate, RateLimitsConfig};
pub use limiter::LimiterClock;
pub use middleware::{limit_by_client, limit_by_identity};

use std::net::IpAddr;
use std::time::Duration;

use backbone_core::IdentityAddress;

use crate::client_ip::TrustedProxies;
use limiter::Limiter;

/// The error code of a 429 from a rate limit (upstream's quota errors are
/// `error.platform.quotaExhausted`; this one means "slow down", not "used up").
pub const TOO_MANY_REQUESTS: &str = "error.platform.tooManyRequests";

/// What a limited request is, by its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `POST /connect/token`
    Token,
    /// `POST /api/v2/Identities`
    IdentityCreation,
    /// Any other `POST`, `PUT`, `PATCH` or `DELETE`.
    Write,
}

impl Category {
    pub fn of(method: &axum::http::Method, path: &str) -> Option<Self> {
        use axum::http::Method;
        let path = path.trim_end_matches('/');
        match *method {
            Method::POST if path == "/connect/token" => Some(Self::Token),
            Method::POST if path == "/api/v2/Identities" => Some(Self::IdentityCreation),
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE => Some(Self::Write),
            _ => None,
        }
    }
}

/// A request refused by the limit named `limit`; it may be retried after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: &'static str,
    pub retry_after: Duration,
}

/// Every limiter of one Consumer API, and the trusted proxies that tell the client's address.
pub struct RateLimits {
    enabled: bool,
    pub proxies: TrustedProxies,
    token_per_ip: Limiter<IpAddr>,
    token_per_username: Limiter<String>,
    identity_creation_per_ip: Limiter<IpAddr>,
    writes_per_ip: Limiter<IpAddr>,
    writes_per_identity: Limiter<IdentityAddress>,
}

impl RateLimits {
    /// `enabled_by_default` is the landscape's choice (off in dev); `config.enabled` wins.
    pub fn new(
        config: &RateLimitsConfig,
        enabled_by_default: bool,
        clock: LimiterClock,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        Ok(Self {
            enabled: config.enabled.unwrap_or(enabled_by_default),
            proxies: TrustedProxies::parse(&config.trusted_proxies.0)
                .map_err(|e| anyhow::anyhow!("rate_limits.trusted_proxies: {e}"))?,
            token_per_ip: Limiter::new("token_per_ip", config.token_per_ip, clock.clone()),
            token_per_username: Limiter::new("token_per_username", config.token_per_username, clock.clone()),
            identity_creation_per_ip: Limiter::new(
                "identity_creation_per_ip",
                config.identity_creation_per_ip,
                clock.clone(),
            ),
            writes_per_ip: Limiter::new("writes_per_ip", config.writes_per_ip, clock.clone()),
            writes_per_identity: Limiter::new("writes_per_identity", config.writes_per_identity, clock),
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The limit of a request of `category` from `client`, before anything else is known.
    pub fn check_client(&self, category: Category, client: IpAddr) -> Result<(), Refused> {
        match category {
            Category::Token => self.token_per_ip.check(&client),
            Category::IdentityCreation => self.identity_creation_per_ip.check(&client),
            Category::Write => self.writes_per_ip.check(&client),
        }
    }

    /// The per-username limit of the token endpoint (whoever asks for the device's tokens).
    pub fn check_username(&self, username: &str) -> Result<(), Refused> {
        self.token_per_username.check(&username.to_owned())
    }

    /// The per-identity limit of an authenticated write.
    pub fn check_identity(&self, identity: &IdentityAddress) -> Result<(), Refused> {
        self.writes_per_identity.check(identity)
    }

    /// Forgets keys whose limit is back to full (their state says nothing any more), so the
    /// limiters' memory follows the active clients rather than every client ever seen.
    pub fn forget_idle_keys(&self) {
        self.token_per_ip.forget_idle_keys();
        self.token_per_username.forget_idle_keys();
        self.identity_creation_per_ip.forget_idle_keys();
        self.writes_per_ip.forget_idle_keys();
        self.writes_per_identity.forget_idle_keys();
    }

    /// Runs [`RateLimits::forget_idle_keys`] once a minute for as long as the limits live.
    pub fn spawn_housekeeping(self: &std::sync::Arc<Self>) {
        let limits = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(60));
            loop {
                ticks.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.forget_idle_keys(),
                    None => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests;
