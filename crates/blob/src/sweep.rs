//! The safety net behind "metadata and blob never disagree": blobs that no record refers to
//! (an upload whose record was never written because the process died, a delete whose blob
//! removal failed) are found by listing the store and removed.

use std::collections::HashSet;
use std::future::Future;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use crate::BlobStore;

/// Names asked about at once.
const BATCH_SIZE: usize = 200;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Blobs old enough to be considered.
    pub examined: u64,
    /// Of those, the ones no record referred to; they are gone now.
    pub deleted: u64,
}

/// Removes every blob last modified before `older_than` whose name `existing` does not
/// return. `existing` gets a batch of names and answers which of them are still referred to.
///
/// The age limit protects uploads in progress: their blob is written before their record.
pub async fn sweep_orphans<F, Fut>(
    store: &dyn BlobStore,
    older_than: DateTime<Utc>,
    mut existing: F,
) -> anyhow::Result<SweepReport>
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: Future<Output = anyhow::Result<HashSet<String>>>,
{
    let mut report = SweepReport::default();
    let mut listing = store.list();
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    loop {
        let next = listing.try_next().await.context("listing blobs")?;
        let done = next.is_none();
        if let Some(blob) = next.filter(|blob| blob.last_modified < older_than) {
            batch.push(blob.name);
        }
        if batch.len() == BATCH_SIZE || (done && !batch.is_empty()) {
            let names = std::mem::take(&mut batch);
            report.examined += names.len() as u64;
            let referred = existing(names.clone()).await?;
            for name in names.into_iter().filter(|name| !referred.contains(name)) {
                store
                    .delete(&name)
                    .await
                    .with_context(|| format!("deleting orphaned blob {name}"))?;
                tracing::info!(blob = %name, "deleted an orphaned blob");
                report.deleted += 1;
            }
        }
        if done {
            return Ok(report);
        }
    }
}
