//! Streaming uploads to GCS. Bytes are collected until more than [`CHUNK_SIZE`] arrived; a
//! blob that ends before is one media upload, a larger one becomes a resumable upload whose
//! chunks are sent as they fill (one at a time: a resumable session takes its bytes in order).
//! The object appears only when the last chunk, which names the total, is stored; a refused,
//! broken or dropped upload cancels its session, so nothing of it becomes visible.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, Response, StatusCode};

use super::{body_of, send, status_error, storage, GcsBlobStore, GcsError};
use crate::{BlobError, ByteStream};

/// Size of one chunk of a resumable upload: a multiple of 256 KiB, as GCS requires of every
/// chunk but the last, and the other backends' part size, so an upload holds about as much.
pub const CHUNK_SIZE: usize = 5 * 1024 * 1024;

/// GCS's "308 Resume Incomplete": the chunk is stored, the object not finished.
const RESUME_INCOMPLETE: StatusCode = StatusCode::PERMANENT_REDIRECT;
/// How often a chunk that GCS stored only in part is sent again (from where it stopped).
const MAX_CHUNK_ATTEMPTS: usize = 5;

pub(super) async fn put(
    store: &GcsBlobStore,
    name: &str,
    body: &mut ByteStream<'_>,
    max_bytes: u64,
) -> Result<u64, BlobError> {
    store.object_url(name)?; // checks the name before anything is read
    let mut session = None;
    let result = stream_into(store, name, body, max_bytes, &mut session).await;
    if let (Err(_), Some(session)) = (&result, session) {
        session.cancel().await;
    }
    result
}

/// Reads `body` into a media upload or, once it outgrows a chunk, into `session`.
async fn stream_into(
    store: &GcsBlobStore,
    name: &str,
    body: &mut ByteStream<'_>,
    max_bytes: u64,
    session: &mut Option<Session>,
) -> Result<u64, BlobError> {
    let mut written: u64 = 0;
    let mut pending = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(BlobError::TooLarge {
                max_bytes,
                received: written,
            });
        }
        pending.extend_from_slice(&chunk);
        // Strictly more than a chunk: the last chunk goes out with the total, after the end.
        while pending.len() > CHUNK_SIZE {
            let part = pending.split_to(CHUNK_SIZE).freeze();
            if session.is_none() {
                *session = Some(Session::start(store, name).await?);
            }
            if let Some(open) = session.as_mut() {
                open.send_chunk(part).await?;
            }
        }
    }
    let last = pending.freeze();
    match session.take() {
        Some(open) => open.finish(last).await?,
        None => media_upload(store, name, last).await?,
    }
    Ok(written)
}

async fn media_upload(store: &GcsBlobStore, name: &str, content: Bytes) -> Result<(), BlobError> {
    let request = store
        .request(Method::POST, &store.upload_url())
        .await?
        .query(&[("uploadType", "media"), ("name", name)])
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body_of(&content));
    send(request).await.map(drop)
}

/// An open resumable upload; cancelled when dropped unfinished.
struct Session {
    http: reqwest::Client,
    /// The session URI (it authorises the chunks itself); `None` once finished or cancelled.
    uri: Option<String>,
    /// Bytes GCS has stored so far.
    offset: u64,
}

impl Session {
    async fn start(store: &GcsBlobStore, name: &str) -> Result<Self, BlobError> {
        let request = store
            .request(Method::POST, &store.upload_url())
            .await?
            .query(&[("uploadType", "resumable"), ("name", name)])
            .header("X-Upload-Content-Type", "application/octet-stream")
            .header(CONTENT_LENGTH, 0);
        let response = send(request).await?;
        let uri = response
            .headers()
            .get(LOCATION)
            .and_then(|uri| uri.to_str().ok())
            .ok_or_else(|| storage(GcsError::Protocol("no resumable session URI".into())))?;
        Ok(Self {
            http: store.http.clone(),
            uri: Some(uri.to_owned()),
            offset: 0,
        })
    }

