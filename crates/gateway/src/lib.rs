//! The gateway layer of the Backbone's listeners, for single-binary deployments and as defence
//! in depth behind a Kubernetes ingress:
//!
//! - [`tls`]: optional TLS (rustls) with certificates reloaded when their files change;
//! - [`client_ip`]: the client's address, from `X-Forwarded-For` only behind trusted proxies;
//! - [`rate_limits`]: per client IP and per identity limits of the token endpoint, identity
//!   creation and writes, answered 429 `error.platform.tooManyRequests` with `Retry-After`;
//! - [`metrics`]: the Prometheus recorder, the per-route request metrics and `/metrics`;
//! - [`health`]: liveness, readiness (database, broker, blob storage) and the drain on shutdown.
//!
//! Security-relevant events are logged at info level with the target `security` (see
//! [`SECURITY_LOG`]), never with a secret.

pub mod client_ip;
pub mod health;
pub mod metrics;
pub mod rate_limits;
pub mod tls;

pub use client_ip::{ClientIp, TrustedProxies};
pub use health::{Readiness, ReadinessCheck};
pub use rate_limits::{RateLimits, RateLimitsConfig};
pub use tls::{TlsConfig, TlsListener};

/// The `tracing` target of the security log: failed logins, lockouts, rejected Admin API keys
/// and rate-limit hits. Filter on it (`log.level = "info,security=info"`) or route it apart.
pub const SECURITY_LOG: &str = "security";
