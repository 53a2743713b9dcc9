//! `[rate_limits]`: whether the limits apply, the trusted proxies and one rate per limit.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Not set: off in the dev landscape, on in stage and prod.
    pub enabled: Option<bool>,
    /// Addresses or networks (`10.0.0.0/8`) of the proxies in front of the Backbone, whose
    /// `X-Forwarded-For` names the client. A list, or one comma-separated string (for
    /// `BACKBONE_RATE_LIMITS__TRUSTED_PROXIES=10.0.0.0/8,192.168.0.0/16`).
    pub trusted_proxies: ProxyList,
    /// `POST /connect/token` per client IP.
    pub token_per_ip: Rate,
    /// `POST /connect/token` per device username (guessing one device's password from many
    /// addresses; the lockout then still counts failed logins).
    pub token_per_username: Rate,
    /// `POST /api/v2/Identities` per client IP.
    pub identity_creation_per_ip: Rate,
    /// Other writes (`POST`, `PUT`, `PATCH`, `DELETE`) per client IP.
    pub writes_per_ip: Rate,
    /// Authenticated writes per calling identity.
    pub writes_per_identity: Rate,
}

/// A sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per minute, sustained.
    pub per_minute: u32,
    /// Requests that may come at once (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            trusted_proxies: ProxyList::default(),
            // A client logs in every few minutes per device; a login page behind one NAT a bit more.
            token_per_ip: Rate {
                per_minute: 60,
                burst: 30,
            },
            token_per_username: Rate {
                per_minute: 10,
                burst: 5,
            },
            identity_creation_per_ip: Rate {
                per_minute: 20,
                burst: 20,
            },
            writes_per_ip: Rate {
                per_minute: 1200,
                burst: 300,
            },
            writes_per_identity: Rate {
                per_minute: 300,
                burst: 100,
            },
        }
    }
}

impl RateLimitsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, rate) in [
            ("token_per_ip", self.token_per_ip),
            ("token_per_username", self.token_per_username),
            ("identity_creation_per_ip", self.identity_creation_per_ip),
            ("writes_per_ip", self.writes_per_ip),
            ("writes_per_identity", self.writes_per_identity),
        ] {
            if rate.per_minute < 1 || rate.per_minute > 6_000_000 {
                anyhow::bail!("rate_limits.{name}.per_minute must be between 1 and 6000000");
            }
            if rate.burst < 1 {
                anyhow::bail!("rate_limits.{name}.burst must be at least 1");
            }
        }
        crate::client_ip::TrustedProxies::parse(&self.trusted_proxies.0)
            .map_err(|e| anyhow::anyhow!("rate_limits.trusted_proxies: {e}"))?;
        Ok(())
    }
}

/// The trusted proxies, from a TOML list or a comma-separated string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProxyList(pub Vec<String>);

impl<'de> Deserialize<'de> for ProxyList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Text(String),
        }
        Ok(Self(match Form::deserialize(deserializer)? {
            Form::List(list) => list,
            Form::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(str::to_owned)
                .collect(),
        }))
    }
}
