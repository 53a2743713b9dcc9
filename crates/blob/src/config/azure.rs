//! Azure Blob Storage (or Azurite): `provider = "azure"`, with a connection string or an
//! account and key, as upstream's `AzureStorageAccount` settings.

use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};

use super::{check_url, Secret};

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
            "defaultendpointsprotocol" => value.clone_into(&mut protocol),
            "endpointsuffix" => value.clone_into(&mut suffix),
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

impl AzureConfig {
    pub(super) fn validate(&self, key: &str) -> anyhow::Result<()> {
        let container = &self.container;
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
        let target = self.target(key)?;
        check_url(&format!("{key}.endpoint"), &target.endpoint)?;
        self.object_store()
            .map(drop)
            .with_context(|| format!("{key}: invalid Azure settings"))
    }

    pub(super) fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        let target = self.target("")?;
        Ok(Arc::new(
            MicrosoftAzureBuilder::new()
                .with_allow_http(target.endpoint.starts_with("http://"))
                .with_account(target.account)
                .with_access_key(target.access_key)
                .with_endpoint(target.endpoint)
                .with_container_name(&self.container)
                .build()?,
        ))
    }

    /// The blob service URL, for the logs.
    pub(super) fn endpoint(&self) -> String {
        self.target("").map_or_else(|_| "?".into(), |t| t.endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
