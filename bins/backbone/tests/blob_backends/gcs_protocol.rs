//! What Google Cloud Storage may do and gcp-storage-emulator never does: list in pages (the
//! emulator returns every object on one page), and store only part of a chunk of a resumable
//! upload (the emulator keeps each chunk whole). A stand-in on a free port answers as GCS's
//! JSON API documentation says, for just these requests.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use backbone_blob::{BlobStorageConfig, GcsConfig};
use futures::TryStreamExt;
use serde_json::json;

use super::{body, content, TempDir, MIB};

/// Bytes of a chunk the stand-in keeps the first time: GCS stores in steps of 256 KiB.
const KEPT_OF_FIRST_CHUNK: usize = 256 * 1024;

#[derive(Default)]
struct Upload {
    received: Vec<u8>,
    chunks: usize,
    finished: Option<Vec<u8>>,
}

type Shared = Arc<Mutex<Upload>>;

async fn list(Query(query): Query<Vec<(String, String)>>) -> Json<serde_json::Value> {
    let token = query
        .iter()
        .find(|(key, _)| key == "pageToken")
        .map(|(_, value)| value.as_str());
    let object = |name: &str| json!({ "name": name, "size": "3", "updated": "2026-12-01T10:00:00.123Z" });
    Json(match token {
        None => json!({ "items": [object("FILone"), object("FILtwo")], "nextPageToken": "page-2" }),
        Some("page-2") => json!({ "items": [], "nextPageToken": "page-3" }),
        Some("page-3") => json!({ "items": [object("FILthree")] }),
        Some(other) => panic!("unknown page token {other}"),
    })
}

async fn start_upload(headers: HeaderMap) -> Response {
    let host = headers["host"].to_str().unwrap().to_owned();
    (
        StatusCode::OK,
        [("location", format!("http://{host}/session/upload-1"))],
    )
        .into_response()
}

/// Takes a chunk (`Content-Range: bytes START-END/TOTAL|*`); keeps only part of the first.
async fn take_chunk(
    State(upload): State<Shared>,
    Path(_session): Path<String>,
    headers: HeaderMap,
    chunk: Bytes,
) -> Response {
    let range = headers["content-range"].to_str().unwrap();
    let (span, total) = range.strip_prefix("bytes ").unwrap().split_once('/').unwrap();
    let start: usize = span.split_once('-').unwrap().0.parse().unwrap();
    let mut upload = upload.lock().unwrap();
    assert_eq!(
        start,
        upload.received.len(),
        "the chunk starts where the stored bytes end"
    );
    upload.chunks += 1;
    let keep = if upload.chunks == 1 {
        KEPT_OF_FIRST_CHUNK
    } else {
        chunk.len()
    };
    upload.received.extend_from_slice(&chunk[..keep]);
    if total != "*" && upload.received.len() == total.parse::<usize>().unwrap() {
        upload.finished = Some(upload.received.clone());
        return Json(json!({ "name": "FILresumed" })).into_response();
    }
    let stored = format!("bytes=0-{}", upload.received.len() - 1);
    (StatusCode::PERMANENT_REDIRECT, [("range", stored)]).into_response()
}

async fn stand_in() -> (tokio::task::JoinHandle<()>, Shared, BlobStorageConfig) {
    let upload = Shared::default();
    let app = Router::new()
        .route("/storage/v1/b/files/o", get(list))
        .route("/upload/storage/v1/b/files/o", post(start_upload))
        .route("/session/{id}", put(take_chunk))
        .with_state(upload.clone())
        // Chunks are 5 MiB, above axum's default limit.
        .layer(DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = BlobStorageConfig::Gcs(GcsConfig {
        bucket: "files".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        anonymous: true,
        ..GcsConfig::default()
    });
    (server, upload, config)
}

#[tokio::test]
async fn google_cloud_storage_lists_every_page() {
    let (server, _, config) = stand_in().await;
    let dir = TempDir::new();
    let store = config.open(&dir.0).unwrap();
    let listed: Vec<_> = store.list().try_collect().await.unwrap();
    let names: Vec<_> = listed.iter().map(|blob| blob.name.as_str()).collect();
    assert_eq!(
        names,
        ["FILone", "FILtwo", "FILthree"],
        "an empty page in between ends nothing"
    );
    assert_eq!(listed[0].size, 3);
    assert_eq!(
        listed[0].last_modified.to_rfc3339(),
        "2026-12-01T10:00:00.123+00:00"
    );
    server.abort();
}

#[tokio::test]
async fn google_cloud_storage_resends_what_a_resumable_upload_did_not_keep() {
    let (server, upload, config) = stand_in().await;
    let dir = TempDir::new();
    let store = config.open(&dir.0).unwrap();
    let bytes = content(11 * MIB, 11);
    let written = store
        .put("FILresumed", &mut body(&bytes), 12 * MIB as u64)
        .await
        .unwrap();
    assert_eq!(written, bytes.len() as u64);
    let upload = upload.lock().unwrap();
    assert_eq!(
        upload.finished.as_deref(),
        Some(bytes.as_slice()),
        "every byte, in order"
    );
    assert!(upload.chunks > 3, "the rest of the first chunk was sent again");
    server.abort();
}
