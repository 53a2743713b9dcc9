//! Liveness and readiness. `/health/live` answers 200 as long as the process serves HTTP;
//! `/health/ready` checks every dependency (database, broker, blob storage) within
//! [`CHECK_TIMEOUT`] and answers 503 naming the failing ones, and answers 503 as soon as the
//! process begins to shut down, so that load balancers stop sending it new requests while the
//! ones in flight finish.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use backbone_web::openapi::BadRequest;
use serde::Serialize;
use serde_json::{Map, Value};

/// Each check answers within this time or counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency the process needs to serve requests.
#[async_trait::async_trait]
pub trait ReadinessCheck: Send + Sync {
    async fn check(&self) -> anyhow::Result<()>;
}

pub struct Readiness {
    draining: AtomicBool,
    checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>,
}

impl Readiness {
    pub fn new(checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>) -> Self {
        Self {
            draining: AtomicBool::new(false),
            checks,
        }
    }

    /// From now on readiness answers 503: the process is shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Runs every check at once: (all passed, each check's state).
    pub async fn check(&self) -> (bool, Map<String, Value>) {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check)| async move {
            let result = tokio::time::timeout(CHECK_TIMEOUT, check.check())
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {CHECK_TIMEOUT:?}")));
            if let Err(error) = &result {
                tracing::warn!(check = name, error = %format!("{error:#}"), "readiness check failed");
            }
            (*name, result.is_ok())
        }))
        .await;
        let healthy = results.iter().all(|(_, ok)| *ok);
        let states = results
            .into_iter()
            .map(|(name, ok)| {
                (
                    name.to_owned(),
                    Value::from(if ok { "Healthy" } else { "Unhealthy" }),
                )
            })
            .collect();
        (healthy, states)
    }
}

/// The answer of both health endpoints.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// `Healthy`, `Unhealthy` or (readiness while shutting down) `ShuttingDown`
    status: &'static str,
    /// Readiness only: each check's state, `Healthy` or `Unhealthy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>, nullable = false)]
    checks: Option<Map<String, Value>>,
}

/// Liveness: the process serves HTTP
#[utoipa::path(
    get, path = "/health/live", tag = "Health",
    responses(
        (status = 200, description = "Serving", body = HealthStatus),
        BadRequest,
    ),
)]
#[expect(clippy::unused_async, reason = "an axum handler")]
pub async fn live() -> Response {
    let body = HealthStatus {
        status: "Healthy",
        checks: None,
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Readiness: every dependency answers and the process is not shutting down
#[utoipa::path(
    get, path = "/health/ready", tag = "Health",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 503, description = "A check failed, or shutting down", body = HealthStatus),
        BadRequest,
    ),
)]
pub async fn ready(State(readiness): State<Arc<Readiness>>) -> Response {
    if readiness.is_draining() {
        let body = HealthStatus {
            status: "ShuttingDown",
            checks: None,
        };
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let (healthy, checks) = readiness.check().await;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = HealthStatus {
        status: if healthy { "Healthy" } else { "Unhealthy" },
        checks: Some(checks),
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(bool);

    #[async_trait::async_trait]
    impl ReadinessCheck for Fixed {
        async fn check(&self) -> anyhow::Result<()> {
            anyhow::ensure!(self.0, "down");
            Ok(())
        }
    }

    #[tokio::test]
    async fn readiness_names_failing_checks_and_turns_503_when_draining() {
        let healthy = Readiness::new(vec![("database", Arc::new(Fixed(true)))]);
        assert!(healthy.check().await.0);
        let broken = Readiness::new(vec![
            ("database", Arc::new(Fixed(true))),
            ("blob_storage", Arc::new(Fixed(false))),
        ]);
        let (ok, states) = broken.check().await;
        assert!(!ok);
        assert_eq!(states["blob_storage"], "Unhealthy");
        assert_eq!(states["database"], "Healthy");
        let readiness = Arc::new(healthy);
        assert_eq!(ready(State(readiness.clone())).await.status(), StatusCode::OK);
        readiness.start_draining();
        assert_eq!(
            ready(State(readiness)).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
