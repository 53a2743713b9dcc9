//! The Admin UI (issue 13, admin-and-services §2): the operator's console, served by the Admin
//! API listener under `/ui/`. Pages are rendered on the server from askama templates compiled
//! into the binary; the only script is a small file of our own (copy buttons), and all CSS is
//! ours too, so nothing is fetched from anywhere but this listener.
//!
//! The UI holds no data and touches no store: every page is made from Admin API calls through
//! [`api::AdminApi`] (in-process, with the operator's key), except the dashboard's usage
//! figures, which the binary provides through the [`UsageStatistics`] port.

pub mod api;
mod assets;
mod chart;
mod form;
mod pages;
mod security;
mod session;
mod statistics;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub use statistics::{DayCount, StatisticsError, UsageSnapshot, UsageStatistics};

use crate::api::AdminApi;
use crate::form::FormData;
use crate::session::{tokens_match, LoginGuard, Sessions};

/// A form body larger than this is no form of ours.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// What the UI needs from the binary.
pub struct AdminUi {
    /// The Admin API's complete router (with its authentication layers).
    pub api: Router,
    pub statistics: Arc<dyn UsageStatistics>,
}

pub(crate) struct UiState {
    pub api: AdminApi,
    pub sessions: Sessions,
    pub login: LoginGuard,
    pub statistics: Arc<dyn UsageStatistics>,
}

pub(crate) type SharedState = Arc<UiState>;

/// The UI's routes: `/` leads to `/ui/`; merge this router beside the Admin API's.
pub fn router(ui: AdminUi) -> Router {
    let state = Arc::new(UiState {
        api: AdminApi::new(ui.api),
        sessions: Sessions::default(),
        login: LoginGuard::default(),
        statistics: ui.statistics,
    });
    let public = Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/login", get(pages::login::show).post(pages::login::submit))
        .route("/ui/assets/{name}", get(assets::serve));
    public
        .merge(screens().route_layer(from_fn_with_state(state.clone(), require_session)))
        .with_state(state)
        .layer(from_fn(security::headers))
}

fn screens() -> Router<SharedState> {
    use pages::{announcements, clients, dashboard, identities, login, tiers};
    Router::new()
        .route("/ui/", get(dashboard::show))
        .route("/ui/logout", post(login::log_out))
        .route("/ui/identities", get(identities::list))
        .route("/ui/identities/{address}", get(identities::show))
        .route("/ui/identities/{address}/tier", post(identities::change_tier))
        .route("/ui/identities/{address}/quotas", post(identities::add_quota))
        .route(
            "/ui/identities/{address}/quotas/remove",
            post(identities::remove_quotas),
        )
        .route(
            "/ui/identities/{address}/deletion-processes/{id}",
            get(identities::deletion_process),
        )
        .route("/ui/audit-logs", get(identities::audit_logs))
        .route("/ui/tiers", get(tiers::list).post(tiers::create))
        .route("/ui/tiers/{id}", get(tiers::show))
        .route("/ui/tiers/{id}/quotas", post(tiers::add_quota))
        .route("/ui/tiers/{id}/quotas/remove", post(tiers::remove_quotas))
        .route("/ui/clients", get(clients::list).post(clients::create))
        .route("/ui/clients/delete", post(clients::delete))
        .route("/ui/clients/{id}", get(clients::show).post(clients::update))
        .route("/ui/clients/{id}/secret", post(clients::change_secret))
        .route(
            "/ui/announcements",
            get(announcements::list).post(announcements::create),
        )
        .route("/ui/announcements/new", get(announcements::new))
        .route("/ui/announcements/{id}", get(announcements::show))
        .route("/ui/announcements/{id}/delete", post(announcements::delete))
}

/// Every screen needs a live session; every form post also its session's CSRF token and a
/// browser that does not say it comes from another site. A page without a session leads to
/// the login; a post without one is refused.
async fn require_session(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let Some(session) = state.sessions.find(request.headers()) else {
        return if request.method() == Method::GET {
            Redirect::to("/ui/login").into_response()
        } else {
            pages::forbidden("Your session has ended. Log in again.")
        };
    };
    let mut request = if request.method() == Method::POST {
        if security::is_cross_site(request.headers()) {
            return pages::forbidden("Forms of this console cannot be sent from other sites.");
        }
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        let form = FormData::parse(&bytes);
        if !tokens_match(&session.csrf_token, form.text("_csrf").as_str()) {
            return pages::forbidden("This form has expired. Reload the page and try again.");
        }
        let mut request = Request::from_parts(parts, axum::body::Body::empty());
        request.extensions_mut().insert(form);
        request
    } else {
        request
    };
    request.extensions_mut().insert(session);
    next.run(request).await
}
