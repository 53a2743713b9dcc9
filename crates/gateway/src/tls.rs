//! Optional TLS on a listener (`[consumer_api.tls]`, `[admin_api.tls]`), with rustls.
//!
//! The certificate chain and key are read from PEM files and read again every
//! `reload_check_seconds`: when either file's content changed and the pair loads, new
//! handshakes use it; connections already open keep theirs. A pair that does not load (a
//! renewal written half-way, a key that does not match) is logged and the old one stays in use
//! until the files are right. Polling the content rather than watching for file events also
//! follows Kubernetes secret volumes, which swap a symlink.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert_file: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// How often the files are checked for a renewed certificate.
    #[serde(default = "default_reload_check_seconds")]
    pub reload_check_seconds: f64,
}

fn default_reload_check_seconds() -> f64 {
    10.0
}

impl TlsConfig {
    /// `section` is the configuration key of this table, for the error message.
    pub fn validate(&self, section: &str) -> anyhow::Result<()> {
        // Negated, so that NaN fails too.
        if !(self.reload_check_seconds >= 0.01 && self.reload_check_seconds <= 86_400.0) {
            anyhow::bail!("{section}.reload_check_seconds must be between 0.01 and 86400");
        }
        Ok(())
    }
}

/// What a TLS listener needs: the acceptor for handshakes, and the certificate it reloads.
#[derive(Clone)]
pub struct TlsListener {
    pub acceptor: TlsAcceptor,
    certificate: Arc<ReloadingCertificate>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("cert_file", &self.certificate.config.cert_file)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Loads the pair once (an error names `section` and the file) and builds the acceptor.
    pub fn new(config: &TlsConfig, section: &str) -> anyhow::Result<Self> {
        let (files, key) = load(config).with_context(|| section.to_owned())?;
        let certificate = Arc::new(ReloadingCertificate {
            config: config.clone(),
            current: RwLock::new((files, key)),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        // The server speaks HTTP/1.1 only.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            certificate,
        })
    }

    /// Checks the files every `reload_check_seconds` until the listener is dropped.
    pub fn spawn_reload(&self, listener: &'static str) {
        let certificate = Arc::downgrade(&self.certificate);
        let every = Duration::from_secs_f64(self.certificate.config.reload_check_seconds);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(certificate) = certificate.upgrade() else {
                    return;
                };
                certificate.reload_if_changed(listener).await;
            }
        });
    }
}

/// The file contents a certificate was loaded from; a change in either means a reload.
#[derive(Debug, PartialEq, Eq)]
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
}

#[derive(Debug)]
struct ReloadingCertificate {
    config: TlsConfig,
    current: RwLock<(Files, Arc<CertifiedKey>)>,
}

impl ReloadingCertificate {
    async fn reload_if_changed(&self, listener: &str) {
        let config = self.config.clone();
        // File reads and key parsing off the async threads.
        let loaded =
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(Files, Arc<CertifiedKey>)>> {
                let files = read_files(&config)?;
                Ok(Some(parse(&files, &config)?).map(|key| (files, key)))
            });
        let unchanged = |files: &Files| {
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
                .eq(files)
        };
        match loaded.await {
            Ok(Ok(Some((files, key)))) if !unchanged(&files) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = (files, key);
                tracing::info!(listener, cert_file = %self.config.cert_file.display(), "TLS certificate reloaded");
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                // Unchanged files that fail cannot happen (they loaded before); a half-written
                // renewal can. Keep serving the old pair.
                tracing::warn!(listener, error = %format!("{error:#}"), "the TLS certificate files changed but do not load; keeping the current certificate");
            }
            Err(error) => tracing::error!(listener, %error, "the TLS certificate reload panicked"),
        }
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .1
                .clone(),
        )
    }
}

fn load(config: &TlsConfig) -> anyhow::Result<(Files, Arc<CertifiedKey>)> {
    let files = read_files(config)?;
    let key = parse(&files, config)?;
    Ok((files, key))
}

fn read_files(config: &TlsConfig) -> anyhow::Result<Files> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
    };
    Ok(Files {
        cert: read(&config.cert_file, "cert_file")?,
        key: read(&config.key_file, "key_file")?,
    })
}

fn parse(files: &Files, config: &TlsConfig) -> anyhow::Result<Arc<CertifiedKey>> {
    let cert_file = config.cert_file.display();
    let chain = CertificateDer::pem_slice_iter(&files.cert)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cert_file {cert_file} is not a PEM certificate chain"))?;
    anyhow::ensure!(!chain.is_empty(), "cert_file {cert_file} holds no certificate");
    let key = PrivateKeyDer::from_pem_slice(&files.key)
        .with_context(|| format!("key_file {} holds no PEM private key", config.key_file.display()))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .context("key_file: unsupported private key type")?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .with_context(|| format!("key_file does not belong to the certificate in {cert_file}"))?;
    Ok(Arc::new(certified))
}
