//! The two layers of the rate limits: [`limit_by_client`] outside authentication (client IP,
//! and the username of a token request), [`limit_by_identity`] inside it (the caller).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backbone_web::ApiError;
use backbone_web::MaybeCaller;

use super::{Category, RateLimits, Refused, TOO_MANY_REQUESTS};

/// Token requests are small forms; a larger body is left to the endpoint to refuse.
const MAX_TOKEN_FORM_BYTES: usize = 64 * 1024;

/// Resolves the client's IP (always: the security log uses it) and applies the per-IP limits,
/// and for the token endpoint the per-username limit.
pub async fn limit_by_client(
    State(limits): State<Arc<RateLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = limits.proxies.resolve(&mut request);
    if !limits.enabled() {
        return next.run(request).await;
    }
    let Some(category) = Category::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    if let Err(refused) = limits.check_client(category, client) {
        return too_many_requests(refused, client, None);
    }
    if category == Category::Token {
        let (request, username) = match read_username(request).await {
            Ok(read) => read,
            Err(response) => return response,
        };
        if let Some(username) = username {
            if let Err(refused) = limits.check_username(&username) {
                return too_many_requests(refused, client, None);
            }
        }
        return next.run(request).await;
    }
    next.run(request).await
}

/// The per-identity limit of authenticated writes; runs after authentication.
pub async fn limit_by_identity(
    State(limits): State<Arc<RateLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let writes = matches!(
        Category::of(request.method(), request.uri().path()),
        Some(Category::Write)
    );
    if !limits.enabled() || !writes {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(MaybeCaller(caller)) = MaybeCaller::from_request_parts(&mut parts, &()).await;
    if let Some(caller) = caller {
        if let Err(refused) = limits.check_identity(&caller.address) {
            let client = parts.extensions.get::<crate::ClientIp>().map(|ip| ip.0);
            return too_many_requests(
                refused,
                client.unwrap_or(IpAddr::from([0, 0, 0, 0])),
                Some(caller.address.as_str()),
            );
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Reads the token form to find its `username`, and puts the body back for the endpoint.
async fn read_username(request: Request) -> Result<(Request, Option<String>), Response> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_TOKEN_FORM_BYTES) {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_TOKEN_FORM_BYTES)
        .await
        .map_err(|_| ApiError::cannot_parse("The request body could not be read.").into_response())?;
    let username = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "username")
        .map(|(_, value)| value.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), username))
}

/// 429 in the upstream error envelope with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(refused: Refused, client: IpAddr, identity: Option<&str>) -> Response {
    let seconds = refused.retry_after.as_secs() + u64::from(refused.retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    metrics::counter!("backbone_rate_limit_rejections_total", "limit" => refused.limit).increment(1);
    tracing::info!(
        target: "security",
        event = "rate_limited",
        limit = refused.limit,
        client_ip = %client,
        identity = identity.unwrap_or("-"),
        retry_after_seconds = seconds,
        "request refused by a rate limit"
    );
    let mut response = backbone_web::error::error_response(
        StatusCode::TOO_MANY_REQUESTS,
        TOO_MANY_REQUESTS,
        &format!("Too many requests. Try again in {seconds} seconds."),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
