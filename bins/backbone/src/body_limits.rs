//! Request bodies of the Consumer API, looked at before anything reads them.
//!
//! - A `Content-Length` above the route's limit is refused at once, without reading the body,
//!   as upstream's Kestrel does: 400 `error.platform.requestBodyTooLarge` (upstream maps
//!   Kestrel's 413 to that). axum's `DefaultBodyLimit` alone only notices while reading.
//! - Bodies that are read into memory whole (JSON) and are at least
//!   `http.large_body_threshold_bytes` large wait until their size fits into
//!   `http.large_body_budget_bytes`, so concurrent large bodies cannot take memory without
//!   bound. A body without a length (chunked) counts as large as its limit allows. The file
//!   upload streams to blob storage in bounded parts and is exempt.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use backbone_web::error::{ErrorBody, ErrorEnvelope, UNEXPECTED};
use backbone_web::ApiError;
use tokio::sync::Semaphore;

/// The budget counts KiB, so that a `u32` of permits covers any body.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub struct BodyLimits {
    default_limit: u64,
    /// `POST /api/v2/Files`: its own limit (from the file size limit), and it streams.
    upload_limit: u64,
    threshold: u64,
    budget: Arc<Semaphore>,
    budget_units: u32,
    /// How long a large body may wait for the budget before it is answered 503.
    wait: Duration,
}

impl BodyLimits {
    pub fn new(
        default_limit: usize,
        upload_limit: usize,
        threshold: usize,
        budget: usize,
        wait: Duration,
    ) -> Self {
        let budget_units = u32::try_from(budget as u64 / UNIT).unwrap_or(u32::MAX).max(1);
        Self {
            default_limit: default_limit as u64,
            upload_limit: upload_limit as u64,
            threshold: threshold as u64,
            budget: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
            wait,
        }
    }

    fn is_upload(request: &Request) -> bool {
        // Paths are canonical here: `case_insensitive` rewrote them before routing.
        request.method() == Method::POST && request.uri().path() == "/api/v2/Files"
    }

    /// KiB of budget the body takes; 0 for a small or streamed body.
    fn units(&self, length: Option<u64>, limit: u64, request: &Request) -> u32 {
        let size = match length {
            Some(length) => length,
            None if request.headers().contains_key(header::TRANSFER_ENCODING) => limit,
            None => 0,
        };
        if size < self.threshold || Self::is_upload(request) {
            return 0;
        }
        // A body larger than the whole budget takes all of it, rather than waiting for ever.
        u32::try_from(size.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.budget_units)
    }
}

/// The middleware: refuses over-long bodies, then waits for the budget of a large one.
pub async fn check(State(limits): State<Arc<BodyLimits>>, request: Request, next: Next) -> Response {
    let limit = if BodyLimits::is_upload(&request) {
        limits.upload_limit
    } else {
        limits.default_limit
    };
    // hyper has refused a malformed Content-Length already.
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if length.is_some_and(|length| length > limit) {
        return ApiError::body_too_large().into_response();
    }
    let units = limits.units(length, limit, &request);
    if units == 0 {
        return next.run(request).await;
    }
    let acquired = tokio::time::timeout(limits.wait, limits.budget.clone().acquire_many_owned(units)).await;
    let Ok(Ok(_permits)) = acquired else {
        return busy();
    };
    // The permits are held until the handler is done with the body.
    next.run(request).await
}

fn busy() -> Response {
    tracing::warn!("a large request body waited too long for the large-body budget");
    let body = ErrorBody::new(
        UNEXPECTED,
        "The server is busy reading other large requests. Try again later.",
    );
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(ErrorEnvelope { error: body }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn large_and_unknown_lengths_take_budget_small_and_uploads_do_not() {
        let limits = BodyLimits::new(20 << 20, 12 << 20, 1 << 20, 64 << 20, Duration::from_secs(1));
        let post = |headers: &[(&str, &str)]| request(Method::POST, "/api/v2/Tokens", headers);
        assert_eq!(limits.units(Some(1000), 20 << 20, &post(&[])), 0);
        assert_eq!(limits.units(Some(2 << 20), 20 << 20, &post(&[])), 2048);
        assert_eq!(limits.units(None, 20 << 20, &post(&[])), 0);
        let chunked = post(&[("transfer-encoding", "chunked")]);
        assert_eq!(limits.units(None, 20 << 20, &chunked), 20 * 1024);
        let upload = request(Method::POST, "/api/v2/Files", &[]);
        assert_eq!(limits.units(Some(10 << 20), 12 << 20, &upload), 0);
        // More than the whole budget: all of it.
        assert_eq!(limits.units(Some(100 << 20), 200 << 20, &post(&[])), 64 * 1024);
    }
}
