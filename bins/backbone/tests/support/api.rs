//! A small Consumer API client for the multi-process tests: identities, relationships,
//! messages, the SSE stream.

use anyhow::{bail, Context};
use backbone_core::encoding::encode_bytes;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use futures::StreamExt;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "test";
pub const CLIENT_SECRET: &str = "test";
const PASSWORD: &str = "someDevicePassword";

/// An identity with a valid access token.
#[derive(Debug, Clone)]
pub struct Session {
    pub address: String,
    pub device_id: String,
    pub token: String,
}

/// A client that opens a new connection for every request, so that a round-robin proxy
/// spreads consecutive requests over the replicas.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn call(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http
        .request(method.clone(), format!("{base}{path}"))
        .header("x-supported-datawallet-version", "1");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| format!("{method} {path}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{method} {path}: {status} {text}");
    }
    Ok(if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str::<Value>(&text)?["result"].clone()
    })
}

/// Creates an identity (signed challenge) and logs its first device in.
pub async fn session(http: &reqwest::Client, base: &str) -> anyhow::Result<Session> {
    use reqwest::Method;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let challenge = call(
        http,
        base,
        None,
        Method::POST,
        "/api/v2/Challenges",
        Some(json!({})),
    )
    .await?;
    let text =
        json!({ "id": challenge["id"], "expiresAt": challenge["expiresAt"], "type": "Identity" }).to_string();
    let signature = json!({ "sig": encode_bytes(&key.sign(text.as_bytes()).to_bytes()), "alg": 2, "@type": "CryptoSignature" });
    let public_key = json!({ "pub": encode_bytes(key.verifying_key().as_bytes()), "alg": 3 });
    let body = json!({
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "identityPublicKey": encode_bytes(public_key.to_string().as_bytes()),
        "devicePassword": PASSWORD,
        "identityVersion": 1,
        "signedChallenge": { "challenge": text, "signature": encode_bytes(signature.to_string().as_bytes()) },
    });
    let created = call(http, base, None, Method::POST, "/api/v2/Identities", Some(body)).await?;
    let username = created["device"]["username"].as_str().context("username")?;
    let response: Value = http
        .post(format!("{base}/connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = response["access_token"]
        .as_str()
        .context("access token")?
        .to_owned();
    Ok(Session {
        address: created["address"].as_str().context("address")?.to_owned(),
        device_id: created["device"]["id"].as_str().context("device id")?.to_owned(),
        token,
    })
}

/// `requester` asks for a relationship from a template of `owner`, who accepts.
pub async fn relate(
    http: &reqwest::Client,
    base: &str,
    owner: &Session,
    requester: &Session,
) -> anyhow::Result<String> {
    use reqwest::Method;
    let template = call(
        http,
        base,
        Some(&owner.token),
        Method::POST,
        "/api/v2/RelationshipTemplates",
        Some(json!({ "content": b64(b"t") })),
    )
    .await?;
    let body = json!({ "relationshipTemplateId": template["id"], "creationContent": b64(b"c") });
    let relationship = call(
        http,
        base,
        Some(&requester.token),
        Method::POST,
        "/api/v2/Relationships",
        Some(body),
    )
    .await?;
    let id = relationship["id"].as_str().context("relationship id")?.to_owned();
    let accept = format!("/api/v2/Relationships/{id}/Accept");
    call(
        http,
        base,
        Some(&owner.token),
        Method::PUT,
        &accept,
        Some(json!({})),
    )
    .await?;
    Ok(id)
}

/// Sends a message; returns its ID.
pub async fn send_message(
    http: &reqwest::Client,
    base: &str,
    from: &Session,
    to: &Session,
) -> anyhow::Result<String> {
    let body = json!({
        "recipients": [{ "address": to.address, "encryptedKey": b64(&[7; 32]) }],
        "body": b64(b"encrypted body"),
        "attachments": [],
    });
    let sent = call(
        http,
        base,
        Some(&from.token),
        reqwest::Method::POST,
        "/api/v2/Messages",
        Some(body),
    )
    .await?;
    Ok(sent["id"].as_str().context("message id")?.to_owned())
}

/// The server-sent-event names of an open `/api/v2/sse` stream.
pub struct SseStream {
    lines: futures::stream::BoxStream<'static, String>,
}

impl SseStream {
    pub async fn open(base: &str, token: &str) -> anyhow::Result<Self> {
        let response = reqwest::Client::new()
            .get(format!("{base}/api/v2/sse"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        let mut buffer = String::new();
        let lines = response
            .bytes_stream()
            .map(move |chunk| {
                buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap_or_default()));
                let mut names = Vec::new();
                while let Some(end) = buffer.find('\n') {
                    let line: String = buffer.drain(..=end).collect();
                    if let Some(name) = line.trim_end().strip_prefix("event: ") {
                        names.push(name.to_owned());
                    }
                }
                futures::stream::iter(names)
            })
            .flatten()
            .boxed();
        Ok(Self { lines })
    }

    /// The next event name (waits at most `timeout`).
    pub async fn next(&mut self, timeout: std::time::Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.lines.next())
            .await
            .ok()
            .flatten()
    }
}
