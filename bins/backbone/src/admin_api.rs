//! The Admin API (`/api/v1/...`), protected by the `X-API-KEY` header.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use backbone_core::{ApiResult, IdentityAddress};
use backbone_devices::{DevicesState, IdentityDetailsDto};
use backbone_quotas::{IdentityQuotaDto, QuotasService};
use backbone_web::failures::{catch_panics, unavailable_as_503, UnavailableClassifier};
use backbone_web::middleware::{case_insensitive, common_headers, refuse_control_characters};
use backbone_web::{Envelope, Routes};
use serde::Serialize;

use crate::app::Application;

pub fn service(app: &Application) -> anyhow::Result<Router> {
    let api_key: Arc<str> = app.settings.admin_api_key()?.into();
    let api = backbone_devices::admin_routes(app.devices_state())
        .merge(backbone_quotas::admin_routes(app.quotas_state()))
        .merge(identity_routes(app))
        .map_router(|router| router.layer(axum::middleware::from_fn_with_state(api_key, require_api_key)));
    // `/metrics` and the health checks need no API key: the Admin API listener is reachable
    // only inside the cluster (README "Deploying").
    let routes = Routes::new()
        .route("/health", get(|| async { StatusCode::OK }))
        .merge(crate::server::observability::health_routes(app))
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
        .layer(axum::middleware::from_fn_with_state(
            "admin",
            backbone_gateway::metrics::record_requests,
        ))
        .layer(axum::middleware::from_fn(common_headers));
    let metrics = crate::server::observability::metrics_router(app);
    Ok(case_insensitive(router, segments).merge(metrics))
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

/// `IdentityDetails` joins what two modules know of an identity, as upstream's Admin API does.
#[derive(Clone)]
struct IdentityState {
    devices: DevicesState,
    quotas: QuotasService,
}

fn identity_routes(app: &Application) -> Routes {
    let state = IdentityState {
        devices: app.devices_state(),
        quotas: app.quotas.clone(),
    };
    Routes::new()
        .route("/api/v1/Identities/{address}", get(get_identity))
        .with_state(state)
}

#[derive(Serialize)]
struct IdentityDetails {
    #[serde(flatten)]
    identity: IdentityDetailsDto,
    quotas: Vec<IdentityQuotaDto>,
}

/// admin-and-services §1.4 IdentityDetails: Devices first (its 404 wins), then the quotas
/// with their live usage.
async fn get_identity(
    State(state): State<IdentityState>,
    Path(address): Path<String>,
) -> ApiResult<Envelope<IdentityDetails>> {
    let identity = backbone_devices::identity_details(&state.devices, &address).await?;
    let address = IdentityAddress::from_trusted(identity.address.clone());
    let quotas = backbone_quotas::identity_quotas(&state.quotas, &address).await?;
    Ok(Envelope(IdentityDetails { identity, quotas }))
}
