//! S3 and S3-compatible stores: `provider = "s3"`, addressed path-style with a custom
//! endpoint, as upstream's `S3Bucket` settings.

use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use super::{check_url, Secret};

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

impl S3Config {
    pub(super) fn validate(&self, key: &str) -> anyhow::Result<()> {
        if self.bucket.is_empty() {
            bail!("{key}.bucket must be set");
        }
        if self.region.is_empty() {
            bail!("{key}.region must not be empty");
        }
        if let Some(endpoint) = &self.endpoint {
            check_url(&format!("{key}.endpoint"), endpoint)?;
        }
        if self.access_key_id.as_ref().is_none_or(|k| k.expose().is_empty()) {
            bail!("{key}.access_key_id must be set");
        }
        if self
            .secret_access_key
            .as_ref()
            .is_none_or(|k| k.expose().is_empty())
        {
            bail!("{key}.secret_access_key must be set");
        }
        self.object_store()
            .map(drop)
            .with_context(|| format!("{key}: invalid S3 settings"))
    }

    pub(super) fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        let mut builder = AmazonS3Builder::new()
            .with_region(&self.region)
            .with_bucket_name(&self.bucket)
            // Path-style (`<endpoint>/<bucket>/<name>`), as upstream.
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        if let Some(key) = &self.access_key_id {
            builder = builder.with_access_key_id(key.expose());
        }
        if let Some(secret) = &self.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        Ok(Arc::new(builder.build()?))
    }
}
