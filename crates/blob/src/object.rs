//! [`BlobStore`] on top of `object_store`, which speaks to the local file system, Azure Blob
//! Storage and S3 alike.
//!
//! Writing streams: chunks are collected until [`PART_SIZE`]; a blob that ends before that is
//! written with one request, a larger one becomes a multipart upload (S3 multipart upload, Azure
//! block list, a staged file locally) with at most [`MAX_PARTS_IN_FLIGHT`] parts being sent at
//! once. So an upload holds at most about `PART_SIZE * (MAX_PARTS_IN_FLIGHT + 1)` bytes in
//! memory, whatever its size. A multipart upload that fails, is refused or is dropped half-way
//! is aborted, so no partial blob becomes visible.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::{is_valid_name, Blob, BlobError, BlobInfo, BlobStore, ByteStream};

/// Size of one part of a multipart upload. S3 needs at least 5 MiB for all parts but the last.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of one upload sent concurrently.
pub const MAX_PARTS_IN_FLIGHT: usize = 2;

#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
}

impl ObjectBlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    fn path(name: &str) -> Result<Path, BlobError> {
        if is_valid_name(name) {
            Ok(Path::from(name))
        } else {
            Err(BlobError::InvalidName(name.to_owned()))
        }
    }

    /// Moves the buffered chunks into a multipart upload.
    async fn start_multipart(&self, path: &Path, buffered: Vec<Bytes>) -> Result<Upload, BlobError> {
        let upload = self.store.put_multipart(path).await.map_err(storage)?;
        let mut upload = Upload(Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)));
        for chunk in buffered {
            upload.put(chunk).await?;
        }
        Ok(upload)
    }
}

fn storage(error: object_store::Error) -> BlobError {
    match error {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Storage(other),
    }
}

/// A multipart upload that is aborted unless it was finished.
struct Upload(Option<WriteMultipart>);

impl Upload {
    async fn put(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        let upload = self.0.as_mut().expect("an open upload");
        // Back pressure: wait for a part to finish before buffering more.
        upload
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(storage)?;
        upload.put(chunk);
        Ok(())
    }

    async fn finish(mut self) -> Result<(), BlobError> {
        let upload = self.0.take().expect("an open upload");
        upload.finish().await.map_err(storage)?;
        Ok(())
    }

    async fn abort(mut self) {
        if let Some(upload) = self.0.take() {
            if let Err(error) = upload.abort().await {
                tracing::warn!(%error, "aborting a multipart upload failed");
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Dropped half-way (the request was cancelled): abort in the background.
        if let Some(upload) = self.0.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(error) = upload.abort().await {
                        tracing::warn!(%error, "aborting a cancelled multipart upload failed");
                    }
                });
            }
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, name: &str, body: &mut ByteStream<'_>, max_bytes: u64) -> Result<u64, BlobError> {
        let path = Self::path(name)?;
        let mut written: u64 = 0;
        // Chunks held back until it is clear whether one request is enough.
        let mut buffered: Vec<Bytes> = Vec::new();
        let mut buffered_len = 0;
        let mut upload: Option<Upload> = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    if let Some(upload) = upload {
                        upload.abort().await;
                    }
                    return Err(BlobError::Body(error));
                }
            };
            written += chunk.len() as u64;
            if written > max_bytes {
                if let Some(upload) = upload {
                    upload.abort().await;
                }
                return Err(BlobError::TooLarge {
                    max_bytes,
                    received: written,
                });
            }
            if let Some(upload) = upload.as_mut() {
                upload.put(chunk).await?;
            } else {
                buffered_len += chunk.len();
                buffered.push(chunk);
                if buffered_len >= PART_SIZE {
                    let started = self.start_multipart(&path, std::mem::take(&mut buffered)).await?;
                    upload = Some(started);
                }
            }
        }
        if let Some(upload) = upload {
            upload.finish().await?;
        } else {
            let payload: PutPayload = buffered.into_iter().collect();
            self.store.put(&path, payload).await.map_err(storage)?;
        }
        Ok(written)
    }

    async fn get(&self, name: &str) -> Result<Blob, BlobError> {
        let result = self.store.get(&Self::path(name)?).await.map_err(storage)?;
        let size = result.meta.size;
        let content = result.into_stream().map_err(std::io::Error::other).boxed();
        Ok(Blob { size, content })
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        match self.store.delete(&Self::path(name)?).await.map_err(storage) {
            Ok(()) | Err(BlobError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn list(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        self.store
            .list(None)
            .map(|meta| {
                meta.map(|meta| BlobInfo {
                    name: meta.location.to_string(),
                    size: meta.size,
                    last_modified: meta.last_modified,
                })
                .map_err(storage)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn store() -> ObjectBlobStore {
        ObjectBlobStore::new(Arc::new(InMemory::new()))
    }

    fn body(chunks: Vec<std::io::Result<Bytes>>) -> ByteStream<'static> {
        futures::stream::iter(chunks).boxed()
    }

    async fn read(store: &ObjectBlobStore, name: &str) -> Vec<u8> {
        let blob = store.get(name).await.unwrap();
        let chunks: Vec<Bytes> = blob.content.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn small_and_multipart_blobs_round_trip() {
        let store = store();
        let mut small = body(vec![Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"c"))]);
        assert_eq!(store.put("small", &mut small, 3).await.unwrap(), 3);
        assert_eq!(read(&store, "small").await, b"abc");

        let big: Vec<u8> = (0..=250).cycle().take(PART_SIZE * 2 + 17).collect();
        let chunks = big
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let written = store
            .put("big", &mut body(chunks), big.len() as u64)
            .await
            .unwrap();
        assert_eq!(written, big.len() as u64);
        assert_eq!(read(&store, "big").await, big);
        assert_eq!(store.get("big").await.unwrap().size, big.len() as u64);
    }

    #[tokio::test]
    async fn too_large_stops_reading_and_stores_nothing() {
        let store = store();
        let mut stream = body(vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"def")),
            Ok(Bytes::from_static(b"ghi")),
        ]);
        let error = store.put("x", &mut stream, 5).await.unwrap_err();
        assert!(
            matches!(
                error,
                BlobError::TooLarge {
                    max_bytes: 5,
                    received: 6
                }
            ),
            "{error:?}"
        );
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"ghi"));
        assert!(matches!(store.get("x").await, Err(BlobError::NotFound)));
        assert_eq!(store.list().count().await, 0);
    }

    #[tokio::test]
    async fn a_broken_body_stores_nothing() {
        let store = store();
        let mut stream = body(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("reset")),
        ]);
        let error = store.put("x", &mut stream, 100).await.unwrap_err();
        assert!(matches!(error, BlobError::Body(_)), "{error:?}");
        assert!(matches!(store.get("x").await, Err(BlobError::NotFound)));
    }

    #[tokio::test]
    async fn delete_is_idempotent_and_names_are_checked() {
        let store = store();
        store
            .put("x", &mut body(vec![Ok(Bytes::from_static(b"a"))]), 1)
            .await
            .unwrap();
        store.delete("x").await.unwrap();
        store.delete("x").await.unwrap();
        assert!(matches!(store.get("x").await, Err(BlobError::NotFound)));
        assert!(matches!(
            store.delete("../x").await,
            Err(BlobError::InvalidName(_))
        ));
    }
}
