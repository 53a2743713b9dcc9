//! The `BlobStore` contract (put, get, delete, list, the size limit, aborted uploads, the orphan
//! sweep) against every backend: the local file system, Azure Blob Storage (Azurite), S3
//! (moto's server) and Google Cloud Storage (gcp-storage-emulator); plus an upload/download
//! round trip through the API on each.
//!
//! The tests start the emulators themselves (see `emulator.rs`). Azurite comes from
//! `tests/blob-emulators` (`npm ci` there), moto and the GCS emulator from PyPI
//! (`pip install 'moto[server]' gcp-storage-emulator`); `.ci/run` installs them. Outside CI a
//! test whose Azurite or moto is not installed is skipped with a message saying so; the GCS
//! tests fail without their emulator.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

#[path = "../api/conformance.rs"]
mod conformance;

mod emulator;
mod gcs_protocol;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use backbone_blob::{
    sweep_orphans, AzureConfig, BlobError, BlobStorageConfig, BlobStore, ByteStream, GcsConfig, LocalConfig,
    S3Config, Secret,
};
use base64::Engine;
use emulator::{skip, Emulator, TempDir};
use futures::{StreamExt, TryStreamExt};
use helpers::{Backend, TestApp};
use reqwest::multipart::{Form, Part};

const MIB: usize = 1024 * 1024;
const CONTAINER: &str = "files";

// --- The contract ----------------------------------------------------------------------------

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..=u8::MAX)
        .cycle()
        .take(len)
        .map(|i| i.wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// `bytes` in 64 KiB chunks, as a request body arrives.
fn body(bytes: &[u8]) -> ByteStream<'static> {
    let chunks: Vec<std::io::Result<Bytes>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks).boxed()
}

async fn read(store: &dyn BlobStore, name: &str) -> Vec<u8> {
    let blob = store.get(name).await.unwrap();
    let chunks: Vec<Bytes> = blob.content.try_collect().await.unwrap();
    let bytes = chunks.concat();
    assert_eq!(blob.size, bytes.len() as u64, "the announced size");
    bytes
}

async fn names(store: &dyn BlobStore) -> Vec<String> {
    let mut names: Vec<String> = store.list().map_ok(|b| b.name).try_collect().await.unwrap();
    names.sort();
    names
}

fn is_not_found<T>(result: Result<T, BlobError>) -> bool {
    matches!(result.err(), Some(BlobError::NotFound))
}

