//! The Consumer API's `/health`: the database, the event bus and blob storage, each named in
//! the answer, plus the number of dead-lettered events (reported, not a failure).
//!
//! [`HealthChecks::report`] is what readiness and metrics endpoints call as well.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use backbone_blob::BlobStore;
use backbone_db::Database;
use backbone_eventbus::{BusHealth, DeadLetterStore};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;

use crate::app::Application;

/// Each check answers within this time, so `/health` answers even when a dependency hangs.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// A blob round trip that succeeded is trusted for this long (it costs three requests).
const BLOB_CHECK_VALIDITY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct HealthChecks {
    db: Database,
    bus: Arc<dyn BusHealth>,
    blobs: Arc<dyn BlobStore>,
    dead_letters: DeadLetterStore,
    last_good_blob_check: Arc<Mutex<Option<Instant>>>,
}

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `database`, `eventBus` or `blobStorage`
    pub name: &'static str,
    pub healthy: bool,
    /// Why it is unhealthy; absent when healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `Healthy` when every check passed, otherwise `Unhealthy`.
    pub status: &'static str,
    pub checks: Vec<Check>,
    /// Events set aside after their handler kept failing (`backbone events dead-letters list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub dead_letters: Option<i64>,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.checks.iter().all(|check| check.healthy)
    }
}

impl HealthChecks {
    pub fn new(app: &Application) -> Self {
        Self {
            db: app.db.clone(),
            bus: app.events.health.clone(),
            blobs: app.files.blobs.clone(),
            dead_letters: app.events.dead_letters.clone(),
            last_good_blob_check: Arc::default(),
        }
    }

    /// Runs every check at once.
    pub async fn report(&self) -> HealthReport {
        let (database, bus, blobs, dead_letters) = tokio::join!(
            within_timeout("database", async {
                self.db.ping().await.map_err(|e| e.to_string())
            }),
            self.bus_check(),
            within_timeout("blobStorage", self.blob_round_trip()),
            tokio::time::timeout(CHECK_TIMEOUT, self.dead_letters.count()),
        );
        let checks = vec![database, bus, blobs];
        HealthReport {
            status: if checks.iter().all(|c| c.healthy) {
                "Healthy"
            } else {
                "Unhealthy"
            },
            checks,
            dead_letters: dead_letters.ok().and_then(Result::ok),
        }
    }

    /// The bus check alone (e.g. for readiness).
    pub async fn bus_check(&self) -> Check {
        let mut check = within_timeout("eventBus", self.bus.check()).await;
        if let Some(error) = &mut check.error {
            *error = format!("{}: {error}", self.bus.name());
        }
        check
    }

    /// Writes, reads back and deletes a small blob, as upstream's check does.
    async fn blob_round_trip(&self) -> Result<(), String> {
        let fresh = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < BLOB_CHECK_VALIDITY);
        if fresh(
            &self
                .last_good_blob_check
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ) {
            return Ok(());
        }
        let name = format!("health-check-{}", uuid::Uuid::new_v4().simple());
        let content = Bytes::from_static(b"health");
        let mut body = futures::stream::once(async move { Ok(content) }).boxed();
        let result = async {
            self.blobs.put(&name, &mut body, 64).await?;
            let mut blob = self.blobs.get(&name).await?;
            let mut read = Vec::new();
            while let Some(chunk) = blob.content.next().await {
                read.extend_from_slice(&chunk?);
            }
            if read != b"health" {
                return Err(anyhow::anyhow!("the blob read back differs from the one written"));
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        // Remove it whatever happened, so no check leaves a blob behind.
        let deleted = self.blobs.delete(&name).await;
        result.map_err(|e| format!("{e:#}"))?;
        deleted.map_err(|e| e.to_string())?;
        *self
            .last_good_blob_check
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        Ok(())
    }
}

async fn within_timeout(
    name: &'static str,
    check: impl std::future::Future<Output = Result<(), String>>,
) -> Check {
    let result = tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())));
    if let Err(error) = &result {
        tracing::error!(check = name, %error, "health check failed");
    }
    Check {
        name,
        healthy: result.is_ok(),
        error: result.err(),
    }
}

/// Health of the database, the event bus and blob storage
///
/// 200 when every dependency is healthy, otherwise 503 naming the failed one.
#[utoipa::path(
    get, path = "/health", tag = "Health",
    responses(
        (status = 200, description = "Healthy", body = HealthReport),
        (status = 503, description = "A dependency failed", body = HealthReport),
        backbone_web::openapi::BadRequest,
    ),
)]
pub async fn get_health(State(checks): State<HealthChecks>) -> impl IntoResponse {
    let report = checks.report().await;
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report))
}
