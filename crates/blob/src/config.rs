//! Which blob storage to use (the `[files.blob_storage]` section of the configuration).
//!
//! ```toml
//! [files.blob_storage]
//! provider = "local"               # default; path defaults to <data_dir>/blobs
//!
//! [files.blob_storage]
//! provider = "azure"
//! connection_string = "DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…"
//! container = "files"
//!
//! [files.blob_storage]
//! provider = "s3"
//! endpoint = "https://s3.example.com"   # path-style requests, as upstream
//! region = "eu-central-1"
//! bucket = "files"
//! access_key_id = "…"
//! secret_access_key = "…"
//!
//! [files.blob_storage]
//! provider = "gcs"
//! bucket = "files"
//! service_account_json = "{…}"          # default: Google's application default credentials
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use crate::{BlobStore, ObjectBlobStore};

mod azure;
mod gcs;
mod s3;

pub use azure::AzureConfig;
pub use gcs::GcsConfig;
pub use s3::S3Config;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum BlobStorageConfig {
    /// A directory on the local file system.
    Local(LocalConfig),
    /// An Azure Blob Storage container (or Azurite).
    Azure(AzureConfig),
    /// An S3 bucket, addressed path-style (AWS, or any S3-compatible service).
    S3(S3Config),
    /// A Google Cloud Storage bucket (or an emulator).
    Gcs(GcsConfig),
}

impl Default for BlobStorageConfig {
    fn default() -> Self {
        Self::Local(LocalConfig::default())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    /// Default: `<data_dir>/blobs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// A credential: never printed, and read from any scalar (environment values that look like
/// numbers arrive as numbers).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Integer(i128),
            Float(f64),
            Bool(bool),
        }
        Ok(Self(match Scalar::deserialize(deserializer)? {
            Scalar::Text(text) => text,
            Scalar::Integer(number) => number.to_string(),
            Scalar::Float(number) => number.to_string(),
            Scalar::Bool(value) => value.to_string(),
        }))
    }
}

fn check_url(key: &str, url: &str) -> anyhow::Result<()> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("{key} must be an http:// or https:// URL"))?;
    if !(scheme == "http" || scheme == "https") || rest.is_empty() {
        bail!("{key} must be an http:// or https:// URL");
    }
    Ok(())
}

impl BlobStorageConfig {
    /// Checks the settings without touching the network; `key` is where the section lives in
    /// the configuration (e.g. `files.blob_storage`), for the messages.
    pub fn validate(&self, key: &str) -> anyhow::Result<()> {
        match self {
            Self::Local(local) => {
                if local.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                    bail!("{key}.path must not be empty");
                }
                Ok(())
            }
            Self::Azure(azure) => azure.validate(key),
            Self::S3(s3) => s3.validate(key),
            Self::Gcs(gcs) => gcs.validate(key),
        }
    }

    /// Opens the configured store. The local directory (default `<data_dir>/blobs`) is created;
    /// an Azure container or an S3 or GCS bucket must exist already. No request is sent yet.
    pub fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn BlobStore>> {
        let objects = |store| -> Arc<dyn BlobStore> { Arc::new(ObjectBlobStore::new(store)) };
        Ok(match self {
            Self::Local(local) => objects(open_local(&local_path(local, data_dir))?),
            Self::Azure(azure) => objects(azure.object_store()?),
            Self::S3(s3) => objects(s3.object_store()?),
            // object_store's GCS client speaks only the XML API (see gcs.rs).
            Self::Gcs(gcs) => Arc::new(gcs.blob_store()?),
        })
    }

    /// A short description for the logs (no secrets).
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            Self::Local(local) => format!("local directory {}", local_path(local, data_dir).display()),
            Self::Azure(azure) => format!("Azure container {} at {}", azure.container, azure.endpoint()),
            Self::S3(s3) => format!(
                "S3 bucket {} at {}",
                s3.bucket,
                s3.endpoint.as_deref().unwrap_or("AWS")
            ),
            Self::Gcs(gcs) => format!(
                "Google Cloud Storage bucket {} at {}",
                gcs.bucket,
                gcs.endpoint.as_deref().unwrap_or("Google")
            ),
        }
    }
}

