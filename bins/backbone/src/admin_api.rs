//! The Admin API (`/api/v1/...`, admin-and-services §1): every route but health, the XSRF
//! handshake, `ValidateApiKey` and the docs ([`crate::admin_docs`]) needs the `X-API-KEY` header, and every unsafe
//! request an XSRF token (see [`auth`]). Routes match case-insensitively, as upstream's.

mod auth;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use backbone_core::IdentityAddress;
use backbone_devices::{DevicesState, IdentityDetailsDto};
use backbone_quotas::{IdentityQuotaDto, QuotasService};
use backbone_web::failures::{catch_panics, unavailable_as_503, UnavailableClassifier};
use backbone_web::middleware::{case_insensitive, common_headers, refuse_control_characters};
use backbone_web::ApiResult;
use backbone_web::{Envelope, Routes};
use serde::Serialize;

pub use auth::{AdminAuth, ValidateApiKeyRequest, ValidateApiKeyResponse, XSRF_COOKIE};

use crate::app::Application;

pub fn service(app: &Application) -> anyhow::Result<Router> {
    let auth = Arc::new(AdminAuth::new(app.settings.admin_api_key()?));
    let (router, segments) = routes(app, auth).merge(crate::admin_docs::routes()).into_parts();
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
    let api = case_insensitive(router, segments).merge(metrics);
    // The UI's routes sit beside the API's (outside its case-insensitive matching) and call
    // the API through its router, in-process.
    let ui = backbone_admin_ui::router(backbone_admin_ui::AdminUi {
        api: api.clone(),
        statistics: Arc::new(crate::admin_ui::UsageFromModules::new(app)),
    });
    Ok(api.merge(ui))
}

/// Every route of the Admin API listener.
pub fn routes(app: &Application, auth: Arc<AdminAuth>) -> Routes {
    // Inner layers run last: the key is checked before the XSRF token, as upstream does.
    let protected = protected_routes(app).map_router(|router| {
        router
            .layer(from_fn_with_state(auth.clone(), auth::require_xsrf_token))
            .layer(from_fn_with_state(auth.clone(), auth::require_api_key))
    });
    let validate_key = Routes::new()
        .route("/api/v1/ValidateApiKey", post(auth::post_validate_api_key))
        .with_state(auth.clone())
        .map_router(|router| router.layer(from_fn_with_state(auth.clone(), auth::require_xsrf_token)));
    Routes::new()
        .route("/health", get(|| async { StatusCode::OK }))
        // `/metrics` and the health checks need no API key: the Admin API listener is
        // reachable only inside the cluster (README "Deploying").
        .merge(crate::server::observability::health_routes(app))
        .merge(
            Routes::new()
                .route("/api/v1/xsrf", get(auth::get_xsrf))
                .with_state(auth),
        )
        .merge(validate_key)
        .merge(protected)
}

/// The operations behind the API key.
fn protected_routes(app: &Application) -> Routes {
    backbone_devices::admin_routes(app.devices_state())
        .merge(backbone_quotas::admin_routes(app.quotas_state()))
        .merge(backbone_challenges::admin_routes(app.challenges_state()))
        .merge(backbone_announcements::admin_routes(app.announcements_state()))
        .merge(backbone_relationships::admin_routes(app.relationships_state()))
        .merge(backbone_messages::admin_routes(app.messages_state()))
        .merge(backbone_tokens::admin_routes(app.tokens_state()))
        .merge(identity_routes(app))
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityDetails {
    #[serde(flatten)]
    identity: IdentityDetailsDto,
    quotas: Vec<IdentityQuotaDto>,
}

/// admin-and-services §1.4 `IdentityDetails`: Devices first (its 404 wins), then the quotas
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
