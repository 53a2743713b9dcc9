//! Tags (spec consumer-api-identity §11.2): a catalogue of tags per attribute value type, from
//! configuration (see [`TagsConfig`]). The response is rendered once at start; clients cache it
//! by ETag.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use backbone_web::openapi::{routes, BadRequest, ResultBody};
use backbone_web::Routes;
use base64::Engine;
use md5::{Digest, Md5};

mod config;
pub use config::{built_in_catalogue, Catalogue, Tag, TagsConfig};

/// The pre-rendered response body and its ETag.
#[derive(Debug, Clone)]
pub struct TagsState {
    body: Arc<Vec<u8>>,
    etag: HeaderValue,
}

impl TagsState {
    pub fn new(config: &TagsConfig) -> anyhow::Result<Self> {
        let catalogue = config.catalogue()?;
        let types = catalogue
            .iter()
            .map(|(value_type, tags)| {
                let tags: BTreeMap<String, &Tag> = tags.iter().map(|(k, v)| (camel_case(k), v)).collect();
                (value_type.clone(), tags)
            })
            .collect::<BTreeMap<_, _>>();
        let body = serde_json::to_vec(&ResultBody {
            result: TagsDto {
                supported_languages: &config.supported_languages,
                tags_for_attribute_value_types: types,
            },
        })?;
        let digest = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body));
        Ok(Self {
            body: Arc::new(body),
            etag: HeaderValue::from_str(&format!("\"{digest}\""))?,
        })
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct TagsDto<'a> {
    supported_languages: &'a [String],
    /// attribute value type → tag name → tag
    tags_for_attribute_value_types: BTreeMap<String, BTreeMap<String, &'a Tag>>,
}

fn camel_case(key: &str) -> String {
    let mut chars = key.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn routes(state: TagsState) -> Routes {
    Routes::new().routes(routes!(get_tags)).with_state(state)
}

/// The tag catalogue
///
/// M2: anonymous; 304 when the client's `If-None-Match` matches (weak comparison).
#[utoipa::path(
    get, path = "/api/v2/Tags", tag = "Tags",
    params(("If-None-Match" = Option<String>, Header, description = "ETags the client holds")),
    responses(
        (status = 200, description = "The catalogue", body = ResultBody<TagsDto>,
            headers(("ETag" = String))),
        (status = 304, description = "The client's copy is current", headers(("ETag" = String))),
        BadRequest,
    ),
)]
async fn get_tags(State(state): State<TagsState>, headers: HeaderMap) -> Response {
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag.as_bytes() == state.etag.as_bytes());
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, state.etag.clone())]).into_response();
    }
    (
        [
            (header::ETAG, state.etag.clone()),
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
        ],
        state.body.as_ref().clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_level_tag_names_are_camel_cased_but_types_keep_their_case() {
        let mut catalogue = built_in_catalogue();
        catalogue.get_mut("PhoneNumber").unwrap().insert(
            "Emergency".into(),
            Tag {
                display_names: [("de".into(), "Notfall".into()), ("en".into(), "x".into())].into(),
                children: BTreeMap::new(),
            },
        );
        let config = TagsConfig {
            tags_for_attribute_value_types: catalogue,
            ..TagsConfig::default()
        };
        let state = TagsState::new(&config).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
        let phone = &body["result"]["tagsForAttributeValueTypes"]["PhoneNumber"];
        assert!(phone.get("emergency").is_some());
        assert_eq!(phone["private"]["children"], serde_json::json!({}));
    }

    #[test]
    fn english_is_required() {
        let config = TagsConfig {
            supported_languages: vec!["de".into()],
            ..TagsConfig::default()
        };
        assert!(TagsState::new(&config).is_err());
    }
}
