//! Server-side sessions of the UI and their cookie, and the CSRF tokens of its forms.
//!
//! A session lives in this process only (a map from a random id to the operator's API key and
//! the Admin API's XSRF pair); the browser holds nothing but the id, in an `HttpOnly`,
//! SameSite=Strict cookie. A session ends on "Log out", after [`IDLE_TIMEOUT`] without a
//! request, and [`MAX_LIFETIME`] after the login at the latest. Each session has its own CSRF
//! token, which every form carries. The login form, shown before there is a session, is
//! protected by a signed double-submit pair instead (see [`LoginGuard`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use backbone_core::encoding::encode_bytes;
use backbone_core::ids::random_string;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::Credentials;

pub const SESSION_COOKIE: &str = "bbui_session";
pub const LOGIN_COOKIE: &str = "bbui_login";
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub const MAX_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 43 characters of 62: more than 256 bits.
const TOKEN_LENGTH: usize = 43;

/// A message shown once, on the next page the operator sees.
#[derive(Clone, Debug)]
pub struct Flash {
    pub is_error: bool,
    pub text: String,
    /// A client secret, shown this once with a copy button.
    pub secret: Option<String>,
}

impl Flash {
    pub fn notice(text: impl Into<String>) -> Self {
        Self {
            is_error: false,
            text: text.into(),
            secret: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            is_error: true,
            text: text.into(),
            secret: None,
        }
    }
}

/// What a request of a logged-in operator carries through the handlers.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    pub csrf_token: String,
    pub credentials: Credentials,
}

struct Entry {
    session: Session,
    created: Instant,
    last_seen: Instant,
    flash: Option<Flash>,
}

impl Entry {
    fn is_expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) > IDLE_TIMEOUT || now.duration_since(self.created) > MAX_LIFETIME
    }
}

#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    /// Starts a session for credentials the Admin API accepted.
    pub fn start(&self, credentials: Credentials) -> Session {
        let session = Session {
            id: random_string(TOKEN_ALPHABET, TOKEN_LENGTH),
            csrf_token: random_string(TOKEN_ALPHABET, TOKEN_LENGTH),
            credentials,
        };
        let now = Instant::now();
        let mut entries = self.lock();
        // Expired sessions go whenever a new one starts, so the map stays as small as the
        // number of operators logged in.
        entries.retain(|_, entry| !entry.is_expired(now));
        entries.insert(
            session.id.clone(),
            Entry {
                session: session.clone(),
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        session
    }

    /// The live session of the request's cookie; a request keeps it alive.
    pub fn find(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(&id)?;
        if entry.is_expired(now) {
            entries.remove(&id);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    pub fn end(&self, session: &Session) {
        self.lock().remove(&session.id);
    }

    pub fn set_flash(&self, session: &Session, flash: Flash) {
        if let Some(entry) = self.lock().get_mut(&session.id) {
            entry.flash = Some(flash);
        }
    }

    pub fn take_flash(&self, session: &Session) -> Option<Flash> {
        self.lock()
            .get_mut(&session.id)
            .and_then(|entry| entry.flash.take())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a consistent map: every change is one call.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `Set-Cookie` for a new session; the cookie lives as long as the session can.
pub fn session_cookie(session: &Session) -> String {
    format!(
        "{SESSION_COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
        session.id,
        MAX_LIFETIME.as_secs()
    )
}

pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The login form's CSRF protection: a random cookie and, in the form, its HMAC under a key
/// of this process. A cross-site page can neither read the cookie nor compute the token.
pub struct LoginGuard {
    key: [u8; 32],
}

impl Default for LoginGuard {
    fn default() -> Self {
        let mut key = [0u8; 32];
        key.copy_from_slice(&random_string(TOKEN_ALPHABET, 32).into_bytes());
        Self { key }
    }
}

impl LoginGuard {
    /// The cookie value to set (keeping a valid one) and the token for the form.
    pub fn issue(&self, headers: &HeaderMap) -> (String, String) {
        let nonce = cookie(headers, LOGIN_COOKIE)
            .filter(|c| c.len() == TOKEN_LENGTH)
            .unwrap_or_else(|| random_string(TOKEN_ALPHABET, TOKEN_LENGTH));
        let token = self.token(&nonce);
        (nonce, token)
    }

    pub fn login_cookie(nonce: &str) -> String {
        format!("{LOGIN_COOKIE}={nonce}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=3600")
    }

    pub fn is_valid(&self, headers: &HeaderMap, token: &str) -> bool {
        cookie(headers, LOGIN_COOKIE).is_some_and(|nonce| tokens_match(&self.token(&nonce), token))
    }

    fn token(&self, nonce: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(nonce.as_bytes());
        encode_bytes(&mac.finalize().into_bytes())
    }
}

/// Constant time in the content (the length of a token is no secret).
pub fn tokens_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The value of a cookie among the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn credentials() -> Credentials {
        Credentials {
            api_key: "key".into(),
            xsrf_cookie: "c".into(),
            xsrf_token: "t".into(),
        }
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_ends() {
        let sessions = Sessions::default();
        let session = sessions.start(credentials());
        let headers = with_cookie(&format!("other=1; {SESSION_COOKIE}={}", session.id));
        assert_eq!(sessions.find(&headers).unwrap().csrf_token, session.csrf_token);
        assert!(sessions
            .find(&with_cookie(&format!("{SESSION_COOKIE}=guessed")))
            .is_none());
        sessions.end(&session);
        assert!(sessions.find(&headers).is_none());
    }

    #[test]
    fn a_flash_is_shown_once() {
        let sessions = Sessions::default();
        let session = sessions.start(credentials());
        sessions.set_flash(&session, Flash::notice("done"));
        assert_eq!(sessions.take_flash(&session).unwrap().text, "done");
        assert!(sessions.take_flash(&session).is_none());
    }

    #[test]
    fn the_login_token_belongs_to_its_cookie() {
        let guard = LoginGuard::default();
        let (nonce, token) = guard.issue(&HeaderMap::new());
        assert!(guard.is_valid(&with_cookie(&format!("{LOGIN_COOKIE}={nonce}")), &token));
        assert!(!guard.is_valid(&with_cookie(&format!("{LOGIN_COOKIE}=other")), &token));
        assert!(!guard.is_valid(&HeaderMap::new(), &token));
        assert!(!LoginGuard::default().is_valid(&with_cookie(&format!("{LOGIN_COOKIE}={nonce}")), &token));
    }
}
