//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! Authentication is OAuth 2.0 with a service account: a JWT asserting the account's email and
//! the messaging scope is signed (RS256) with the account's private key and exchanged at the
//! key's `token_uri` for an access token, which is cached until shortly before it expires.
//! Messages go to `POST {endpoint}/v1/projects/{project}/messages:send`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use backbone_core::SharedClock;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{excerpt, Outcome};
use crate::domain::{fcm_message, Delivery};

pub const MESSAGING_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Access tokens are renewed this long before they expire.
const TOKEN_MARGIN_SECONDS: i64 = 60;

/// The parts of a Google service-account key the connector uses.
#[derive(Clone)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub project_id: String,
    pub token_uri: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    project_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl ServiceAccount {
    /// Reads a service-account key file's JSON and checks that its key can sign.
    pub fn parse(json: &str, project_id: Option<&str>) -> anyhow::Result<Self> {
        let key: ServiceAccountKey =
            serde_json::from_str(json).context("the service account JSON cannot be read")?;
        let project_id = project_id
            .map(str::to_owned)
            .or(key.project_id)
            .filter(|p| !p.is_empty())
            .context("no project_id: set it in the key or in the configuration")?;
        let account = Self {
            key: EncodingKey::from_rsa_pem(key.private_key.as_bytes())
                .context("private_key is not an RSA private key in PEM form")?,
            client_email: key.client_email,
            private_key_id: key.private_key_id,
            project_id,
            token_uri: key.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned()),
        };
        account.assertion(Utc::now()).context("private_key cannot sign")?;
        Ok(account)
    }

    /// The signed JWT that is exchanged for an access token.
    pub fn assertion(&self, now: DateTime<Utc>) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.private_key_id);
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: MESSAGING_SCOPE,
            aud: &self.token_uri,
            iat: now.timestamp(),
            exp: now.timestamp() + 3600,
        };
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}

struct AccessToken {
    value: String,
    expires_at: DateTime<Utc>,
}

/// One service account and its cached access token (shared by every app id that uses it).
struct Account {
    name: String,
    credentials: ServiceAccount,
    token: Mutex<Option<AccessToken>>,
}

pub struct FcmConnector {
    http: reqwest::Client,
    endpoint: String,
    apps: HashMap<String, Arc<Account>>,
    clock: SharedClock,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<i64>,
}

impl FcmConnector {
    /// `apps`: app id → (service account name, credentials).
    pub fn new(
        endpoint: &str,
        apps: BTreeMap<String, (String, ServiceAccount)>,
        timeout: Duration,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let mut accounts: HashMap<String, Arc<Account>> = HashMap::new();
        let apps = apps
            .into_iter()
            .map(|(app_id, (name, credentials))| {
                let account = accounts
                    .entry(name.clone())
                    .or_insert_with(|| {
                        Arc::new(Account {
                            name,
                            credentials,
                            token: Mutex::new(None),
                        })
                    })
                    .clone();
                (app_id, account)
            })
            .collect();
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .context("building the FCM HTTP client")?,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            apps,
            clock,
        })
    }

    pub fn app_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.apps.keys().cloned().collect();
        ids.sort();
        ids
    }

    pub async fn send(&self, delivery: &Delivery) -> Outcome {
        let Some(account) = self.apps.get(&delivery.app_id) else {
            return Outcome::Failed(format!("app id {:?} is not configured for FCM", delivery.app_id));
        };
        let token = match self.access_token(account).await {
            Ok(token) => token,
            Err(outcome) => return outcome,
        };
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.endpoint, account.credentials.project_id
        );
        let body = fcm_message(delivery, self.clock.now());
        let response = match self.http.post(url).bearer_auth(&token).json(&body).send().await {
            Ok(response) => response,
            Err(error) => return Outcome::Retry(format!("FCM request failed: {error}")),
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Sent;
        }
        let text = response.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The access token was revoked or expired early: fetch a new one next time.
            *account.token.lock().await = None;
        }
        classify(status.as_u16(), &text)
    }

    /// The cached access token, or a new one from the token endpoint.
    async fn access_token(&self, account: &Account) -> Result<String, Outcome> {
        let mut cached = account.token.lock().await;
        let now = self.clock.now();
        if let Some(token) = cached
            .as_ref()
            .filter(|t| t.expires_at - chrono::Duration::seconds(TOKEN_MARGIN_SECONDS) > now)
        {
            return Ok(token.value.clone());
        }
        let assertion = account.credentials.assertion(now).map_err(|error| {
            Outcome::Failed(format!("service account {}: cannot sign: {error}", account.name))
        })?;
        let response = self
            .http
            .post(&account.credentials.token_uri)
            .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)])
            .send()
            .await
            .map_err(|error| Outcome::Retry(format!("the token exchange failed: {error}")))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(Outcome::Retry(format!(
                "the token exchange of service account {} answered {status}: {}",
                account.name,
                excerpt(&text)
            )));
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|error| Outcome::Retry(format!("unreadable token response: {error}")))?;
        let value = token.access_token.clone();
        *cached = Some(AccessToken {
            value: token.access_token,
            expires_at: now + chrono::Duration::seconds(token.expires_in.unwrap_or(3600)),
        });
        Ok(value)
    }
}

