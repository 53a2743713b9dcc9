//! The Admin API (`/api/v1/...`), protected by the `X-API-KEY` header.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use backbone_web::failures::{catch_panics, unavailable_as_503, UnavailableClassifier};
use backbone_web::middleware::{case_insensitive, common_headers, refuse_control_characters};
use backbone_web::Routes;

use crate::app::Application;

pub fn service(app: &Application) -> anyhow::Result<Router> {
    let api_key: Arc<str> = app.settings.admin_api_key()?.into();
    let api = backbone_devices::admin_routes(app.devices_state())
        .map_router(|router| router.layer(axum::middleware::from_fn_with_state(api_key, require_api_key)));
    let routes = Routes::new()
        .route("/health", get(|| async { StatusCode::OK }))
        .merge(api);
    let (router, segments) = routes.into_parts();
    let router = router
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(
            backbone_db::is_unavailable as UnavailableClassifier,
            unavailable_as_503,
        ))
        .layer(axum::middleware::from_fn(refuse_control_characters))
        .layer(catch_panics())
        .layer(axum::middleware::from_fn(common_headers));
    Ok(case_insensitive(router, segments))
}

/// 401 with an empty body unless `X-API-KEY` equals the configured key.
async fn require_api_key(State(key): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let matches = given.len() == key.len()
        && given
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if matches {
        next.run(request).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}
