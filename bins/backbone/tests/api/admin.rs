//! The Admin API (admin-and-services §1.2–1.5): authentication and the XSRF handshake,
//! clients, identities, the OData identity list, the read-only views and announcements.
//! Every operation and error code, on both databases.

mod announcements;
mod auth;
mod clients;
mod docs;
mod identities;
mod odata;
mod views;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Response, TestApp, ADMIN_API_KEY};

/// The XSRF pair of one handshake: the cookie to send back and the request token.
pub struct Xsrf {
    pub cookie: String,
    pub token: String,
}

/// `GET /api/v1/xsrf`, as the Admin UI and the admin SDK do before their first change.
pub async fn xsrf(app: &TestApp) -> Xsrf {
    let response = app
        .http
        .get(format!("{}/api/v1/xsrf", app.admin_base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .expect("the handshake sets the cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("X-XSRF-COOKIE="), "{set_cookie}");
    let token = response.text().await.unwrap();
    assert!(!token.is_empty());
    Xsrf { cookie, token }
}

/// An Admin API request with the API key, and for unsafe methods a fresh XSRF pair.
pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Response {
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD);
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.admin_base))
        .header("x-api-key", ADMIN_API_KEY);
    if unsafe_method {
        let pair = xsrf(app).await;
        request = request
            .header("cookie", pair.cookie)
            .header("x-xsrf-token", pair.token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.raw(request).await
}

/// A GET with the API key.
pub async fn admin_get(app: &TestApp, path: &str) -> Response {
    admin(app, Method::GET, path, None).await
}
