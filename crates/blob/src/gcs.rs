//! [`BlobStore`] for Google Cloud Storage on its JSON API (`/storage/v1`, `/upload/storage/v1`),
//! the API of Google's own client libraries and of upstream's C# Backbone.
//!
//! `object_store`'s GCS client speaks only the XML API, which the emulator the tests use
//! (gcp-storage-emulator) does not serve beyond plain get and put; the JSON API is what both
//! Google and the emulator answer in full. Credentials still come from `object_store`'s GCP
//! credential provider (service account key, application default credentials, the metadata
//! server), so no authentication code lives here; an empty bearer token means anonymous.
//!
//! Uploads: a blob that ends within a chunk (5 MiB) is one media upload; a larger one is a
//! resumable upload sent chunk by chunk (see `upload.rs`). Downloads stream the response body.

mod upload;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::gcp::GcpCredentialProvider;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use crate::{is_valid_name, Blob, BlobError, BlobInfo, BlobStore, ByteStream};

/// Google's storage service, used when no endpoint is configured.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest wait for the next bytes of a response (not for the whole of it: downloads stream).
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A bucket of Google Cloud Storage (or of an emulator at `endpoint`).
#[derive(Clone)]
pub struct GcsBlobStore {
    http: reqwest::Client,
    /// Scheme, host and port, without a trailing slash.
    endpoint: String,
    bucket: String,
    credentials: GcpCredentialProvider,
}

/// Without the credentials: a provider's `Debug` may show its token or key.
impl std::fmt::Debug for GcsBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsBlobStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// What went wrong talking to GCS; carried inside [`BlobError::Storage`].
#[derive(Debug, thiserror::Error)]
enum GcsError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{path} answered {status}: {message}")]
    Status {
        path: String,
        status: StatusCode,
        message: String,
    },
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

fn storage(error: impl Into<GcsError>) -> BlobError {
    BlobError::Storage(object_store::Error::Generic {
        store: "GCS",
        source: Box::new(error.into()),
    })
}

/// One page of `objects.list`; `size` is a decimal string in the JSON API.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectList {
    #[serde(default)]
    items: Vec<ObjectResource>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ObjectResource {
    name: String,
    size: String,
    updated: DateTime<Utc>,
}

impl ObjectResource {
    fn into_info(self) -> Result<BlobInfo, BlobError> {
        let size = self
            .size
            .parse()
            .map_err(|_| storage(GcsError::Protocol(format!("object size {:?}", self.size))))?;
        Ok(BlobInfo {
            name: self.name,
            size,
            last_modified: self.updated,
        })
    }
}

impl GcsBlobStore {
    /// `endpoint` is the service URL (default [`DEFAULT_ENDPOINT`]); nothing is sent yet.
    pub fn new(
        endpoint: Option<&str>,
        bucket: &str,
        credentials: GcpCredentialProvider,
    ) -> Result<Self, BlobError> {
        let http = reqwest::Client::builder()
            // A resumable upload's "308 Resume Incomplete" is no redirect.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(storage)?;
        Ok(Self {
            http,
            endpoint: endpoint
                .unwrap_or(DEFAULT_ENDPOINT)
                .trim_end_matches('/')
                .to_owned(),
            bucket: bucket.to_owned(),
            credentials,
        })
    }

    fn object_url(&self, name: &str) -> Result<String, BlobError> {
        if !is_valid_name(name) {
            return Err(BlobError::InvalidName(name.to_owned()));
        }
        // Valid names need no percent-encoding: letters, digits, '-', '_' and '.'.
        Ok(format!("{}/storage/v1/b/{}/o/{name}", self.endpoint, self.bucket))
    }

    fn upload_url(&self) -> String {
        format!("{}/upload/storage/v1/b/{}/o", self.endpoint, self.bucket)
    }

    /// A request with the provider's bearer token (none when it is empty: anonymous).
    async fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, BlobError> {
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(BlobError::Storage)?;
        let request = self.http.request(method, url);
        Ok(if credential.bearer.is_empty() {
            request
        } else {
            request.bearer_auth(&credential.bearer)
        })
    }

    async fn list_page(&self, page_token: Option<String>) -> Result<ObjectList, BlobError> {
        let url = format!("{}/storage/v1/b/{}/o", self.endpoint, self.bucket);
        let mut request = self
            .request(Method::GET, &url)
            .await?
            .query(&[("fields", "items(name,size,updated),nextPageToken")]);
        if let Some(token) = &page_token {
            request = request.query(&[("pageToken", token)]);
        }
        let response = send(request).await?;
        response.json().await.map_err(storage)
    }
}

/// Sends a request; 404 is [`BlobError::NotFound`], any other non-2xx status an error with
/// the service's message.
async fn send(request: RequestBuilder) -> Result<Response, BlobError> {
    let response = request.send().await.map_err(storage)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::NOT_FOUND {
        return Err(BlobError::NotFound);
    }
    Err(status_error(response).await)
}

async fn status_error(response: Response) -> BlobError {
    const MAX_MESSAGE: usize = 300;
    let status = response.status();
    let path = response.url().path().to_owned();
    let text = response.text().await.unwrap_or_default();
    let message = text.chars().take(MAX_MESSAGE).collect();
    storage(GcsError::Status {
        path,
        status,
        message,
    })
}

#[async_trait::async_trait]
impl BlobStore for GcsBlobStore {
    async fn put(&self, name: &str, body: &mut ByteStream<'_>, max_bytes: u64) -> Result<u64, BlobError> {
        upload::put(self, name, body, max_bytes).await
    }

    async fn get(&self, name: &str) -> Result<Blob, BlobError> {
        let request = self.request(Method::GET, &self.object_url(name)?).await?;
        let response = send(request.query(&[("alt", "media")])).await?;
        let size = response
            .content_length()
            .ok_or_else(|| storage(GcsError::Protocol("a download without Content-Length".into())))?;
        let content = response.bytes_stream().map_err(std::io::Error::other).boxed();
        Ok(Blob { size, content })
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        let request = self.request(Method::DELETE, &self.object_url(name)?).await?;
        match send(request).await {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn list(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        /// The next page to fetch: `None` once the last page was read.
        type Next = Option<Option<String>>;
        let store = self.clone();
        futures::stream::try_unfold(Some(None), move |next: Next| {
            let store = store.clone();
            async move {
                let Some(page_token) = next else {
                    return Ok(None);
                };
                let page = store.list_page(page_token).await?;
                let items = page.items.into_iter().map(ObjectResource::into_info);
                Ok(Some((
                    futures::stream::iter(items),
                    page.next_page_token.map(Some),
                )))
            }
        })
        .try_flatten()
        .boxed()
    }
}

/// Bytes for a request body (a cheap clone of a shared buffer).
fn body_of(bytes: &Bytes) -> reqwest::Body {
    reqwest::Body::from(bytes.clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::gcp::GcpCredential;
    use object_store::StaticCredentialProvider;

    use super::GcsBlobStore;

    #[test]
    fn debug_output_leaves_the_credentials_out() {
        let token = GcpCredential {
            bearer: "very-secret-token".into(),
        };
        let store = GcsBlobStore::new(None, "files", Arc::new(StaticCredentialProvider::new(token))).unwrap();
        let debug = format!("{store:?}");
        assert!(
            debug.contains("storage.googleapis.com") && debug.contains("files"),
            "{debug}"
        );
        assert!(!debug.contains("very-secret-token"), "{debug}");
    }
}
