//! The readiness checks of this application's dependencies (`/health/ready`).

use std::sync::Arc;

use backbone_blob::{BlobError, BlobStore};
use backbone_db::Database;
use backbone_gateway::{Readiness, ReadinessCheck};

/// The readiness checks: the database and blob storage. Not the broker: events wait in the
/// outbox while it is away and the API goes on answering (`tests/broker_outage.rs`), so taking
/// every replica out of the load balancer would turn a delay into an outage. `/health` names
/// the bus's state instead.
pub fn readiness(db: &Database, blobs: &Arc<dyn BlobStore>) -> Readiness {
    Readiness::new(vec![
        ("database", Arc::new(DatabaseCheck(db.clone()))),
        ("blob_storage", Arc::new(BlobStorageCheck(blobs.clone()))),
    ])
}

struct DatabaseCheck(Database);

#[async_trait::async_trait]
impl ReadinessCheck for DatabaseCheck {
    async fn check(&self) -> anyhow::Result<()> {
        Ok(self.0.ping().await?)
    }
}

/// Asks the store for a blob that does not exist: "not found" is the store answering.
struct BlobStorageCheck(Arc<dyn BlobStore>);

const PROBE_BLOB: &str = "readiness-probe";

#[async_trait::async_trait]
impl ReadinessCheck for BlobStorageCheck {
    async fn check(&self) -> anyhow::Result<()> {
        match self.0.get(PROBE_BLOB).await {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}
