//! The Consumer API: every module's routes plus health, version and docs, behind the layers
//! that make it behave like upstream (headers, case-insensitive routes, body limit, CORS).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::Router;
use backbone_web::failures::{catch_panics, unavailable_as_503, UnavailableClassifier};
use backbone_web::middleware::{case_insensitive, common_headers, refuse_control_characters};
use backbone_web::openapi::{routes, BadRequest, ResultBody};
use backbone_web::{Envelope, Routes};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::app::Application;
use crate::config::CorsSettings;

/// The API generation we are wire-compatible with; the client accepts majors 6 and 7.
const MAJOR_VERSION: &str = "7";

/// Every Consumer API route (the documentation is added by [`service`]).
pub fn routes(app: &Application) -> Routes {
    Routes::new()
        .routes(routes!(crate::health::get_health))
        .with_state(crate::health::HealthChecks::new(app))
        .routes(routes!(version))
        .merge(crate::server::observability::health_routes(app))
        .merge(backbone_announcements::routes(app.announcements_state()))
        .merge(backbone_challenges::routes(app.challenges_state()))
        .merge(backbone_devices::routes(app.devices_state()))
        .merge(backbone_files::routes(app.files_state()))
        .merge(backbone_messages::routes(app.messages_state()))
        .merge(backbone_push::routes(app.push_state()))
        .merge(backbone_quotas::routes(app.quotas_state()))
        .merge(backbone_relationships::routes(app.relationships_state()))
        .merge(backbone_synchronization::routes(app.synchronization_state()))
        .merge(backbone_tags::routes(app.tags.clone()))
        .merge(backbone_onboarding::routes(app.onboarding.clone()))
        .merge(backbone_tokens::routes(app.tokens_state()))
}

pub fn service(app: &Application) -> Router {
    let documented = routes(app);
    let document = crate::docs::openapi(documented.openapi().clone());
    let (router, segments) = documented.merge(crate::docs::routes(document)).into_parts();
    let limits = app.rate_limits.clone();
    let router = router
        .fallback(|| async { StatusCode::NOT_FOUND })
        // Inside authentication: it limits the calling identity's writes.
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            backbone_gateway::rate_limits::limit_by_identity,
        ))
        .layer(axum::middleware::from_fn_with_state(
            backbone_web::Authenticator {
                keys: app.jwt.clone(),
                identities: std::sync::Arc::new(crate::adapters::IdentitiesFromDevices(
                    backbone_devices::DevicesStore::new(app.db.clone()),
                )),
            },
            backbone_web::auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(
            app.settings.consumer_api.max_request_body_bytes,
        ))
        // Inside CORS, so that a browser can read a 429.
        .layer(axum::middleware::from_fn_with_state(
            limits,
            backbone_gateway::rate_limits::limit_by_client,
        ));
    let router = match cors_layer(&app.settings.cors) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            app.wake.clone(),
            wake_worker_after_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(body_limits(app)),
            crate::body_limits::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            backbone_db::is_unavailable as UnavailableClassifier,
            unavailable_as_503,
        ))
        .layer(axum::middleware::from_fn(refuse_control_characters))
        .layer(catch_panics())
        .layer(axum::middleware::from_fn_with_state(
            "consumer",
            backbone_gateway::metrics::record_requests,
        ))
        .layer(axum::middleware::from_fn(common_headers));
    // Routing is case-insensitive upstream: literal segments are rewritten before routing.
    case_insensitive(router, segments)
}

fn body_limits(app: &Application) -> crate::body_limits::BodyLimits {
    let http = &app.settings.http;
    crate::body_limits::BodyLimits::new(
        app.settings.consumer_api.max_request_body_bytes,
        app.files_state().upload_body_limit(),
        http.large_body_threshold_bytes,
        http.large_body_budget_bytes,
        http.request_body_timeout(),
    )
}

/// A successful write may have put events into the outbox: wake the worker of this process so
/// peers learn of it right away rather than at the next poll.
async fn wake_worker_after_writes(
    State(wake): State<std::sync::Arc<tokio::sync::Notify>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let writes = request.method() != Method::GET && request.method() != Method::HEAD;
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        wake.notify_one();
    }
    response
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct VersionDto {
    #[schema(example = "7")]
    major_version: &'static str,
}

/// The API major version
///
/// M4: the major version as a string, as upstream serialises it.
#[utoipa::path(
    get, path = "/api/v2/Version", tag = "Version",
    responses(
        (status = 200, description = "The version", body = ResultBody<VersionDto>),
        BadRequest,
    ),
)]
async fn version() -> Envelope<VersionDto> {
    Envelope(VersionDto {
        major_version: MAJOR_VERSION,
    })
}

fn cors_layer(settings: &CorsSettings) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = split(&settings.allowed_origins)
        .filter_map(|o| o.parse().ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let exposed: Vec<HeaderName> = split(&settings.exposed_headers)
        .filter_map(|h| h.parse().ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(AllowMethods::list([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ]))
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(exposed),
    )
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(';').map(str::trim).filter(|s| !s.is_empty())
}
