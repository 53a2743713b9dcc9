//! What the first start leaves in a fresh data directory: only the owner may read it, and the
//! generated signing key is a standard PKCS#8 key other tools read.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::helpers::{Backend, TestApp};

fn mode(path: &Path) -> u32 {
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    metadata.permissions().mode() & 0o777
}

#[tokio::test]
async fn a_fresh_data_dir_is_private_and_the_generated_key_is_standard() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        // Not there yet, and nothing configured: the embedded database and generated secrets.
        settings.data_dir = settings.data_dir.join("fresh");
        settings.database.url = None;
        settings.authentication.jwt_signing_key = None;
        settings.admin_api.api_key = None;
    })
    .await;
    // A write, so that SQLite has its -wal and -shm files.
    let identity = app.create_identity().await;
    app.post(
        "/api/v2/Tokens",
        Some(&identity.token),
        json!({ "content": "AAAA", "expiresAt": "2999-01-01" }),
    )
    .await
    .expect_status(201);
    let data_dir = app.app.settings.data_dir.clone();
    assert_eq!(mode(&data_dir), 0o700);
    for file in [
        "backbone.db",
        "backbone.db-wal",
        "backbone.db-shm",
        "jwt-signing-key.pem",
        "admin-api-key",
    ] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
    let key = data_dir.join("jwt-signing-key.pem");
    // openssl is part of the development and CI machines: missing, the test fails.
    let output = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-in"])
        .arg(&key)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl pkey: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::process::Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(&key)
        .output()
        .expect("openssl runs");
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("ED25519 Private-Key"));
}
