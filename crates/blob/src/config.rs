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
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use crate::ObjectBlobStore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum BlobStorageConfig {
    /// A directory on the local file system.
    Local(LocalConfig),
    /// An Azure Blob Storage container (or Azurite).
    Azure(AzureConfig),
    /// An S3 bucket, addressed path-style (AWS, or any S3-compatible service).
    S3(S3Config),
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// An Azure Storage connection string (`AccountName=…;AccountKey=…[;BlobEndpoint=…]`, or
    /// `UseDevelopmentStorage=true` for a local Azurite). Alternative to `account` + `access_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Secret>,
    /// The blob service URL, e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite.
    /// Default: from the connection string, else `https://<account>.blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub container: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The service URL of an S3-compatible store; default: AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
}

fn default_region() -> String {
    "us-east-1".into()
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

/// Azurite's fixed development account (`UseDevelopmentStorage=true`).
const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
const DEVELOPMENT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEVELOPMENT_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// What an Azure configuration resolves to.
#[derive(Debug, PartialEq)]
struct AzureTarget {
    account: String,
    access_key: String,
    endpoint: String,
}

impl AzureConfig {
    fn target(&self, key: &str) -> anyhow::Result<AzureTarget> {
        let mut account = self.account.clone();
        let mut access_key = self.access_key.as_ref().map(|k| k.expose().to_owned());
        let mut endpoint = self.endpoint.clone();
        if let Some(connection) = &self.connection_string {
            let parsed = parse_connection_string(connection.expose())
                .with_context(|| format!("{key}.connection_string"))?;
            account = account.or(parsed.account);
            access_key = access_key.or(parsed.access_key);
            endpoint = endpoint.or(parsed.endpoint);
        }
        let Some(account) = account.filter(|a| !a.is_empty()) else {
            bail!("{key}.account (or an AccountName in {key}.connection_string) must be set");
        };
        let Some(access_key) = access_key.filter(|k| !k.is_empty()) else {
            bail!("{key}.access_key (or an AccountKey in {key}.connection_string) must be set");
        };
        let endpoint = endpoint.unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
        Ok(AzureTarget {
            account,
            access_key,
            endpoint,
        })
    }
}

#[derive(Debug, Default, PartialEq)]
struct ConnectionString {
    account: Option<String>,
    access_key: Option<String>,
    endpoint: Option<String>,
}

/// `Key=Value;…` as Azure writes it. Values may contain `=` (keys are base64).
fn parse_connection_string(text: &str) -> anyhow::Result<ConnectionString> {
    let mut parsed = ConnectionString::default();
    let (mut protocol, mut suffix) = ("https".to_owned(), "core.windows.net".to_owned());
    let mut development = false;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            bail!(
                "expected Key=Value, found {:?}",
                part.split('=').next().unwrap_or_default()
            );
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "accountname" => parsed.account = Some(value.to_owned()),
            "accountkey" => parsed.access_key = Some(value.to_owned()),
            "blobendpoint" => parsed.endpoint = Some(value.trim_end_matches('/').to_owned()),
            "defaultendpointsprotocol" => protocol = value.to_owned(),
            "endpointsuffix" => suffix = value.to_owned(),
            "usedevelopmentstorage" => development = value.eq_ignore_ascii_case("true"),
            // SAS tokens, queue/table endpoints and the like do not concern blobs we write.
            _ => {}
        }
    }
    if development {
        parsed
            .account
            .get_or_insert_with(|| DEVELOPMENT_ACCOUNT.to_owned());
        parsed
            .access_key
            .get_or_insert_with(|| DEVELOPMENT_KEY.to_owned());
        parsed
            .endpoint
            .get_or_insert_with(|| DEVELOPMENT_ENDPOINT.to_owned());
    }
    if parsed.endpoint.is_none() {
        if let Some(account) = &parsed.account {
            parsed.endpoint = Some(format!("{protocol}://{account}.blob.{suffix}"));
        }
    }
    Ok(parsed)
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
            Self::Azure(azure) => {
                let container = &azure.container;
                let valid_container = (3..=63).contains(&container.len())
                    && container
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !container.starts_with('-')
                    && !container.ends_with('-')
                    && !container.contains("--");
                if !valid_container {
                    bail!("{key}.container must be a container name: 3 to 63 lower-case letters, digits and single hyphens");
                }
                let target = azure.target(key)?;
                check_url(&format!("{key}.endpoint"), &target.endpoint)?;
                self.object_store(Path::new(""))
                    .map(drop)
                    .with_context(|| format!("{key}: invalid Azure settings"))
            }
            Self::S3(s3) => {
                if s3.bucket.is_empty() {
                    bail!("{key}.bucket must be set");
                }
                if s3.region.is_empty() {
                    bail!("{key}.region must not be empty");
                }
                if let Some(endpoint) = &s3.endpoint {
                    check_url(&format!("{key}.endpoint"), endpoint)?;
                }
                if s3.access_key_id.as_ref().is_none_or(|k| k.expose().is_empty()) {
                    bail!("{key}.access_key_id must be set");
                }
                if s3
                    .secret_access_key
                    .as_ref()
                    .is_none_or(|k| k.expose().is_empty())
                {
                    bail!("{key}.secret_access_key must be set");
                }
                self.object_store(Path::new(""))
                    .map(drop)
                    .with_context(|| format!("{key}: invalid S3 settings"))
            }
        }
    }

    /// Opens the configured store. The local directory (default `<data_dir>/blobs`) is created;
    /// an Azure container or S3 bucket must exist already. No request is sent yet.
    pub fn open(&self, data_dir: &Path) -> anyhow::Result<ObjectBlobStore> {
        Ok(ObjectBlobStore::new(self.object_store(data_dir)?))
    }

    /// A short description for the logs (no secrets).
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            Self::Local(local) => format!("local directory {}", local_path(local, data_dir).display()),
            Self::Azure(azure) => format!(
                "Azure container {} at {}",
                azure.container,
                azure
                    .target("")
                    .map(|t| t.endpoint)
                    .unwrap_or_else(|_| "?".into())
            ),
            Self::S3(s3) => format!(
                "S3 bucket {} at {}",
                s3.bucket,
                s3.endpoint.as_deref().unwrap_or("AWS")
            ),
        }
    }

    fn object_store(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
        Ok(match self {
            Self::Local(local) => {
                let path = local_path(local, data_dir);
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("creating the blob directory {}", path.display()))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&path)
                        .with_context(|| format!("opening the blob directory {}", path.display()))?,
                )
            }
            Self::Azure(azure) => {
                let target = azure.target("")?;
                Arc::new(
                    MicrosoftAzureBuilder::new()
                        .with_allow_http(target.endpoint.starts_with("http://"))
                        .with_account(target.account)
                        .with_access_key(target.access_key)
                        .with_endpoint(target.endpoint)
                        .with_container_name(&azure.container)
                        .build()?,
                )
            }
            Self::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_region(&s3.region)
                    .with_bucket_name(&s3.bucket)
                    // Path-style (`<endpoint>/<bucket>/<name>`), as upstream.
                    .with_virtual_hosted_style_request(false);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_endpoint(endpoint);
                }
                if let Some(key) = &s3.access_key_id {
                    builder = builder.with_access_key_id(key.expose());
                }
                if let Some(secret) = &s3.secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose());
                }
                Arc::new(builder.build()?)
            }
        })
    }
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
        assert!(parse(json!({ "provider": "gcs" })).is_err());
        assert!(parse(json!({ "provider": "local", "container": "x" })).is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let config =
            parse(json!({ "provider": "azure", "access_key": "very-secret", "container": "c" })).unwrap();
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn connection_strings_resolve_to_an_endpoint() {
        let parsed = parse_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=a2V5==;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        assert_eq!(parsed.account.as_deref(), Some("acc"));
        assert_eq!(parsed.access_key.as_deref(), Some("a2V5=="));
        assert_eq!(
            parsed.endpoint.as_deref(),
            Some("https://acc.blob.core.windows.net")
        );

        let azurite = parse_connection_string(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;",
        )
        .unwrap();
        assert_eq!(
            azurite.endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );

        let development = parse_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(development.account.as_deref(), Some(DEVELOPMENT_ACCOUNT));
        assert_eq!(development.endpoint.as_deref(), Some(DEVELOPMENT_ENDPOINT));
        assert!(parse_connection_string("AccountName").is_err());
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
