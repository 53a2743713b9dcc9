//! The gateway layer over HTTP: rate limits (a burst over the limit gets 429 with
//! `Retry-After`, then recovers as the manual clock moves), trusted proxies, TLS with
//! certificate reload, `/metrics` after traffic and the health checks. Rate limits are the
//! same on both databases, so these run on SQLite.

mod metrics;
mod rate_limits;
mod tls;