/// Runs every rule of the trait against an empty store.
async fn contract(store: &dyn BlobStore) {
    assert!(names(store).await.is_empty(), "the store starts empty");
    assert!(is_not_found(store.get("FILmissing").await));

    // One request for small blobs, a multipart upload (three parts) for large ones.
    let small = content(1000, 1);
    assert_eq!(
        store.put("FILsmall", &mut body(&small), 1000).await.unwrap(),
        1000
    );
    assert_eq!(read(store, "FILsmall").await, small);
    let large = content(11 * MIB + 5, 2);
    let written = store
        .put("FILlarge", &mut body(&large), 12 * MIB as u64)
        .await
        .unwrap();
    assert_eq!(written, large.len() as u64);
    assert_eq!(read(store, "FILlarge").await, large);

    // Writing a name again replaces the blob.
    let replacement = content(10, 3);
    store
        .put("FILsmall", &mut body(&replacement), 1000)
        .await
        .unwrap();
    assert_eq!(read(store, "FILsmall").await, replacement);

    let before = chrono::Utc::now() - chrono::Duration::minutes(5);
    let listed: Vec<_> = store.list().try_collect().await.unwrap();
    assert_eq!(listed.len(), 2);
    for blob in &listed {
        let expected = if blob.name == "FILlarge" {
            large.len()
        } else {
            replacement.len()
        };
        assert_eq!(blob.size, expected as u64, "{}", blob.name);
        assert!(blob.last_modified > before, "{blob:?}");
    }

    // Over the limit: refused while streaming, nothing stored, neither in one request nor
    // after a multipart upload had begun; the rest of the body is left to the caller.
    let mut stream = body(&content(3000, 4));
    match store.put("FILtoolarge", &mut stream, 2000).await {
        Err(BlobError::TooLarge {
            max_bytes: 2000,
            received,
        }) => assert_eq!(received, 3000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let mut stream = body(&content(8 * MIB, 5));
    match store.put("FILtoolarge", &mut stream, 7 * MIB as u64).await {
        Err(BlobError::TooLarge { received, .. }) => {
            assert_eq!(received, 7 * MIB as u64 + 64 * 1024);
            assert_eq!(stream.count().await, 15, "the rest stays unread");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(is_not_found(store.get("FILtoolarge").await));

    // A body that breaks off after a part was sent leaves nothing behind either.
    let mut broken = body(&content(6 * MIB, 6))
        .chain(futures::stream::once(async {
            Err(std::io::Error::other("client went away"))
        }))
        .boxed();
    let error = store
        .put("FILbroken", &mut broken, 100 * MIB as u64)
        .await
        .unwrap_err();
    assert!(matches!(error, BlobError::Body(_)), "{error:?}");
    assert!(is_not_found(store.get("FILbroken").await));

    // So does a put that is dropped half-way (a cancelled request).
    let (sender, receiver) = futures::channel::mpsc::channel::<std::io::Result<Bytes>>(1);
    let mut receiver: ByteStream<'static> = receiver.boxed();
    let sending = async move {
        let mut sender = sender;
        for chunk in content(7 * MIB, 7).chunks(64 * 1024) {
            futures::SinkExt::send(&mut sender, Ok(Bytes::copy_from_slice(chunk)))
                .await
                .unwrap();
        }
        sender // kept open: the upload never ends
    };
    tokio::select! {
        _ = store.put("FILcancelled", &mut receiver, 100 * MIB as u64) => panic!("the body never ends"),
        _sender = sending => {}
    }
    drop(receiver);
    assert!(is_not_found(store.get("FILcancelled").await));

    assert_eq!(names(store).await, ["FILlarge", "FILsmall"]);

    // Deleting is idempotent.
    store.delete("FILlarge").await.unwrap();
    assert!(is_not_found(store.get("FILlarge").await));
    store.delete("FILlarge").await.unwrap();
    assert!(matches!(
        store.delete("../escape").await,
        Err(BlobError::InvalidName(_))
    ));

    // The sweep removes old blobs nobody refers to, and spares young ones.
    store.put("FILorphan", &mut body(b"orphan"), 100).await.unwrap();
    let referred =
        |names: Vec<String>| async move { Ok(names.into_iter().filter(|n| n == "FILsmall").collect()) };
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let report = sweep_orphans(store, an_hour_ago, referred).await.unwrap();
    assert_eq!((report.examined, report.deleted), (0, 0));
    let in_a_minute = chrono::Utc::now() + chrono::Duration::minutes(1);
    let report = sweep_orphans(store, in_a_minute, referred).await.unwrap();
    assert_eq!((report.examined, report.deleted), (2, 1));
    assert_eq!(names(store).await, ["FILsmall"]);
    assert_eq!(read(store, "FILsmall").await, replacement);
}

/// Upload, download, a refused upload, delete and the sweep through the API, with the app
/// configured for `storage`.
async fn api_round_trip(storage: BlobStorageConfig) {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.files.blob_storage = storage;
        settings.files.max_file_size_bytes = 8 * MIB as u64;
    })
    .await;
    let alice = app.create_identity().await;
    let upload = |bytes: Vec<u8>| {
        let form = Form::new()
            .part("content", Part::bytes(bytes).file_name("cipher.bin"))
            .text("cipherHash", "aGFzaA")
            .text("ownerSignature", "c2lnbmF0dXJl")
            .text("expiresAt", "2999-01-01T00:00:00.000Z")
            .text("encryptedProperties", "cHJvcGVydGllcw==");
        app.http
            .post(format!("{}/api/v2/Files", app.base))
            .bearer_auth(&alice.token)
            .multipart(form)
    };
    let stored = || async { names(app.app.files.blobs.as_ref()).await };

    let bytes = content(6 * MIB + 3, 9);
    let response = app.raw(upload(bytes.clone())).await;
    response.expect_status(201);
    let id = response.result()["id"].as_str().unwrap().to_owned();
    assert_eq!(stored().await, vec![id.clone()]);
    let download = app
        .http
        .get(format!("{}/api/v2/Files/{id}", app.base))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(download.bytes().await.unwrap(), bytes);

    app.raw(upload(content(9 * MIB, 10)))
        .await
        .expect_error(400, "InclusiveBetweenValidator");
    assert_eq!(
        stored().await,
        vec![id.clone()],
        "nothing of the refused upload is kept"
    );

    let mut orphan = body(b"orphan");
    app.app
        .files
        .blobs
        .put("FILorphanorphanorpha", &mut orphan, 100)
        .await
        .unwrap();
    let in_a_minute = chrono::Utc::now() + chrono::Duration::minutes(1);
    let report = app.app.files.sweep_orphaned_blobs(in_a_minute).await.unwrap();
    assert_eq!((report.examined, report.deleted), (2, 1));

    app.delete(&format!("/api/v2/Files/{id}"), Some(&alice.token))
        .await
        .expect_status(204);
    assert!(stored().await.is_empty(), "the blob goes with the file");
}

// --- Local file system -----------------------------------------------------------------------

fn local_config(dir: &TempDir) -> BlobStorageConfig {
    BlobStorageConfig::Local(LocalConfig {
        path: Some(dir.0.join("blobs")),
    })
}

#[tokio::test]
async fn local_file_system_keeps_the_contract() {
    let dir = TempDir::new();
    let store = local_config(&dir).open(&dir.0).unwrap();
    contract(&*store).await;
    // Aborting the cancelled upload's staged file happens in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = std::fs::read_dir(dir.0.join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        if left == ["FILsmall"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "staged parts are left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn local_file_system_through_the_api() {
    let dir = TempDir::new();
    api_round_trip(local_config(&dir)).await;
}

// --- Azure (Azurite) -------------------------------------------------------------------------

/// Azurite's well-known development account.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azurite_binary() -> PathBuf {
    std::env::var_os("AZURITE_BLOB_BIN").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/blob-emulators/node_modules/.bin/azurite-blob")
        },
        PathBuf::from,
    )
}

