//! The `[files]` section of the configuration, and the service built from it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use backbone_blob::BlobStorageConfig;
use backbone_core::paging::PagingLimits;
use backbone_core::SharedClock;
use serde::{Deserialize, Serialize};

use crate::domain::DEFAULT_MAX_FILE_SIZE;
use crate::{FilesService, FilesStore, QuotaGate};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest file content accepted, in bytes (upstream: 10 MiB). The upload route's body
    /// limit follows it (plus room for the form fields).
    pub max_file_size_bytes: u64,
    /// Where file contents live: `provider = "local"` (default, `<data_dir>/blobs`), `"azure"`
    /// or `"s3"`; see `config/backbone.example.toml`.
    pub blob_storage: BlobStorageConfig,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_size_bytes: DEFAULT_MAX_FILE_SIZE,
            blob_storage: BlobStorageConfig::default(),
        }
    }
}

impl FilesConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_file_size_bytes < 1 {
            bail!("files.max_file_size_bytes must be at least 1");
        }
        self.blob_storage.validate("files.blob_storage")
    }
}

impl FilesService {
    /// The service over the configured blob storage (a local one under `data_dir` unless
    /// configured otherwise).
    pub fn new(
        config: &FilesConfig,
        data_dir: &Path,
        store: FilesStore,
        quotas: Arc<dyn QuotaGate>,
        clock: SharedClock,
        paging: PagingLimits,
    ) -> anyhow::Result<Self> {
        let blob_storage = &config.blob_storage;
        let blobs = blob_storage.open(data_dir).context("files.blob_storage")?;
        tracing::info!(
            "file contents are kept in the {}",
            blob_storage.describe(data_dir)
        );
        Ok(Self {
            store,
            blobs,
            quotas,
            clock,
            paging,
            max_file_size: config.max_file_size_bytes,
        })
    }
}
