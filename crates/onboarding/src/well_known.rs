//! M6/M7: `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json`, the
//! files with which iOS and Android let the configured apps open `/r/…` links. No envelope;
//! 404 when `[well_known_endpoints]` is not configured.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{OnboardingState, WellKnownEndpointsConfig};

/// Both bodies, rendered once.
#[derive(Debug)]
pub(crate) struct Bodies {
    apple: Vec<u8>,
    android: Vec<u8>,
}

impl Bodies {
    pub(crate) fn render(config: &WellKnownEndpointsConfig) -> anyhow::Result<Self> {
        let apple = json!({
            "applinks": {
                "details": [{
                    "appIDs": config.apple_app_site_associations,
                    "components": [{ "/": "/r/*", "comment": "Matches any URL whose path starts with /r/" }],
                }]
            }
        });
        let android: Vec<_> = config
            .android_asset_links
            .iter()
            .map(|link| {
                json!({
                    "relation": ["delegate_permission/common.handle_all_urls"],
                    "target": {
                        "namespace": "android_app",
                        "package_name": link.package_name,
                        "sha256_cert_fingerprints": link.sha256_cert_fingerprints,
                    },
                })
            })
            .collect();
        Ok(Self {
            apple: serde_json::to_vec(&apple)?,
            android: serde_json::to_vec(&android)?,
        })
    }
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

pub(crate) async fn apple_app_site_association(State(state): State<OnboardingState>) -> Response {
    json_response(state.well_known.as_deref().map(|b| b.apple.as_slice()))
}

pub(crate) async fn android_asset_links(State(state): State<OnboardingState>) -> Response {
    json_response(state.well_known.as_deref().map(|b| b.android.as_slice()))
}