/// A fresh Azurite with an empty `files` container, configured through a connection string.
async fn azurite() -> Option<(Emulator, BlobStorageConfig)> {
    let binary = azurite_binary();
    if !binary.exists() {
        skip(
            "Azurite",
            &format!(
                "{} is missing; run `npm ci` in tests/blob-emulators",
                binary.display()
            ),
        );
        return None;
    }
    let emulator = Emulator::start("azurite", |port, dir| {
        let mut command = Command::new(&binary);
        command
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
            ])
            .arg(dir)
            .args([
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
                "--disableTelemetry",
            ]);
        command
    })
    .await;
    azure_create_container(emulator.port, CONTAINER).await;
    let connection_string = format!(
        "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};\
         BlobEndpoint=http://127.0.0.1:{}/{AZURITE_ACCOUNT};",
        emulator.port
    );
    let config = BlobStorageConfig::Azure(AzureConfig {
        connection_string: Some(Secret::new(connection_string)),
        container: CONTAINER.into(),
        ..AzureConfig::default()
    });
    config.validate("files.blob_storage").unwrap();
    Some((emulator, config))
}

/// `Create Container`, signed with the account key (Shared Key authorization).
async fn azure_create_container(port: u16, container: &str) {
    use hmac::{Hmac, Mac};
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n\
         /{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&engine.decode(AZURITE_KEY).unwrap()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = engine.encode(mac.finalize().into_bytes());
    let response = reqwest::Client::new()
        .put(format!(
            "http://127.0.0.1:{port}/{AZURITE_ACCOUNT}/{container}?restype=container"
        ))
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header(
            "authorization",
            format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn azure_blob_storage_keeps_the_contract() {
    let Some((_azurite, config)) = azurite().await else {
        return;
    };
    let dir = TempDir::new();
    contract(&*config.open(&dir.0).unwrap()).await;
}

#[tokio::test]
async fn azure_blob_storage_through_the_api() {
    let Some((_azurite, config)) = azurite().await else {
        return;
    };
    api_round_trip(config).await;
}

// --- S3 (moto) -------------------------------------------------------------------------------

fn moto_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MOTO_SERVER_BIN") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("moto_server"))
        .find(|path| path.is_file())
}

/// A fresh moto server with an empty `files` bucket.
async fn moto() -> Option<(Emulator, BlobStorageConfig)> {
    let Some(binary) = moto_binary() else {
        skip(
            "moto",
            "moto_server is not on the PATH; run `pip install 'moto[server]'`",
        );
        return None;
    };
    let emulator = Emulator::start("moto", |port, _| {
        let mut command = Command::new(&binary);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        command
    })
    .await;
    // moto does not check signatures: an unsigned `CreateBucket` will do.
    let response = reqwest::Client::new()
        .put(format!("http://127.0.0.1:{}/{CONTAINER}", emulator.port))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap_or_default()
    );
    let config = BlobStorageConfig::S3(S3Config {
        endpoint: Some(format!("http://127.0.0.1:{}", emulator.port)),
        region: "us-east-1".into(),
        bucket: CONTAINER.into(),
        access_key_id: Some(Secret::new("testing")),
        secret_access_key: Some(Secret::new("testing")),
    });
    config.validate("files.blob_storage").unwrap();
    Some((emulator, config))
}

#[tokio::test]
async fn s3_keeps_the_contract() {
    let Some((_moto, config)) = moto().await else {
        return;
    };
    let dir = TempDir::new();
    contract(&*config.open(&dir.0).unwrap()).await;
}

#[tokio::test]
async fn s3_through_the_api() {
    let Some((_moto, config)) = moto().await else {
        return;
    };
    api_round_trip(config).await;
}

// --- Google Cloud Storage (gcp-storage-emulator) ---------------------------------------------
//
// The store speaks GCS's JSON API (`crates/blob/src/gcs.rs`), which the emulator serves: media
// uploads for blobs up to a chunk (5 MiB), resumable uploads in chunks above, downloads with
// `alt=media`, deletes and paged listing. object_store's own GCS client, which speaks only the
// XML API, got 501 from the emulator for its lists, deletes and multipart uploads. The
// emulator cannot cancel a resumable upload (upstream GCS answers 499 to the DELETE); an
// unfinished one never shows in the bucket either way, which is what the contract checks.

/// The emulator's launcher: `GCS_EMULATOR_BIN`, else `gcp-storage-emulator` on the PATH.
fn gcs_emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GCS_EMULATOR_BIN") {
        return PathBuf::from(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("gcp-storage-emulator"))
        .find(|path| path.is_file())
        .expect(
            "gcp-storage-emulator is not on the PATH (and GCS_EMULATOR_BIN is not set): \
             run `pip install gcp-storage-emulator` (.ci/run does)",
        )
}

