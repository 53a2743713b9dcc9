//! Layers that make every response look like upstream's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use backbone_core::encoding::format_date;
use chrono::Utc;

const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// Adds the timing, tracing and security headers upstream sends on every response.
pub async fn common_headers(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_time = format_date(&Utc::now());
    let correlation_id = request
        .headers()
        .get(&CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .replace(['\r', '\n'], "")
                .chars()
                .take(100)
                .collect::<String>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), %trace_id, %correlation_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;

    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-request-time", request_time);
    set("x-response-time", format_date(&Utc::now()));
    set(
        "x-response-duration-ms",
        started.elapsed().as_millis().to_string(),
    );
    set("x-trace-id", trace_id);
    set("x-correlation-id", correlation_id);
    set(
        "strict-transport-security",
        "max-age=5184000; includeSubDomains".into(),
    );
    set("x-frame-options", "Deny".into());
    set("x-content-type-options", "nosniff".into());
    set("referrer-policy", "no-referrer".into());
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/json")
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(parent: &span, %status, "request failed");
    } else {
        tracing::debug!(parent: &span, %status, elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), "request handled");
    }
    response
}

/// Rewrites literal path segments to the spelling they were registered with, so routing is
/// case-insensitive like upstream's. Unknown segments (IDs, addresses) are left as they are.
#[expect(
    clippy::implicit_hasher,
    reason = "the map comes from `Routes`, always with the default hasher"
)]
pub fn canonicalise_path(mut request: Request, segments: &Arc<HashMap<String, String>>) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let mut changed = false;
    let rewritten: Vec<&str> = path
        .split('/')
        .map(|segment| match segments.get(&segment.to_ascii_lowercase()) {
            Some(canonical) if canonical != segment => {
                changed = true;
                canonical.as_str()
            }
            _ => segment,
        })
        .collect();
    if changed {
        let mut path_and_query = rewritten.join("/");
        if let Some(query) = uri.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(new_uri) = Uri::from_parts(parts) {
                *request.uri_mut() = new_uri;
            }
        }
    }
    request
}

/// Wraps a finished router so that its literal path segments match case-insensitively.
#[expect(
    clippy::implicit_hasher,
    reason = "the map comes from `Routes`, always with the default hasher"
)]
pub fn case_insensitive(router: axum::Router, segments: HashMap<String, String>) -> axum::Router {
    use tower::Layer;
    let segments = Arc::new(segments);
    let canonical =
        tower::util::MapRequestLayer::new(move |request: Request| canonicalise_path(request, &segments))
            .layer(router);
    axum::Router::new().fallback_service(canonical)
}

/// Refuses a request whose path or query holds a control character (decoded), before any
/// handler sees it: see [`crate::text`]. A path that does not decode to UTF-8 (`%FF`) is
/// refused here too: axum's `Path` extractor would answer it in plain text, not the envelope.
pub async fn refuse_control_characters(request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    if percent_encoding::percent_decode_str(uri.path())
        .decode_utf8()
        .is_err()
    {
        return crate::ApiError::invalid_property_value("'path' must be valid UTF-8 once percent-decoded.")
            .into_response();
    }
    let path_has_control = form_urlencoded::parse(uri.path().as_bytes()).any(|(name, value)| {
        crate::text::has_forbidden_control(&name) || crate::text::has_forbidden_control(&value)
    });
    if path_has_control {
        return crate::text::refused("path").into_response();
    }
    if let Err(error) = crate::text::check_url_encoded(uri.query().unwrap_or_default()) {
        return error.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_are_rewritten_and_ids_kept() {
        let map: HashMap<String, String> = [
            ("api", "api"),
            ("v2", "v2"),
            ("devices", "Devices"),
            ("self", "Self"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let map = Arc::new(map);
        let request = Request::builder()
            .uri("/API/v2/devices/DVCabc?PageSize=2")
            .body(axum::body::Body::default())
            .unwrap();
        assert_eq!(
            canonicalise_path(request, &map).uri().to_string(),
            "/api/v2/Devices/DVCabc?PageSize=2"
        );
        let request = Request::builder()
            .uri("/api/v2/Devices/self")
            .body(axum::body::Body::default())
            .unwrap();
        assert_eq!(
            canonicalise_path(request, &map).uri().path(),
            "/api/v2/Devices/Self"
        );
    }
}