fn open_local(path: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(path)
        .with_context(|| format!("creating the blob directory {}", path.display()))?;
    Ok(Arc::new(LocalFileSystem::new_with_prefix(path).with_context(
        || format!("opening the blob directory {}", path.display()),
    )?))
}

fn local_path(local: &LocalConfig, data_dir: &Path) -> PathBuf {
    local.path.clone().unwrap_or_else(|| data_dir.join("blobs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<BlobStorageConfig, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn providers_are_tagged_and_unknown_keys_refused() {
        assert_eq!(
            parse(json!({ "provider": "local" })).unwrap(),
            BlobStorageConfig::default()
        );
        let s3 = parse(json!({
            "provider": "s3", "endpoint": "http://127.0.0.1:9000", "bucket": "files",
            "access_key_id": 12345, "secret_access_key": "secret"
        }))
        .unwrap();
        let BlobStorageConfig::S3(s3) = s3 else { panic!() };
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(
            s3.access_key_id.as_ref().unwrap().expose(),
            "12345",
            "numbers are text"
        );
        assert!(parse(json!({ "provider": "s3", "bucket": "b", "buckte": "c" })).is_err());
        let BlobStorageConfig::Gcs(gcs) = parse(json!({ "provider": "gcs", "bucket": "files" })).unwrap()
        else {
            panic!()
        };
        assert!(!gcs.anonymous);
        assert!(parse(json!({ "provider": "ftp" })).is_err());
        assert!(parse(json!({ "provider": "gcs", "bucket_name": "files" })).is_err());
        assert!(parse(json!({ "provider": "local", "container": "x" })).is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let config =
            parse(json!({ "provider": "azure", "access_key": "very-secret", "container": "c" })).unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
        let config =
            parse(json!({ "provider": "gcs", "service_account_json": "{\"private_key\": \"very-secret\"}" }))
                .unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn validation_names_the_key() {
        let message = |value| {
            parse(value)
                .unwrap()
                .validate("files.blob_storage")
                .unwrap_err()
                .to_string()
        };
        assert!(message(json!({ "provider": "s3" })).contains("files.blob_storage.bucket"));
        assert!(
            message(json!({ "provider": "s3", "bucket": "b", "access_key_id": "k" }))
                .contains("files.blob_storage.secret_access_key")
        );
        assert!(
            message(json!({ "provider": "s3", "bucket": "b", "endpoint": "localhost:9000" }))
                .contains("files.blob_storage.endpoint")
        );
        assert!(message(json!({ "provider": "azure", "container": "Files" }))
            .contains("files.blob_storage.container"));
        assert!(message(json!({ "provider": "azure", "container": "files" }))
            .contains("files.blob_storage.account"));
        assert!(message(
            json!({ "provider": "azure", "container": "files", "connection_string": "AccountName=a" })
        )
        .contains("files.blob_storage.access_key"));
        assert!(message(json!({ "provider": "local", "path": "" })).contains("files.blob_storage.path"));

        for valid in [
            json!({ "provider": "local" }),
            json!({ "provider": "azure", "container": "files", "connection_string": "UseDevelopmentStorage=true" }),
            json!({ "provider": "s3", "bucket": "b", "endpoint": "http://127.0.0.1:9000",
                    "access_key_id": "k", "secret_access_key": "s" }),
        ] {
            parse(valid.clone())
                .unwrap()
                .validate("files.blob_storage")
                .unwrap_or_else(|e| panic!("{valid}: {e:#}"));
        }
    }

    #[test]
    fn local_storage_defaults_to_the_data_directory() {
        let config = BlobStorageConfig::default();
        assert_eq!(
            config.describe(Path::new("/data")),
            format!("local directory {}", Path::new("/data").join("blobs").display())
        );
    }
}
