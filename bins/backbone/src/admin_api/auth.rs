//! Authentication of the Admin API (admin-and-services §1.2): the `X-API-KEY` header, the XSRF
//! handshake (`GET /api/v1/xsrf`, then `X-XSRF-TOKEN` plus the `X-XSRF-COOKIE` cookie on every
//! unsafe request) and `POST /api/v1/ValidateApiKey`.
//!
//! The XSRF pair works like ASP.NET's antiforgery tokens: the cookie holds a random value and
//! the request token is an HMAC of it, so a token is only valid together with its cookie, and
//! neither can be forged without the key. The key is derived from the API key, so every
//! replica of the Admin API (and every restart) accepts the tokens the others issued.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backbone_core::encoding::{decode_bytes, encode_bytes};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const XSRF_COOKIE: &str = "X-XSRF-COOKIE";
pub const XSRF_HEADER: &str = "x-xsrf-token";

/// What the Admin API checks: the key itself and the key its XSRF tokens are signed with.
pub struct AdminAuth {
    api_key: String,
    xsrf_key: [u8; 32],
}

impl AdminAuth {
    pub fn new(api_key: String) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"backbone admin api xsrf\0");
        hasher.update(api_key.as_bytes());
        Self {
            api_key,
            xsrf_key: hasher.finalize().into(),
        }
    }

    /// Constant time in the content of the key (its length is no secret worth hiding).
    pub fn is_valid_key(&self, given: &str) -> bool {
        constant_time_eq(given.as_bytes(), self.api_key.as_bytes())
    }

    fn request_token(&self, cookie_token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.xsrf_key).expect("HMAC takes any key length");
        mac.update(cookie_token.as_bytes());
        encode_bytes(&mac.finalize().into_bytes())
    }

    fn is_valid_pair(&self, cookie_token: &str, request_token: &str) -> bool {
        let Some(given) = decode_bytes(request_token) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.xsrf_key).expect("HMAC takes any key length");
        mac.update(cookie_token.as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 401 with an empty body unless `X-API-KEY` is the configured key.
pub async fn require_api_key(State(auth): State<Arc<AdminAuth>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth.is_valid_key(given) {
        next.run(request).await
    } else {
        // Never the key given: only whether one was sent, and from where.
        let peer = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_default();
        tracing::info!(target: "security", event = "admin_api_key_rejected", key_sent = !given.is_empty(), %peer, path = %request.uri().path(), "Admin API request with a wrong API key");
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Every unsafe method needs a request token that belongs to the request's XSRF cookie.
/// Upstream checks this after the API key, so this layer sits inside [`require_api_key`].
pub async fn require_xsrf_token(
    State(auth): State<Arc<AdminAuth>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if safe || has_valid_xsrf_pair(&auth, request.headers()) {
        next.run(request).await
    } else {
        xsrf_failure()
    }
}

fn has_valid_xsrf_pair(auth: &AdminAuth, headers: &HeaderMap) -> bool {
    let token = headers.get(XSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie(headers, XSRF_COOKIE), token) {
        (Some(cookie), Some(token)) => auth.is_valid_pair(&cookie, token.trim()),
        _ => false,
    }
}

/// The value of a cookie in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// ASP.NET's 400 problem details, whose `detail` upstream replaces so that clients (the Admin
/// UI) recognise the failure and fetch a new token.
fn xsrf_failure() -> Response {
    let body = serde_json::json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "Bad Request",
        "status": 400,
        "detail": "xsrf-token-may-be-invalid",
        "traceId": uuid_like(),
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn uuid_like() -> String {
    backbone_core::ids::random_string(b"0123456789abcdef", 32)
}

/// `GET /api/v1/xsrf`: keeps a valid cookie the client already has (several tabs of the UI
/// share it), otherwise sets a new one; answers the request token as the bare body, a JSON
/// string if the client asks for JSON.
pub async fn get_xsrf(State(auth): State<Arc<AdminAuth>>, headers: HeaderMap) -> Response {
    let existing = cookie(&headers, XSRF_COOKIE).filter(|c| is_cookie_token(c));
    let cookie_token = existing
        .clone()
        .unwrap_or_else(|| backbone_core::ids::random_string(COOKIE_ALPHABET, 43));
    let token = auth.request_token(&cookie_token);
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    let mut response = if wants_json {
        axum::Json(token).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token).into_response()
    };
    if existing.is_none() {
        let set_cookie = format!("{XSRF_COOKIE}={cookie_token}; path=/; samesite=strict");
        if let Ok(value) = HeaderValue::from_str(&set_cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

const COOKIE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn is_cookie_token(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| COOKIE_ALPHABET.contains(&b))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateApiKeyRequest {
    #[serde(default)]
    api_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateApiKeyResponse {
    is_valid: bool,
}

/// `POST /api/v1/ValidateApiKey`: anonymous (but XSRF-checked); the body is optional, and
/// anything that is not an object with the key counts as no key. Not enveloped.
pub async fn post_validate_api_key(State(auth): State<Arc<AdminAuth>>, body: axum::body::Bytes) -> Response {
    let request: ValidateApiKeyRequest = backbone_web::json::parse_json(&body).unwrap_or_default();
    let is_valid = request.api_key.is_some_and(|key| auth.is_valid_key(&key));
    axum::Json(ValidateApiKeyResponse { is_valid }).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_token_belongs_to_its_cookie_and_key() {
        let auth = AdminAuth::new("key-one".into());
        let token = auth.request_token("cookie-a");
        assert!(auth.is_valid_pair("cookie-a", &token));
        assert!(!auth.is_valid_pair("cookie-b", &token));
        assert!(!AdminAuth::new("key-two".into()).is_valid_pair("cookie-a", &token));
        assert!(!auth.is_valid_pair("cookie-a", "not base64 !"));
    }

    #[test]
    fn keys_compare_by_content_and_length() {
        let auth = AdminAuth::new("secret".into());
        assert!(auth.is_valid_key("secret"));
        assert!(!auth.is_valid_key("secreT"));
        assert!(!auth.is_valid_key("secret "));
        assert!(!auth.is_valid_key(""));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; X-XSRF-COOKIE=abc"));
        assert_eq!(cookie(&headers, XSRF_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
    }
}
