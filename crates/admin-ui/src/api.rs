//! The UI's client of the Admin API: requests go through the API's own router in-process
//! (`tower::ServiceExt::oneshot`), with the operator's API key and the XSRF pair of the
//! handshake, so the UI can do exactly what the public API allows and sees its error envelope.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

/// The responses the UI reads are small; anything larger is a bug worth an error.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
const XSRF_COOKIE: &str = "X-XSRF-COOKIE";

/// What a session sends with each request.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub api_key: String,
    pub xsrf_cookie: String,
    pub xsrf_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API refused with its error envelope: the message is for the operator.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// The key of the session is no longer accepted (it was changed): log in again.
    #[error("the API key was not accepted")]
    Unauthorized,
    #[error("the Admin API answered {status} unexpectedly")]
    Unexpected { status: StatusCode, body: String },
    #[error("the Admin API's answer could not be read: {0}")]
    Unreadable(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Refused { status, .. } => *status,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Unexpected { .. } | Self::Unreadable(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == StatusCode::NOT_FOUND
    }
}

#[derive(Clone)]
pub struct AdminApi {
    router: Router,
}

struct Answer {
    set_cookie: Option<String>,
    body: axum::body::Bytes,
}

impl AdminApi {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// `GET /api/v1/xsrf` and then `POST /api/v1/ValidateApiKey`: the credentials of a new
    /// session if the key is valid.
    pub async fn log_in(&self, api_key: &str) -> Result<Option<Credentials>, ApiError> {
        let handshake = self
            .call(Request::get("/api/v1/xsrf").body(Body::empty()))
            .await?;
        let cookie = handshake
            .set_cookie
            .as_deref()
            .and_then(|c| c.split(';').next())
            .and_then(|pair| pair.strip_prefix(&format!("{XSRF_COOKIE}=")))
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Unreadable("the XSRF handshake set no cookie".into()))?;
        let credentials = Credentials {
            api_key: api_key.to_owned(),
            xsrf_cookie: cookie,
            xsrf_token: String::from_utf8_lossy(&handshake.body).trim().to_owned(),
        };
        let body = serde_json::json!({ "apiKey": api_key });
        let answer = self
            .call(
                Self::request(&credentials, Method::POST, "/api/v1/ValidateApiKey")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string())),
            )
            .await?;
        let valid: Value = parse(&answer.body)?;
        Ok((valid["isValid"] == Value::Bool(true)).then_some(credentials))
    }

    /// A GET whose enveloped `result` is read as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        credentials: &Credentials,
        path: &str,
    ) -> Result<T, ApiError> {
        let value = self.get_value(credentials, path).await?;
        serde_json::from_value(value["result"].clone()).map_err(|e| ApiError::Unreadable(e.to_string()))
    }

    /// A GET answered as it came (the OData list, paged results with their `pagination`).
    pub async fn get_value(&self, credentials: &Credentials, path: &str) -> Result<Value, ApiError> {
        let answer = self
            .call(Self::request(credentials, Method::GET, path).body(Body::empty()))
            .await?;
        parse(&answer.body)
    }

    /// A change: the enveloped `result` if the API answered one (`Value::Null` for 204).
    pub async fn send(
        &self,
        credentials: &Credentials,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let builder = Self::request(credentials, method, path);
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        let answer = self.call(request).await?;
        if answer.body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(parse::<Value>(&answer.body)?["result"].clone())
    }

    fn request(credentials: &Credentials, method: Method, path: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", &credentials.api_key)
            .header("x-xsrf-token", &credentials.xsrf_token)
            .header(
                header::COOKIE,
                format!("{XSRF_COOKIE}={}", credentials.xsrf_cookie),
            )
            .header(header::ACCEPT, "application/json")
    }

    async fn call(&self, request: Result<Request<Body>, axum::http::Error>) -> Result<Answer, ApiError> {
        let request = request.map_err(|e| ApiError::Unreadable(e.to_string()))?;
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let set_cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(response.into_body(), MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| ApiError::Unreadable(e.to_string()))?;
        if status.is_success() {
            return Ok(Answer { set_cookie, body });
        }
        Err(refusal(status, &body))
    }
}

/// The API's error envelope as an [`ApiError`]; anything else is unexpected.
fn refusal(status: StatusCode, body: &[u8]) -> ApiError {
    if status == StatusCode::UNAUTHORIZED {
        return ApiError::Unauthorized;
    }
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let error = envelope.as_ref().map(|v| &v["error"]);
    match error.and_then(|e| Some((e["code"].as_str()?, e["message"].as_str()?))) {
        Some((code, message)) => ApiError::Refused {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
        },
        None if status == StatusCode::NOT_FOUND => ApiError::Refused {
            status,
            code: "error.platform.recordNotFound".into(),
            message: "This page does not exist.".into(),
        },
        None => ApiError::Unexpected {
            status,
            body: String::from_utf8_lossy(body).chars().take(500).collect(),
        },
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Unreadable(e.to_string()))
}
