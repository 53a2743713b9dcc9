//! Secrets generated outside prod and kept in the data directory, and the directory itself:
//! only the owner may read them (directory 0700, files 0600), whatever the umask says.

use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};

/// Creates the data directory (mode 0700) if it is missing. An existing directory is the
/// operator's: it is kept, with a warning if others may enter it.
pub fn prepare_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    backbone_db::create_private_dir(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    if let Some(mode) = mode(data_dir).filter(|mode| mode & 0o077 != 0) {
        tracing::warn!(
            path = %data_dir.display(),
            mode = format!("{mode:o}"),
            "the data directory is accessible to other users; consider chmod 700"
        );
    }
    Ok(())
}

/// The secret kept in `<data_dir>/<name>`, generated on first use.
///
/// The file is written under a temporary name and linked into place, so a second process
/// starting at the same moment either wins or reads the complete secret of the first, never a
/// half-written one. A secret file that others may read (written by an older version) is
/// narrowed to 0600: it is ours, and nobody else needs it.
pub fn persisted(data_dir: &Path, name: &str, generate: impl FnOnce() -> String) -> anyhow::Result<String> {
    let path = data_dir.join(name);
    if let Some(existing) = read_existing(&path)? {
        return Ok(existing);
    }
    prepare_data_dir(data_dir)?;
    let temporary = data_dir.join(format!(".{name}.{}", uuid_like()));
    write_private(&temporary, generate().as_bytes())?;
    let linked = std::fs::hard_link(&temporary, &path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "generated a new secret; configure one explicitly outside dev");
        }
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("writing {}", path.display())),
    }
    read_existing(&path)?.with_context(|| format!("reading {}", path.display()))
}

fn read_existing(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(secret) => {
            restrict(path)?;
            Ok(Some(secret))
        }
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// A new Ed25519 signing key as PKCS#8 v1 PEM (RFC 8410: the private key only), the form
/// `openssl genpkey -algorithm ed25519` writes. ed25519-dalek's own encoding is v2 with the
/// public key attached, which OpenSSL 3.0 refuses; both load (`JwtKeys::from_pem`).
pub fn generate_jwt_signing_key() -> String {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let bytes = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    bytes
        .to_pkcs8_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes as PKCS#8")
        .to_string()
}

pub fn generate_admin_api_key() -> String {
    backbone_core::ids::random_string(
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        32,
    )
}

fn uuid_like() -> String {
    backbone_core::ids::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 16)
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_path: &Path) -> Option<u32> {
    None
}

fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Some(mode) = mode(path).filter(|mode| mode & 0o077 != 0) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
        tracing::warn!(path = %path.display(), was = format!("{mode:o}"), "restricted a secret file to mode 600");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::DecodePrivateKey;

    #[test]
    fn generated_keys_are_v1_and_load_like_keys_in_the_old_v2_form() {
        let clock = std::sync::Arc::new(backbone_core::clock::SystemClock::with_offset(
            chrono::Duration::zero(),
        ));
        let v1 = generate_jwt_signing_key();
        assert!(v1.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{v1}");
        // 48 bytes of DER (v1) are 64 characters of base64: a single line.
        assert_eq!(v1.lines().count(), 3, "{v1}");
        ed25519_dalek::SigningKey::from_pkcs8_pem(&v1).unwrap();
        backbone_web::JwtKeys::from_pem(&v1, 60, clock.clone()).unwrap();
        let v2 = backbone_web::JwtKeys::generate_pem();
        backbone_web::JwtKeys::from_pem(&v2, 60, clock).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_private_and_generated_once() {
        let dir = std::env::temp_dir().join(format!("backbone-secrets-{}", uuid_like()));
        let first = persisted(&dir, "secret", || "one".into()).unwrap();
        let second = persisted(&dir, "secret", || "two".into()).unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
        assert_eq!(mode(&dir), Some(0o700));
        assert_eq!(mode(&dir.join("secret")), Some(0o600));
        // Only the secret is left behind, no temporary file.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("secret"), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert_eq!(persisted(&dir, "secret", || "three".into()).unwrap(), "one");
        assert_eq!(mode(&dir.join("secret")), Some(0o600));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
