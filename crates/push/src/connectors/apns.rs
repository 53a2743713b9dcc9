//! Apple Push Notification service over HTTP/2 with token-based authentication.
//!
//! Every request carries `authorization: bearer <JWT>`, an ES256 token signed with the team's
//! `.p8` key (header `kid` = key id, claims `iss` = team id, `iat`). Apple wants a token reused
//! for at least 20 and at most 60 minutes, so it is cached per key for 50. Requests go to
//! `POST {endpoint}/3/device/<device token>`, the endpoint chosen by the registration's
//! environment. The client speaks HTTP/2 only (with prior knowledge, which over TLS means ALPN
//! `h2` and over plain HTTP lets tests use a local h2c server).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backbone_core::SharedClock;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::{excerpt, Outcome};
use crate::domain::{apns_payload, Delivery, PushEnvironment};

/// How long a provider token is reused.
const TOKEN_LIFETIME_MINUTES: i64 = 50;

/// A team's signing key.
#[derive(Clone)]
pub struct ApnsKey {
    pub key_id: String,
    pub team_id: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ApnsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsKey")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct ProviderClaims<'a> {
    iss: &'a str,
    iat: i64,
}

impl ApnsKey {
    /// `private_key`: the `.p8` file (PKCS#8 PEM) or its base64 body.
    pub fn parse(key_id: &str, team_id: &str, private_key: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(!key_id.trim().is_empty(), "key_id must not be empty");
        anyhow::ensure!(!team_id.trim().is_empty(), "team_id must not be empty");
        let pem = if private_key.contains("-----BEGIN") {
            private_key.to_owned()
        } else {
            let body: String = private_key.split_whitespace().collect();
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
                .collect();
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            )
        };
        let key = Self {
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            key: EncodingKey::from_ec_pem(pem.as_bytes())
                .context("private_key is not an EC private key in PKCS#8 form")?,
        };
        key.provider_token(Utc::now())
            .context("private_key cannot sign with ES256 (a P-256 key is needed)")?;
        Ok(key)
    }

    /// A new provider authentication token.
    pub fn provider_token(&self, now: DateTime<Utc>) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = ProviderClaims {
            iss: &self.team_id,
            iat: now.timestamp(),
        };
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

/// A key with its cached token (shared by every bundle that uses it).
struct SigningKey {
    name: String,
    key: ApnsKey,
    token: Mutex<Option<(String, DateTime<Utc>)>>,
}

pub struct ApnsConnector {
    http: reqwest::Client,
    production: reqwest::Url,
    development: reqwest::Url,
    bundles: HashMap<String, Arc<SigningKey>>,
    clock: SharedClock,
}

impl ApnsConnector {
    /// `bundles`: bundle id → (key name, key).
    pub fn new(
        production_endpoint: &str,
        development_endpoint: &str,
        bundles: BTreeMap<String, (String, ApnsKey)>,
        timeout: Duration,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let mut keys: HashMap<String, Arc<SigningKey>> = HashMap::new();
        let bundles = bundles
            .into_iter()
            .map(|(bundle, (name, key))| {
                let key = keys
                    .entry(name.clone())
                    .or_insert_with(|| {
                        Arc::new(SigningKey {
                            name,
                            key,
                            token: Mutex::new(None),
                        })
                    })
                    .clone();
                (bundle, key)
            })
            .collect();
        Ok(Self {
            http: reqwest::Client::builder()
                .http2_prior_knowledge()
                .timeout(timeout)
                .build()
                .context("building the APNs HTTP client")?,
            production: reqwest::Url::parse(production_endpoint).context("push.apns.production_endpoint")?,
            development: reqwest::Url::parse(development_endpoint)
                .context("push.apns.development_endpoint")?,
            bundles,
            clock,
        })
    }

    pub fn bundle_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.bundles.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub async fn send(&self, delivery: &Delivery) -> Outcome {
        let Some(key) = self.bundles.get(&delivery.app_id) else {
            return Outcome::Failed(format!(
                "bundle id {:?} is not configured for APNs",
                delivery.app_id
            ));
        };
        let token = match self.provider_token(key).await {
            Ok(token) => token,
            Err(error) => return Outcome::Failed(format!("APNs key {}: cannot sign: {error}", key.name)),
        };
        let mut url = match delivery.environment {
            PushEnvironment::Production => self.production.clone(),
            PushEnvironment::Development => self.development.clone(),
        };
        match url.path_segments_mut() {
            Ok(mut segments) => {
                segments.pop_if_empty().extend(["3", "device", &delivery.handle]);
            }
            Err(()) => return Outcome::Failed("the APNs endpoint cannot have a path".into()),
        }
        let mut request = self
            .http
            .post(url)
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", &delivery.app_id)
            .header("apns-expiration", "0")
            .header("apns-priority", "5")
            .header("apns-push-type", "alert")
            .json(&apns_payload(delivery, self.clock.now()));
        if let Some(collapse_id) = &delivery.collapse_id {
            request = request.header("apns-collapse-id", collapse_id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Outcome::Retry(format!("APNs request failed: {error}")),
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Outcome::Sent;
        }
        let text = response.text().await.unwrap_or_default();
        let outcome = classify(status, &text);
        if let Outcome::Retry(_) = outcome {
            if status == 403 {
                // ExpiredProviderToken / InvalidProviderToken: sign a fresh token next time.
                *key.token.lock().await = None;
            }
        }
        outcome
    }

    async fn provider_token(&self, key: &SigningKey) -> anyhow::Result<String> {
        let mut cached = key.token.lock().await;
        let now = self.clock.now();
        if let Some((token, issued_at)) = cached.as_ref() {
            if now - *issued_at < chrono::Duration::minutes(TOKEN_LIFETIME_MINUTES) && *issued_at <= now {
                return Ok(token.clone());
            }
        }
        let token = key.key.provider_token(now)?;
        *cached = Some((token.clone(), now));
        Ok(token)
    }
}

/// Maps an APNs error answer (`{"reason": "…"}`) to an outcome.
fn classify(status: u16, body: &str) -> Outcome {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let reason_code = json["reason"].as_str().unwrap_or_default();
    let reason = format!("APNs answered {status} {reason_code}: {}", excerpt(body));
    match (status, reason_code) {
        (410, _) | (_, "Unregistered") | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
            Outcome::InvalidHandle(reason)
        }
        (403, "ExpiredProviderToken" | "InvalidProviderToken") | (429 | 500.., _) => Outcome::Retry(reason),
        _ => Outcome::Failed(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_are_classified() {
        let reason = |r: &str| format!("{{\"reason\":\"{r}\"}}");
        assert!(matches!(
            classify(410, &reason("Unregistered")),
            Outcome::InvalidHandle(_)
        ));
        assert!(matches!(
            classify(400, &reason("BadDeviceToken")),
            Outcome::InvalidHandle(_)
        ));
        assert!(matches!(
            classify(403, &reason("ExpiredProviderToken")),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            classify(429, &reason("TooManyRequests")),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            classify(503, &reason("ServiceUnavailable")),
            Outcome::Retry(_)
        ));
        assert!(matches!(classify(500, ""), Outcome::Retry(_)));
        assert!(matches!(
            classify(400, &reason("PayloadTooLarge")),
            Outcome::Failed(_)
        ));
        assert!(matches!(
            classify(403, &reason("BadCertificate")),
            Outcome::Failed(_)
        ));
    }

    #[test]
    fn keys_must_be_p256() {
        assert!(ApnsKey::parse("KEY", "TEAM", "bm90IGEga2V5").is_err());
        assert!(ApnsKey::parse("", "TEAM", "x").is_err());
    }
}
