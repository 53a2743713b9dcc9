//! Google Cloud Storage: `provider = "gcs"`, as upstream's `GoogleCloudStorage` settings
//! (`BucketName`, and `ServiceAccountJson` or else Google's application default credentials).

use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::gcp::{GcpCredential, GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::StaticCredentialProvider;
use serde::{Deserialize, Serialize};

use super::{check_url, Secret};
use crate::GcsBlobStore;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsConfig {
    #[serde(default)]
    pub bucket: String,
    /// The content of a service account key file (JSON). Default: the application default
    /// credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's, or the metadata server on
    /// Google Cloud), as upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_json: Option<Secret>,
    /// The storage service URL; default `https://storage.googleapis.com`. An emulator's URL,
    /// say, `http://127.0.0.1:4443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Sends requests without credentials (an empty bearer token), for an emulator that
    /// checks none.
    #[serde(default)]
    pub anonymous: bool,
}

impl GcsConfig {
    pub(super) fn validate(&self, key: &str) -> anyhow::Result<()> {
        if !is_bucket_name(&self.bucket) {
            bail!(
                "{key}.bucket must be a bucket name: 3 to 63 lower-case letters, digits, '-', '_' \
                 (and '.' between parts), starting and ending with a letter or digit"
            );
        }
        if let Some(endpoint) = &self.endpoint {
            check_url(&format!("{key}.endpoint"), endpoint)?;
        }
        let has_key = self
            .service_account_json
            .as_ref()
            .is_some_and(|k| !k.expose().is_empty());
        if self.anonymous && has_key {
            bail!("{key}: set either service_account_json or anonymous, not both");
        }
        self.credentials_client().map(drop).with_context(|| {
            if has_key {
                format!("{key}.service_account_json is not a service account key")
            } else {
                format!("{key}: invalid Google Cloud Storage settings")
            }
        })
    }

    /// The store on GCS's JSON API, with `object_store`'s credential provider.
    pub(super) fn blob_store(&self) -> anyhow::Result<GcsBlobStore> {
        let credentials = self.credentials_client()?.credentials().clone();
        Ok(GcsBlobStore::new(
            self.endpoint.as_deref(),
            &self.bucket,
            credentials,
        )?)
    }

    /// `object_store`'s GCS client, built only for its credential provider: it reads the
    /// service account key or finds the application default credentials, and refreshes tokens.
    fn credentials_client(&self) -> anyhow::Result<GoogleCloudStorage> {
        let mut builder = GoogleCloudStorageBuilder::new().with_bucket_name(&self.bucket);
        if self.anonymous {
            // An empty token, which the store does not send. Not `with_skip_signature`: its
            // provider would still ask the metadata server for a token.
            let empty = GcpCredential {
                bearer: String::new(),
            };
            builder = builder.with_credentials(Arc::new(StaticCredentialProvider::new(empty)));
        }
        if let Some(json) = self
            .service_account_json
            .as_ref()
            .filter(|k| !k.expose().is_empty())
        {
            builder = builder.with_service_account_key(json.expose());
        }
        Ok(builder.build()?)
    }
}

/// Google's bucket naming rules (names with dots may be longer, up to 222 characters, with
/// parts of at most 63).
fn is_bucket_name(name: &str) -> bool {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    let alphanumeric = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let max_len = if name.contains('.') { 222 } else { 63 };
    valid_chars
        && (3..=max_len).contains(&name.len())
        && name.split('.').all(|part| !part.is_empty() && part.len() <= 63)
        && alphanumeric(name.bytes().next())
        && alphanumeric(name.bytes().last())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_google_rules() {
        for valid in ["files", "my-files_1", "a.b.c", "abc"] {
            assert!(is_bucket_name(valid), "{valid}");
        }
        for invalid in [
            "",
            "ab",
            "Files",
            "-files",
            "files-",
            "a..b",
            "fi les",
            &"a".repeat(64),
        ] {
            assert!(!is_bucket_name(invalid), "{invalid}");
        }
    }

    #[test]
    fn validation_names_the_key() {
        let message = |config: GcsConfig| config.validate("files.blob_storage").unwrap_err().to_string();
        let bucket = || GcsConfig {
            bucket: "files".into(),
            ..GcsConfig::default()
        };
        assert!(message(GcsConfig::default()).contains("files.blob_storage.bucket"));
        let bad_endpoint = GcsConfig {
            endpoint: Some("localhost:4443".into()),
            ..bucket()
        };
        assert!(message(bad_endpoint).contains("files.blob_storage.endpoint"));
        let bad_key = GcsConfig {
            service_account_json: Some(Secret::new("not json")),
            ..bucket()
        };
        assert!(message(bad_key).contains("files.blob_storage.service_account_json"));
        let both = GcsConfig {
            service_account_json: Some(Secret::new("{}")),
            anonymous: true,
            ..bucket()
        };
        assert!(message(both).contains("not both"));

        let emulator = GcsConfig {
            endpoint: Some("http://127.0.0.1:4443".into()),
            anonymous: true,
            ..bucket()
        };
        emulator.validate("files.blob_storage").unwrap();
    }
}
