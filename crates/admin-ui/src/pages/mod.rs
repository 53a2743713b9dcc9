//! The screens, and what they share: the layout (navigation, flash message, the CSRF token of
//! the "Log out" form), the request context with the in-process API client, and error pages.

pub mod announcements;
pub mod clients;
pub mod dashboard;
pub mod identities;
mod identity;
pub mod login;
pub mod tiers;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::ApiError;
use crate::session::{cleared_session_cookie, Flash, Session};
use crate::SharedState;

/// The navigation, in this order; the second part is the link.
pub const NAVIGATION: [(&str, &str); 5] = [
    ("Dashboard", "/ui/"),
    ("Identities", "/ui/identities"),
    ("Tiers", "/ui/tiers"),
    ("Clients", "/ui/clients"),
    ("Announcements", "/ui/announcements"),
];

/// What the base template shows around every screen.
pub struct Layout {
    pub title: String,
    /// The navigation entry to mark as the current page.
    pub active: &'static str,
    pub csrf: String,
    pub flash: Option<Flash>,
}

impl Layout {
    pub fn navigation(&self) -> Vec<(&'static str, &'static str, bool)> {
        NAVIGATION
            .iter()
            .map(|(name, href)| (*name, *href, *name == self.active))
            .collect()
    }
}

/// A screen's request: the UI's state and the operator's session.
pub struct Ctx {
    pub state: SharedState,
    pub session: Session,
}

impl FromRequestParts<SharedState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Redirect::to("/ui/login").into_response())?;
        Ok(Self {
            state: state.clone(),
            session,
        })
    }
}

impl Ctx {
    /// The layout of a page, with the flash message left by the previous request.
    pub fn layout(&self, title: impl Into<String>, active: &'static str) -> Layout {
        Layout {
            title: title.into(),
            active,
            csrf: self.session.csrf_token.clone(),
            flash: self.state.sessions.take_flash(&self.session),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.state
            .api
            .get(&self.session.credentials, path)
            .await
            .map_err(|error| self.failure(error))
    }

    pub async fn get_value(&self, path: &str) -> Result<Value, Failure> {
        self.state
            .api
            .get_value(&self.session.credentials, path)
            .await
            .map_err(|error| self.failure(error))
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, ApiError> {
        self.state
            .api
            .send(&self.session.credentials, method, path, body)
            .await
    }

    pub fn flash(&self, flash: Flash) {
        self.state.sessions.set_flash(&self.session, flash);
    }

    pub fn failure(&self, error: ApiError) -> Failure {
        Failure {
            csrf: self.session.csrf_token.clone(),
            error,
        }
    }

    /// After a form: the notice and `success`, or the API's message and `failure`. A key
    /// that stopped working ends the session.
    pub fn after_change(
        &self,
        result: Result<Value, ApiError>,
        notice: impl FnOnce(&Value) -> Flash,
        success: &str,
        failure: &str,
    ) -> Response {
        match result {
            Ok(value) => {
                self.flash(notice(&value));
                see_other(success)
            }
            Err(ApiError::Unauthorized) => self.failure(ApiError::Unauthorized).into_response(),
            Err(error) => {
                self.flash(Flash::error(error.to_string()));
                see_other(failure)
            }
        }
    }
}

/// A page that could not be made: shown inside the layout, never as the API's JSON.
pub struct Failure {
    csrf: String,
    error: ApiError,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if matches!(self.error, ApiError::Unauthorized) {
            return (
                [(header::SET_COOKIE, cleared_session_cookie())],
                Redirect::to("/ui/login"),
            )
                .into_response();
        }
        if !matches!(self.error, ApiError::Refused { .. }) {
            tracing::error!(error = %self.error, "an Admin UI page failed");
        }
        let status = self.error.status();
        let heading = if self.error.is_not_found() {
            "Not found"
        } else {
            "Something went wrong"
        };
        let page = ErrorPage {
            layout: Layout {
                title: heading.into(),
                active: "",
                csrf: self.csrf,
                flash: None,
            },
            heading: heading.into(),
            message: self.error.to_string(),
        };
        (status, render(&page)).into_response()
    }
}

pub type PageResult = Result<Response, Failure>;

/// The HTML of a template; a template that cannot render is a bug, logged and shown as 500.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering an Admin UI page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

/// 403 with a short page of its own (there may be no session to show a layout with).
pub fn forbidden(message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused</title>\
         <link rel=\"stylesheet\" href=\"/ui/assets/app.css\"></head><body><main class=\"narrow\">\
         <h1>Refused</h1><p role=\"alert\">{}</p><p><a href=\"/ui/login\">Log in</a></p></main></body></html>",
        escape(message)
    );
    (StatusCode::FORBIDDEN, Html(html)).into_response()
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A path segment or query value, percent-encoded.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An API date (`2026-12-01T16:03:12.345Z`) as the UI shows it: `2026-12-01 16:03 UTC`.
pub fn show_date(value: Option<&str>) -> String {
    match value.and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok()) {
        Some(date) => date
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        None => value.unwrap_or("–").to_owned(),
    }
}

/// Reads a string field of a JSON object, `""` when it is missing or not a string.
pub fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The periods of a quota, as the API names them.
pub const PERIODS: [&str; 6] = ["Hour", "Day", "Week", "Month", "Year", "Total"];

/// The metrics a quota can limit, from `GET /api/v1/Metrics`.
#[derive(serde::Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub key: String,
    pub display_name: String,
}

/// A quota of a tier or an identity, as the templates show it.
pub struct QuotaRow {
    pub id: String,
    pub source: String,
    pub metric: String,
    pub max: String,
    pub usage: String,
    pub period: String,
}

impl QuotaRow {
    pub fn from_json(value: &Value) -> Self {
        Self {
            id: text(value, "id"),
            source: text(value, "source"),
            metric: text(&value["metric"], "displayName"),
            max: text(value, "max"),
            usage: text(value, "usage"),
            period: text(value, "period"),
        }
    }
}

/// An option of a select, and whether it is the one selected.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn list(values: &[&str], selected: &str) -> Vec<Self> {
        values
            .iter()
            .map(|value| Self {
                value: (*value).to_owned(),
                label: (*value).to_owned(),
                selected: *value == selected,
            })
            .collect()
    }
}
