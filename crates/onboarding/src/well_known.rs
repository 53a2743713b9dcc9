//! M6/M7: `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json`, the
//! files with which iOS and Android let the configured apps open `/r/…` links. No envelope;
//! 404 when `[well_known_endpoints]` is not configured.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use backbone_web::openapi::BadRequest;

use crate::{OnboardingState, WellKnownEndpointsConfig};

/// Both bodies, rendered once.
#[derive(Debug)]
pub(crate) struct Bodies {
    apple: Vec<u8>,
    android: Vec<u8>,
}

impl Bodies {
    pub(crate) fn render(config: &WellKnownEndpointsConfig) -> anyhow::Result<Self> {
        let apple = AppleAppSiteAssociation {
            applinks: AppLinks {
                details: vec![AppLinkDetail {
                    app_ids: &config.apple_app_site_associations,
                    components: vec![AppLinkComponent {
                        path: "/r/*",
                        comment: "Matches any URL whose path starts with /r/",
                    }],
                }],
            },
        };
        let android: Vec<_> = config
            .android_asset_links
            .iter()
            .map(|link| AssetLink {
                relation: vec!["delegate_permission/common.handle_all_urls"],
                target: AssetLinkTarget {
                    namespace: "android_app",
                    package_name: &link.package_name,
                    sha256_cert_fingerprints: &link.sha256_cert_fingerprints,
                },
            })
            .collect();
        Ok(Self {
            apple: serde_json::to_vec(&apple)?,
            android: serde_json::to_vec(&android)?,
        })
    }
}

/// Apple's `apple-app-site-association` file (fields in the order `json!` wrote them).
#[derive(Serialize, ToSchema)]
pub(crate) struct AppleAppSiteAssociation<'a> {
    applinks: AppLinks<'a>,
}

#[derive(Serialize, ToSchema)]
struct AppLinks<'a> {
    details: Vec<AppLinkDetail<'a>>,
}

#[derive(Serialize, ToSchema)]
struct AppLinkDetail<'a> {
    #[serde(rename = "appIDs")]
    app_ids: &'a [String],
    components: Vec<AppLinkComponent>,
}

#[derive(Serialize, ToSchema)]
struct AppLinkComponent {
    #[serde(rename = "/")]
    path: &'static str,
    comment: &'static str,
}

/// One statement of Android's `assetlinks.json`.
#[derive(Serialize, ToSchema)]
pub(crate) struct AssetLink<'a> {
    relation: Vec<&'static str>,
    target: AssetLinkTarget<'a>,
}

#[derive(Serialize, ToSchema)]
struct AssetLinkTarget<'a> {
    namespace: &'static str,
    package_name: &'a str,
    sha256_cert_fingerprints: &'a [String],
}

fn json_response(body: Option<&[u8]>) -> Response {
    match body {
        Some(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            body.to_vec(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// iOS app links for `/r/*`
///
/// M6: 404 without a body when `[well_known_endpoints]` is not configured.
#[utoipa::path(
    get, path = "/.well-known/apple-app-site-association", tag = "Onboarding",
    responses(
        (status = 200, description = "The association file", body = AppleAppSiteAssociation),
        (status = 404, description = "Not configured (no body)"),
        BadRequest,
    ),
)]
pub(crate) async fn apple_app_site_association(State(state): State<OnboardingState>) -> Response {
    json_response(state.well_known.as_deref().map(|b| b.apple.as_slice()))
}

/// Android app links for `/r/*`
///
/// M7: 404 without a body when `[well_known_endpoints]` is not configured.
#[utoipa::path(
    get, path = "/.well-known/assetlinks.json", tag = "Onboarding",
    responses(
        (status = 200, description = "The asset links", body = Vec<AssetLink>),
        (status = 404, description = "Not configured (no body)"),
        BadRequest,
    ),
)]
pub(crate) async fn android_asset_links(State(state): State<OnboardingState>) -> Response {
    json_response(state.well_known.as_deref().map(|b| b.android.as_slice()))
}
