//! Blob storage behind one small trait, [`BlobStore`], so the Files module never knows where its
//! bytes live (spec consumer-api-exchange §7.2, admin-and-services §6.2).
//!
//! [`ObjectBlobStore`] covers three backends through the `object_store` crate: the local file
//! system (the default, under `<data_dir>/blobs`), Azure Blob Storage and S3 (path-style with a
//! custom endpoint, as upstream). [`GcsBlobStore`] speaks Google Cloud Storage's JSON API, which
//! `object_store` does not (it uses GCS's XML API). [`BlobStorageConfig`] picks one.
//!
//! Contents are streamed in both directions: [`BlobStore::put`] reads a byte stream and writes
//! it as it arrives (counting bytes and refusing more than a limit), [`BlobStore::get`] hands
//! back a stream. Neither holds a whole blob in memory.

mod config;
mod gcs;
mod object;
mod sweep;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

pub use config::{AzureConfig, BlobStorageConfig, GcsConfig, LocalConfig, S3Config, Secret};
pub use gcs::GcsBlobStore;
pub use object::ObjectBlobStore;
pub use sweep::{sweep_orphans, SweepReport};

/// A stream of body chunks; an error ends it (a broken upload, a failed download).
pub type ByteStream<'a> = BoxStream<'a, std::io::Result<Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// More than `max_bytes` arrived; nothing was stored. `received` counts the bytes read
    /// before the write stopped (at least `max_bytes + 1`).
    #[error("the blob is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64, received: u64 },
    #[error("blob not found")]
    NotFound,
    /// Names are single path segments of letters, digits, `-`, `_` and `.`.
    #[error("invalid blob name {0:?}")]
    InvalidName(String),
    /// The stream being stored failed (the client's upload broke off); nothing was stored.
    #[error("reading the content failed: {0}")]
    Body(#[source] std::io::Error),
    /// The storage backend failed.
    #[error("blob storage failed: {0}")]
    Storage(#[source] object_store::Error),
}

/// One stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub name: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// A blob being read.
pub struct Blob {
    pub size: u64,
    pub content: ByteStream<'static>,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Where blobs live. Names are flat (no folders); writing an existing name replaces it.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `name` while reading it, and returns the number of bytes written.
    /// More than `max_bytes` is [`BlobError::TooLarge`]: the write stops there and nothing is
    /// left behind, and the rest of `body` stays unread for the caller. Dropping the future
    /// part-way leaves nothing behind either (the partial upload is aborted in the background).
    async fn put(&self, name: &str, body: &mut ByteStream<'_>, max_bytes: u64) -> Result<u64, BlobError>;

    /// Opens a blob for reading.
    async fn get(&self, name: &str) -> Result<Blob, BlobError>;

    /// Removes a blob; removing one that does not exist succeeds.
    async fn delete(&self, name: &str) -> Result<(), BlobError>;

    /// Every stored blob, in no particular order.
    fn list(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>>;
}

/// Whether `name` can be used as a blob name on every backend.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_single_safe_segments() {
        assert!(super::is_valid_name("FILabcdefghijklmnopq"));
        assert!(super::is_valid_name("a-b_c.d"));
        for bad in ["", ".", "..", "a/b", "a#1", "a b", "ä"] {
            assert!(!super::is_valid_name(bad), "{bad}");
        }
    }
}