/// A fresh emulator keeping its data in a temp dir, with an empty `files` bucket, and the
/// configuration that reaches it (anonymous: the emulator checks no credentials).
async fn gcs_emulator() -> (Emulator, BlobStorageConfig) {
    let binary = gcs_emulator_binary();
    let emulator = Emulator::start("gcp-storage-emulator", |port, dir| {
        let mut command = Command::new(&binary);
        command
            .arg("--data-dir")
            .arg(dir)
            .args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--default-bucket", CONTAINER, "--quiet"]);
        command
    })
    .await;
    let config = BlobStorageConfig::Gcs(GcsConfig {
        bucket: CONTAINER.into(),
        endpoint: Some(format!("http://127.0.0.1:{}", emulator.port)),
        anonymous: true,
        ..GcsConfig::default()
    });
    config.validate("files.blob_storage").unwrap();
    (emulator, config)
}

#[tokio::test]
async fn google_cloud_storage_keeps_the_contract() {
    let (_emulator, config) = gcs_emulator().await;
    let dir = TempDir::new();
    contract(&*config.open(&dir.0).unwrap()).await;
}

#[tokio::test]
async fn google_cloud_storage_through_the_api() {
    let (_emulator, config) = gcs_emulator().await;
    api_round_trip(config).await;
}