/// Maps an FCM error answer to an outcome. The FCM error code is in the `FcmError` detail
/// (falling back to the general status); `UNREGISTERED` and `INVALID_ARGUMENT` mean the token is
/// no longer (or never was) valid, as upstream treats them.
fn classify(status: u16, body: &str) -> Outcome {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &json["error"];
    let detail_code = error["details"].as_array().and_then(|details| {
        details
            .iter()
            .filter(|d| d["@type"].as_str().is_some_and(|t| t.ends_with("FcmError")))
            .find_map(|d| d["errorCode"].as_str())
    });
    let code = detail_code
        .or_else(|| error["status"].as_str())
        .unwrap_or_default();
    let reason = format!("FCM answered {status} {code}: {}", excerpt(body));
    match code {
        "UNREGISTERED" | "INVALID_ARGUMENT" => Outcome::InvalidHandle(reason),
        "UNAVAILABLE" | "INTERNAL" | "QUOTA_EXCEEDED" => Outcome::Retry(reason),
        _ if status == 401 || status == 429 || status >= 500 => Outcome::Retry(reason),
        _ => Outcome::Failed(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, fcm_code: Option<&str>, general: &str) -> (u16, String) {
        let details = fcm_code.map_or(serde_json::json!([]), |code| {
            serde_json::json!([{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code }])
        });
        let body = serde_json::json!({ "error": { "code": status, "message": "x", "status": general, "details": details } });
        (status, body.to_string())
    }

    #[test]
    fn error_answers_are_classified() {
        let outcome = |(status, body): (u16, String)| classify(status, &body);
        assert!(matches!(
            outcome(error(404, Some("UNREGISTERED"), "NOT_FOUND")),
            Outcome::InvalidHandle(_)
        ));
        assert!(matches!(
            outcome(error(400, Some("INVALID_ARGUMENT"), "INVALID_ARGUMENT")),
            Outcome::InvalidHandle(_)
        ));
        assert!(matches!(
            outcome(error(400, None, "INVALID_ARGUMENT")),
            Outcome::InvalidHandle(_)
        ));
        assert!(matches!(
            outcome(error(503, Some("UNAVAILABLE"), "UNAVAILABLE")),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            outcome(error(429, Some("QUOTA_EXCEEDED"), "RESOURCE_EXHAUSTED")),
            Outcome::Retry(_)
        ));
        assert!(matches!(classify(500, "oops"), Outcome::Retry(_)));
        assert!(matches!(
            outcome(error(403, Some("SENDER_ID_MISMATCH"), "PERMISSION_DENIED")),
            Outcome::Failed(_)
        ));
    }
}
