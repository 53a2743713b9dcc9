//! Prometheus metrics: one process-wide recorder (the `metrics` facade, rendered by
//! `metrics-exporter-prometheus`), the request metrics of every listener, and `GET /metrics`.
//!
//! Series (all prefixed `backbone_`):
//! - `http_requests_total{listener,method,route,status}` and
//!   `http_request_duration_seconds{…}` (histogram, until the response head): `route` is the
//!   route template (`/api/v2/Messages/{id}`), never the raw path, and `unmatched` for 404s;
//! - sampled at each scrape by [`GaugeSource`]s: database pool, outbox backlog and relay lag,
//!   dead letters (once the event bus has them);
//! - counted where they happen: push deliveries by result, open SSE streams, quota and
//!   rate-limit rejections, job runs.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from a cached read to a slow upload.
const LATENCY_BUCKETS: &[f64] = &[
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Values read at scrape time (database pool, outbox) rather than counted as they change.
#[async_trait::async_trait]
pub trait GaugeSource: Send + Sync {
    /// Sets its gauges with `metrics::gauge!`; an error is logged and the scrape goes on.
    async fn sample(&self) -> anyhow::Result<()>;
}

/// The process-wide recorder; installed on first use. Every application in the process (tests
/// start many) records into it, so `/metrics` shows the whole process.
///
/// # Panics
///
/// Never: the latency buckets are a non-empty constant.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test harness); then ours records nothing
        // and `/metrics` says so by being empty, which tests would show.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
        }
        handle
    })
}

/// Keeps the histograms' memory bounded between scrapes; runs for the life of the process.
pub fn spawn_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    if STARTED.set(()).is_err() {
        return;
    }
    let handle = recorder().clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    });
}

/// Records `backbone_http_requests_total` and `backbone_http_request_duration_seconds` of
/// each request; the state names the listener (`consumer`, `admin`). Must be added with
/// `Router::layer` (not around the finished router) so that the route template is known.
pub async fn record_requests(State(listener): State<&'static str>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = [
        ("listener", listener.to_owned()),
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("backbone_http_requests_total", &labels).increment(1);
    metrics::histogram!("backbone_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The state of `GET /metrics`: the sources sampled before each rendering.
#[derive(Clone, Default)]
pub struct Scrape {
    pub sources: Vec<Arc<dyn GaugeSource>>,
}

/// `GET /metrics` in the Prometheus text format.
pub async fn render(State(scrape): State<Scrape>) -> Response {
    let samples = scrape.sources.iter().map(|source| async move {
        match tokio::time::timeout(Duration::from_secs(2), source.sample()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(error = %format!("{error:#}"), "a metrics source failed"),
            Err(_) => tracing::warn!("a metrics source did not answer within 2 s"),
        }
    });
    futures::future::join_all(samples).await;
    let body = recorder().render();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_are_recorded_by_route_template_and_status() {
        recorder();
        let router = axum::Router::new()
            .route("/items/{id}", get(|| async { StatusCode::NO_CONTENT }))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn_with_state("unit-test", record_requests));
        for uri in ["/items/a", "/items/b", "/nothing/here"] {
            let request = Request::get(uri).body(axum::body::Body::empty()).unwrap();
            router.clone().oneshot(request).await.unwrap();
        }
        let response = render(State(Scrape::default())).await;
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let line = |route: &str, status: &str| {
            format!("backbone_http_requests_total{{listener=\"unit-test\",method=\"GET\",route=\"{route}\",status=\"{status}\"}}")
        };
        assert!(
            text.contains(&format!("{} 2", line("/items/{id}", "204"))),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} 1", line("unmatched", "404"))),
            "{text}"
        );
        assert!(
            text.contains("backbone_http_request_duration_seconds_bucket{listener=\"unit-test\""),
            "{text}"
        );
    }
}
