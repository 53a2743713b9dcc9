//! Requests whose failures are counted instead of ending the run: under load the scenarios
//! must report what the server does (500s, time-outs, refused connections), not stop at the
//! first one.

use std::time::Duration;

use serde_json::Value;

/// Why a request did not succeed.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// An answer with a non-success status, with the error code of the body if it has one.
    Status(u16, String),
    /// No complete answer within the client-side time-out.
    Timeout,
    /// No connection could be opened.
    Connect,
    /// The connection broke mid-request, or the body was not the expected JSON.
    Transport(String),
}

impl Failure {
    /// One line for the error table, e.g. `500 error.platform.unexpected`.
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Status(status, code) if code.is_empty() => status.to_string(),
            Self::Status(status, code) => format!("{status} {code}"),
            Self::Timeout => "time-out".into(),
            Self::Connect => "connection refused/failed".into(),
            Self::Transport(kind) => format!("transport: {kind}"),
        }
    }

    /// The HTTP status, 0 when there was no answer.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Self::Status(status, _) => *status,
            _ => 0,
        }
    }

    fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            Self::Timeout
        } else if error.is_connect() {
            Self::Connect
        } else if error.is_body() || error.is_decode() {
            Self::Transport("body".into())
        } else {
            Self::Transport("request".into())
        }
    }
}

/// One shared client for every simulated client: connections are pooled per host, so 200
/// clients need about 200 sockets, not one pool each.
pub(crate) fn load_client(timeout: Duration, max_connections: usize) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(max_connections)
        .build()
}

/// Sends one request and returns the `result` member of the answer (`Null` for empty bodies).
pub(crate) async fn request(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, Failure> {
    let mut builder = http
        .request(method, format!("{base_url}{path}"))
        .bearer_auth(token)
        .header("x-supported-datawallet-version", "1");
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let response = builder.send().await.map_err(|e| Failure::from_reqwest(&e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| Failure::from_reqwest(&e))?;
    if !status.is_success() {
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(Failure::Status(status.as_u16(), code));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str::<Value>(&text)
        .map(|mut v| v["result"].take())
        .map_err(|_| Failure::Transport("invalid JSON".into()))
}
