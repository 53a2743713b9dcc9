//! Logging in with the API key, and out.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{render, Ctx};
use crate::form::FormData;
use crate::security::is_cross_site;
use crate::session::{cleared_session_cookie, session_cookie, LoginGuard};
use crate::SharedState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
}

fn login_page(state: &SharedState, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let (nonce, csrf) = state.login.issue(headers);
    let page = LoginPage {
        csrf,
        error: error.map(str::to_owned),
    };
    (
        status,
        [(header::SET_COOKIE, LoginGuard::login_cookie(&nonce))],
        render(&page),
    )
        .into_response()
}

/// `GET /ui/login`; an operator who is logged in goes on to the dashboard.
pub async fn show(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if state.sessions.find(&headers).is_some() {
        return Redirect::to("/ui/").into_response();
    }
    login_page(&state, &headers, StatusCode::OK, None)
}

/// `POST /ui/login`: the key is checked by the Admin API (`ValidateApiKey`); a valid one
/// starts a session with a new id, a wrong one shows the form again with a message.
pub async fn submit(State(state): State<SharedState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    if is_cross_site(&headers) || !state.login.is_valid(&headers, &form.text("_csrf")) {
        return super::forbidden("This form has expired. Reload the page and try again.");
    }
    let key = form.text("api_key");
    if key.is_empty() {
        return login_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("Enter the API key."),
        );
    }
    match state.api.log_in(&key).await {
        Ok(Some(credentials)) => {
            let session = state.sessions.start(credentials);
            tracing::info!(target: "security", event = "admin_ui_login", "an operator logged in to the Admin UI");
            (
                [(header::SET_COOKIE, session_cookie(&session))],
                Redirect::to("/ui/"),
            )
                .into_response()
        }
        Ok(None) => {
            tracing::info!(target: "security", event = "admin_ui_login_refused", "Admin UI login with a wrong API key");
            login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("This API key is not valid."),
            )
        }
        Err(error) => {
            tracing::error!(%error, "the Admin UI could not check an API key");
            login_page(
                &state,
                &headers,
                StatusCode::BAD_GATEWAY,
                Some("The API key could not be checked. Try again."),
            )
        }
    }
}

/// `POST /ui/logout`.
pub async fn log_out(ctx: Ctx) -> Response {
    ctx.state.sessions.end(&ctx.session);
    (
        [(header::SET_COOKIE, cleared_session_cookie())],
        Redirect::to("/ui/login"),
    )
        .into_response()
}