    fn uri(&self) -> &str {
        self.uri.as_deref().expect("an open session")
    }

    /// Sends a chunk that is not the last one, again from where GCS stopped if it kept less.
    async fn send_chunk(&mut self, mut part: Bytes) -> Result<(), BlobError> {
        let end = self.offset + part.len() as u64;
        for _ in 0..MAX_CHUNK_ATTEMPTS {
            let range = format!("bytes {}-{}/*", self.offset, end - 1);
            let response = self.put_range(range, &part).await?;
            if response.status() != RESUME_INCOMPLETE {
                return Err(unexpected(&response, "a chunk before the last"));
            }
            let stored = stored_bytes(&response)?;
            if stored == end {
                self.offset = end;
                return Ok(());
            }
            if !(self.offset..end).contains(&stored) {
                return Err(unexpected(&response, "the stored range"));
            }
            part = part.slice(usize::try_from(stored - self.offset).expect("within the chunk")..);
            self.offset = stored;
        }
        Err(storage(GcsError::Protocol(format!(
            "the chunk ending at byte {end} was not stored after {MAX_CHUNK_ATTEMPTS} attempts"
        ))))
    }

    /// Sends the last chunk with the total size, which finishes the object.
    async fn finish(mut self, last: Bytes) -> Result<(), BlobError> {
        let total = self.offset + last.len() as u64;
        let range = if last.is_empty() {
            format!("bytes */{total}")
        } else {
            format!("bytes {}-{}/{total}", self.offset, total - 1)
        };
        let response = self.put_range(range, &last).await?;
        if !response.status().is_success() {
            return Err(unexpected(&response, "the last chunk"));
        }
        self.uri = None;
        Ok(())
    }

    /// PUTs bytes to the session; "Resume Incomplete" and 2xx are answers, anything else an error.
    async fn put_range(&self, range: String, part: &Bytes) -> Result<Response, BlobError> {
        let response = self
            .http
            .put(self.uri())
            .header(CONTENT_RANGE, range)
            .body(body_of(part))
            .send()
            .await
            .map_err(storage)?;
        if response.status() == RESUME_INCOMPLETE || response.status().is_success() {
            Ok(response)
        } else {
            Err(status_error(response).await)
        }
    }

    async fn cancel(mut self) {
        if let Some(uri) = self.uri.take() {
            cancel(self.http.clone(), uri).await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropped half-way (the request was cancelled): cancel in the background.
        if let Some(uri) = self.uri.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(cancel(self.http.clone(), uri));
            }
        }
    }
}

/// Ends a session: GCS drops what it received and answers 499. Best effort: a session that
/// is not cancelled holds no object either, and GCS discards it after a week (the emulator,
/// which has no cancellation, keeps it out of the bucket as well).
async fn cancel(http: reqwest::Client, uri: String) {
    match http.delete(&uri).header(CONTENT_LENGTH, 0).send().await {
        Ok(response) if response.status().as_u16() == 499 => {}
        Ok(response) => tracing::debug!(status = %response.status(), "cancelling a GCS upload"),
        Err(error) => tracing::debug!(%error, "cancelling a GCS upload failed"),
    }
}

/// The bytes stored so far, from a "Resume Incomplete" answer's `Range: bytes=0-LAST` (none
/// without the header).
fn stored_bytes(response: &Response) -> Result<u64, BlobError> {
    let Some(range) = response.headers().get(RANGE) else {
        return Ok(0);
    };
    range
        .to_str()
        .ok()
        .and_then(|range| range.strip_prefix("bytes=0-"))
        .and_then(|last| last.parse::<u64>().ok())
        .map(|last| last + 1)
        .ok_or_else(|| storage(GcsError::Protocol(format!("stored range {range:?}"))))
}

fn unexpected(response: &Response, what: &str) -> BlobError {
    storage(GcsError::Protocol(format!("{} for {what}", response.status())))
}
