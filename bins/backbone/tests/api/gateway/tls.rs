use std::path::Path;
use std::time::{Duration, Instant};

use backbone_gateway::TlsConfig;

use crate::helpers::{Backend, TestApp};

const DEADLINE: Duration = Duration::from_secs(10);

/// A self-signed certificate for localhost: (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (generated.cert.pem(), generated.key_pair.serialize_pem())
}

/// A client that trusts only `cert`.
fn client_trusting(cert: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .build()
        .unwrap()
}

fn write_pair(dir: &Path, (cert, key): &(String, String)) {
    // The key first: a reader that sees the new certificate with the old key must not
    // switch (the pair does not match), and sees the new pair on its next check.
    std::fs::write(dir.join("key.pem"), key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
}

async fn spawn_with_tls(dir: &Path) -> TestApp {
    let tls = TlsConfig {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
        reload_check_seconds: 0.05,
    };
    TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.consumer_api.tls = Some(tls.clone());
        settings.admin_api.tls = Some(tls);
    })
    .await
}

#[tokio::test]
async fn both_listeners_speak_tls_and_pick_up_a_renewed_certificate() {
    let dir = tempdir();
    let first = certificate();
    write_pair(&dir.0, &first);
    let app = spawn_with_tls(&dir.0).await;
    let https = |base: &str| {
        base.replacen("http://", "https://localhost:", 1)
            .replacen("127.0.0.1:", "", 1)
    };
    let consumer = https(&app.base);
    let admin = https(&app.admin_base);

    let old_client = client_trusting(&first.0);
    let response = old_client
        .get(format!("{consumer}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = old_client
        .get(format!("{admin}/api/v1/Tiers"))
        .header("x-api-key", crate::helpers::ADMIN_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Plain HTTP on a TLS listener gets no answer.
    assert!(app
        .http
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .is_err());

    let second = certificate();
    write_pair(&dir.0, &second);
    let new_client = client_trusting(&second.0);
    for base in [&consumer, &admin] {
        let started = Instant::now();
        loop {
            if let Ok(response) = new_client.get(format!("{base}/health/live")).send().await {
                assert_eq!(response.status(), 200);
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the renewed certificate is never served on {base}"
            );
            tokio::task::yield_now().await;
        }
        // New handshakes no longer use the old certificate.
        let fresh_old_client = client_trusting(&first.0);
        assert!(fresh_old_client
            .get(format!("{base}/health/live"))
            .send()
            .await
            .is_err());
    }
}

#[tokio::test]
async fn a_missing_or_mismatched_key_stops_the_start_naming_the_setting() {
    let dir = tempdir();
    let (cert, _) = certificate();
    let (_, other_key) = certificate();
    write_pair(&dir.0, &(cert, other_key));
    let tls = TlsConfig {
        cert_file: dir.0.join("cert.pem"),
        key_file: dir.0.join("key.pem"),
        reload_check_seconds: 10.0,
    };
    let mut settings = backbone::Settings {
        data_dir: dir.0.join("data"),
        ..backbone::Settings::default()
    };
    settings.consumer_api.listen = "127.0.0.1:0".parse().unwrap();
    settings.admin_api.listen = "127.0.0.1:0".parse().unwrap();
    settings.consumer_api.tls = Some(tls.clone());
    let app = backbone::Application::build(settings.clone(), None)
        .await
        .unwrap();
    let error = match app.start(backbone::Roles::ALL).await {
        Ok(_) => panic!("a key of another certificate is refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains("consumer_api.tls") && error.contains("does not belong"),
        "{error}"
    );
    settings.consumer_api.tls = Some(TlsConfig {
        key_file: dir.0.join("missing.pem"),
        ..tls
    });
    let app = backbone::Application::build(settings, None).await.unwrap();
    let error = match app.start(backbone::Roles::ALL).await {
        Ok(_) => panic!("a missing key file is refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("missing.pem"), "{error}");
}

struct TempDir(std::path::PathBuf);

fn tempdir() -> TempDir {
    let path = std::env::temp_dir().join(format!("backbone-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&path).unwrap();
    TempDir(path)
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
