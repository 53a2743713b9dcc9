//! How failures reach the wire: a panic and an unavailable dependency both get upstream's
//! error envelope instead of a dropped connection or a misleading 500.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Tells whether the cause of a 500 is a dependency that is unavailable for now.
pub type UnavailableClassifier = fn(&anyhow::Error) -> bool;

/// Turns a 500 whose cause the classifier calls unavailable (the database pool timed out, the
/// connection dropped) into a 503 with `Retry-After`, so clients and load balancers retry
/// instead of treating it as a bug.
pub async fn unavailable_as_503(
    axum::extract::State(is_unavailable): axum::extract::State<UnavailableClassifier>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let unavailable = response
        .extensions()
        .get::<crate::error::InternalErrorCause>()
        .is_some_and(|cause| is_unavailable(&cause.0));
    if !unavailable {
        return response;
    }
    let mut response = crate::error::error_response(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        backbone_core::error::UNEXPECTED,
        "The service is temporarily unavailable. Try again shortly.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A panic in a handler is logged and answered with upstream's 500 envelope, so the client
/// gets a reply instead of a dropped connection.
pub fn catch_panics(
) -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_response as fn(_) -> _)
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "tower-http's CatchPanicLayer::custom hands the payload over by value"
)]
fn panic_response(panic: Box<dyn std::any::Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    crate::error::error_response(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        backbone_core::error::UNEXPECTED,
        "An unexpected error occurred.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_gets_the_upstream_500_envelope() {
        use tower::ServiceExt;
        let router = axum::Router::new()
            .route("/boom", axum::routing::get(boom))
            .layer(catch_panics());
        let request = axum::http::Request::get("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "error.platform.unexpected");
        assert!(body["error"]["id"].as_str().unwrap().starts_with("ERR"));
    }
}
