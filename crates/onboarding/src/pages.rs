//! M5: `GET /r/{referenceId}?app=<id>`, the page a shared link or QR code opens (spec
//! consumer-api-identity §11.5, upstream's `AppOnboardingController`). The reference itself is
//! ignored: its secret part lives in the URL fragment, which the browser never sends.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use crate::{AppConfig, AppOnboardingConfig, ColorScheme, OnboardingState, Platform};

/// The page of one app: its banner, description, store buttons and the link into the app.
#[derive(Template)]
#[template(path = "onboarding.html")]
struct OnboardingPage<'a> {
    app: &'a AppConfig,
    colours: &'a ColorScheme,
    stores: Vec<StoreButton<'a>>,
    /// "App Store", "Google Play Store" or both, for the sentence above the buttons.
    store_names: &'static str,
    /// The link into the app without the fragment, for browsers without JavaScript.
    open_link: String,
}

struct StoreButton<'a> {
    caption: &'static str,
    name: &'static str,
    link: Option<&'a str>,
    no_link_text: &'a str,
}

/// Shown when the link names no (known) app and no default is configured: every app, each
/// linking to its own page.
#[derive(Template)]
#[template(path = "app_selection.html")]
struct AppSelectionPage<'a> {
    colours: &'a ColorScheme,
    choices: Vec<AppChoice<'a>>,
}

struct AppChoice<'a> {
    display_name: &'a str,
    icon_url: Option<&'a str>,
    href: String,
}

/// The app onboarding page of a shared link
///
/// §11.5: `?app=` picks the configured app (else the default app, else a page to choose one);
/// the platform comes from the User-Agent. 404 without a body when `[app_onboarding]` is not
/// configured.
#[utoipa::path(
    get, path = "/r/{referenceId}", tag = "Onboarding",
    params(
        ("referenceId" = String, Path, description = "The shared reference (opaque)"),
        ("app" = Option<String>, Query, description = "The app's ID"),
    ),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 404, description = "Not configured (no body)"),
        backbone_web::openapi::BadRequest,
    ),
)]
pub(crate) async fn get_reference(
    State(state): State<OnboardingState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(config) = state.apps.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    // ASP.NET binds query parameters case-insensitively.
    let requested = pairs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("app"))
        .map(|(_, value)| value.as_str());
    let rendered = match config.app(requested) {
        Some(app) => {
            let user_agent = headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            onboarding_page(app, Platform::from_user_agent(user_agent), &headers, &uri).render()
        }
        None => app_selection_page(config, &pairs, uri.path()).render(),
    };
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering the onboarding page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn onboarding_page<'a>(
    app: &'a AppConfig,
    platform: Platform,
    headers: &HeaderMap,
    uri: &Uri,
) -> OnboardingPage<'a> {
    let apple = StoreButton {
        caption: "Laden im",
        name: "App Store",
        link: app.apple_app_store.app_link.as_deref(),
        no_link_text: &app.apple_app_store.no_link_text,
    };
    let google = StoreButton {
        caption: "Jetzt bei",
        name: "Google Play",
        link: app.google_play_store.app_link.as_deref(),
        no_link_text: &app.google_play_store.no_link_text,
    };
    let (stores, store_names) = match (platform.shows_apple_store(), platform.shows_google_store()) {
        (true, false) => (vec![apple], "App Store"),
        (false, true) => (vec![google], "Google Play Store"),
        _ => (vec![apple, google], "App Store oder Google Play Store"),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    OnboardingPage {
        app,
        colours: &app.color_scheme,
        stores,
        store_names,
        open_link: format!("{}://{host}{path}", app.id),
    }
}

/// Links keep the other query parameters and replace `app`.
fn app_selection_page<'a>(
    config: &'a AppOnboardingConfig,
    pairs: &[(String, String)],
    path: &str,
) -> AppSelectionPage<'a> {
    let choices = config
        .apps
        .iter()
        .map(|app| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (name, value) in pairs.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("app")) {
                query.append_pair(name, value);
            }
            query.append_pair("app", &app.id);
            AppChoice {
                display_name: &app.display_name,
                icon_url: app.icon_url.as_deref(),
                href: format!("{path}?{}", query.finish()),
            }
        })
        .collect();
    AppSelectionPage {
        // Upstream colours the selection with the first app's scheme.
        colours: &config.apps[0].color_scheme,
        choices,
    }
}
