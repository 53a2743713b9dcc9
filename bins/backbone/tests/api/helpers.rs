//! `TestApp`: the real application on port 0 with a fresh database per test (a temporary
//! SQLite file or a new PostgreSQL database), a manual clock, and typed request helpers.

use std::sync::Arc;

use backbone::config::Settings;
use backbone::{Application, Roles};
use backbone_core::clock::ManualClock;
use backbone_core::encoding::encode_bytes;
use backbone_web::JwtKeys;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "test";
pub const CLIENT_SECRET: &str = "test-secret";
pub const PASSWORD: &str = "someDevicePassword";
pub const ADMIN_API_KEY: &str = "admin-api-key-for-tests";
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one test body against both databases.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await).await
                }
            }
        )*
    };
}

/// Like `on_both_databases!`, for tests that configure their app: runs `$name(backend)` once
/// with `Backend::Sqlite` and once with `Backend::Postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

pub struct TestApp {
    pub app: Application,
    pub base: String,
    pub admin_base: String,
    /// The `[metrics]` listener, when the test configured `metrics.listen`.
    pub metrics_base: Option<String>,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    /// The Consumer API's `OpenAPI` document, fetched at the first request; every response of
    /// the Consumer API is checked against it (`conformance`).
    document: tokio::sync::OnceCell<Value>,
    _data_dir: TempDir,
    postgres_database: Option<String>,
}

/// A test identity with its first device, logged in.
#[derive(Debug, Clone)]
pub struct TestIdentity {
    pub address: String,
    pub device_id: String,
    pub username: String,
    pub password: String,
    pub key: SigningKey,
    pub token: String,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub fn result(&self) -> &Value {
        &self.body["result"]
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// Asserts the status and, for errors, the upstream code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.error_code(), code, "body: {}", self.text);
        assert_error_envelope(&self.body);
    }

    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after letting the test adjust the settings.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        // Unexpected errors are logged; show them next to a failing test (RUST_LOG overrides).
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "error".into());
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(filter)
            .try_init();
        let data_dir = TempDir::new();
        let mut settings = Settings {
            data_dir: data_dir.0.clone(),
            ..Settings::default()
        };
        settings.consumer_api.listen = "127.0.0.1:0".parse().unwrap();
        settings.admin_api.listen = "127.0.0.1:0".parse().unwrap();
        settings.admin_api.api_key = Some(ADMIN_API_KEY.into());
        settings.authentication.jwt_signing_key = Some(JwtKeys::generate_pem());
        settings.log.level = "warn".into();
        let postgres_database = match backend {
            Backend::Sqlite => {
                settings.database.url = Some(format!("sqlite://{}", data_dir.0.join("test.db").display()));
                None
            }
            Backend::Postgres => {
                let name = format!("backbone_test_{}", uuid::Uuid::new_v4().simple());
                settings.database.url = Some(format!("{POSTGRES_SERVER}/{name}"));
                settings.database.max_connections = 5;
                Some(name)
            }
        };
        configure(&mut settings);
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let app = Application::build(settings, Some(clock.clone()))
            .await
            .expect("the app builds");
        // No worker: tests relay events themselves, one step at a time (`process_events`).
        let roles = Roles {
            worker: false,
            ..Roles::ALL
        };
        let running = app.start(roles).await.expect("the app starts");
        let base = format!("http://{}", running.consumer_api.unwrap());
        let admin_base = format!("http://{}", running.admin_api.unwrap());
        let metrics_base = running.metrics.map(|address| format!("http://{address}"));
        tokio::spawn(running.wait());
        app.devices
            .create_client(
                Some(CLIENT_ID.into()),
                None,
                Some(CLIENT_SECRET.into()),
                "Basic",
                None,
            )
            .await
            .expect("the test client is created");
        Self {
            app,
            base,
            admin_base,
            metrics_base,
            http: reqwest::Client::new(),
            clock,
            document: tokio::sync::OnceCell::new(),
            _data_dir: data_dir,
            postgres_database,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token, None).await
    }

    pub async fn raw(&self, request: reqwest::RequestBuilder) -> Response {
        self.send(request).await
    }

    /// Sends the request; a Consumer API response must be what the document says.
    async fn send(&self, request: reqwest::RequestBuilder) -> Response {
        let (client, request) = request.build_split();
        let request = request.expect("a valid request");
        let (method, url) = (request.method().clone(), request.url().clone());
        let response = into_response(client.execute(request).await.expect("the request is sent")).await;
        let base = reqwest::Url::parse(&self.base).expect("the base URL");
        if url.origin() == base.origin() {
            crate::conformance::check(self.document().await, &method, url.path(), &response);
        }
        response
    }

    async fn document(&self) -> &Value {
        self.document
            .get_or_init(|| async {
                let url = format!("{}/docs/v2/openapi.json", self.base);
                let response = self.http.get(url).send().await.expect("the document is served");
                response.json().await.expect("the document is JSON")
            })
            .await
    }

    /// `POST /connect/token` with the given form fields.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.raw(self.http.post(format!("{}/connect/token", self.base)).form(form))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.token_request(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        assert_eq!(response.status, StatusCode::OK, "login failed: {}", response.text);
        response.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A new challenge as the raw `result` object.
    pub async fn challenge(&self, token: Option<&str>) -> Value {
        self.post("/api/v2/Challenges", token, json!({}))
            .await
            .expect_status(201)
            .result()
            .clone()
    }

    /// The body `POST /api/v2/Identities` expects, for a fresh key.
    pub async fn identity_request(&self, key: &SigningKey) -> Value {
        let challenge = self.challenge(None).await;
        json!({
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "identityPublicKey": public_key(key),
            "devicePassword": PASSWORD,
            "identityVersion": 1,
            "signedChallenge": sign_challenge(key, &challenge, "Identity"),
        })
    }

    pub async fn create_identity(&self) -> TestIdentity {
        let key = SigningKey::generate(&mut rand_core());
        let response = self
            .post("/api/v2/Identities", None, self.identity_request(&key).await)
            .await;
        let result = response.expect_status(201).result().clone();
        let username = result["device"]["username"].as_str().unwrap().to_owned();
        let token = self.token(&username, PASSWORD).await;
        TestIdentity {
            address: result["address"].as_str().unwrap().to_owned(),
            device_id: result["device"]["id"].as_str().unwrap().to_owned(),
            username,
            password: PASSWORD.to_owned(),
            key,
            token,
        }
    }

    /// Registers another device for `identity`; returns the `result` object.
    pub async fn register_device(&self, identity: &TestIdentity, backup: bool) -> Response {
        // Lists are ordered by creation time; let time pass so the order is well-defined.
        self.clock.advance(chrono::Duration::milliseconds(10));
        let challenge = self.challenge(Some(&identity.token)).await;
        let body = json!({
            "devicePassword": PASSWORD,
            "signedChallenge": sign_challenge(&identity.key, &challenge, "Device"),
            "isBackupDevice": backup,
        });
        self.post("/api/v2/Devices", Some(&identity.token), body).await
    }

    pub async fn count(&self, table: &str) -> i64 {
        backbone_db::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.app.db.pool())
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.postgres_database.take() else {
            return;
        };
        // Drop the per-test database from a helper thread: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                use backbone_db::sqlx::{Connection, Executor};
                if let Ok(mut connection) =
                    backbone_db::sqlx::PgConnection::connect(&format!("{POSTGRES_SERVER}/postgres")).await
                {
                    let _ = connection
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

async fn into_response(response: reqwest::Response) -> Response {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Response {
        status,
        headers,
        body,
        text,
    }
}

pub fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

/// The client's wire form of a public key: base64url of `{"pub": …, "alg": 3}`.
pub fn public_key(key: &SigningKey) -> String {
    let json = json!({ "pub": encode_bytes(key.verifying_key().as_bytes()), "alg": 3 });
    encode_bytes(json.to_string().as_bytes())
}

/// Builds and signs the challenge text the way the client does.
pub fn sign_challenge(key: &SigningKey, challenge: &Value, kind: &str) -> Value {
    let text =
        json!({ "id": challenge["id"], "expiresAt": challenge["expiresAt"], "type": kind }).to_string();
    json!({ "challenge": text, "signature": signature(key, &text) })
}

pub fn signature(key: &SigningKey, text: &str) -> String {
    let sig = key.sign(text.as_bytes()).to_bytes();
    let json = json!({ "sig": encode_bytes(&sig), "alg": 2, "@type": "CryptoSignature" });
    encode_bytes(json.to_string().as_bytes())
}

pub fn standard_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The object has exactly these keys (pins the JSON shape).
#[track_caller]
pub fn assert_keys(value: &Value, expected: &[&str]) {
    let mut actual: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    actual.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(actual, expected, "in {value}");
}

#[track_caller]
pub fn assert_error_envelope(body: &Value) {
    assert_keys(body, &["error"]);
    let error = &body["error"];
    assert_keys(error, &["id", "code", "message", "docs", "time", "data"]);
    let id = error["id"].as_str().unwrap();
    assert!(id.len() == 20 && id.starts_with("ERR"), "{id}");
    assert!(
        id[3..]
            .bytes()
            .all(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ123456789".contains(&b)),
        "{id}"
    );
    assert_eq!(error["docs"], "");
    assert!(!error["message"].as_str().unwrap().is_empty());
}

/// `yyyy-MM-ddTHH:mm:ss.fffZ`
#[track_caller]
pub fn assert_date(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    assert_eq!(text.len(), 24, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap();
}

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("backbone-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestApp {
    /// Relays every pending domain event to its handlers, as the worker would.
    pub async fn process_events(&self) -> usize {
        self.app.relay.relay_all().await.expect("events are relayed")
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use backbone_core::Clock;
        self.clock.now()
    }
}

/// The header the client sends on every sync and datawallet request.
pub const DATAWALLET_VERSION_HEADER: (&str, &str) = ("x-supported-datawallet-version", "1");

impl TestApp {
    /// A request with the supported-datawallet-version header set to 1.
    pub async fn sync_request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header(DATAWALLET_VERSION_HEADER.0, DATAWALLET_VERSION_HEADER.1);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.raw(request).await
    }

    /// Runs the datawallet version upgrade the client performs right after creating an identity.
    pub async fn create_datawallet(&self, identity: &TestIdentity) {
        let start = self
            .sync_request(
                Method::POST,
                "/api/v2/SyncRuns",
                &identity.token,
                Some(json!({ "type": "DatawalletVersionUpgrade" })),
            )
            .await;
        let id = start.expect_status(201).result()["syncRun"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.sync_request(
            Method::PUT,
            &format!("/api/v2/SyncRuns/{id}/FinalizeDatawalletVersionUpgrade"),
            &identity.token,
            Some(json!({ "newDatawalletVersion": 1 })),
        )
        .await
        .expect_status(200);
    }

    /// Adds an external event for the identity, as an event handler would.
    pub async fn add_external_event(&self, owner: &str, event_type: &str) -> String {
        use backbone_synchronization::store::NewExternalEvent;
        let owner = backbone_core::IdentityAddress::parse(owner).unwrap();
        let event = NewExternalEvent {
            owner: owner.clone(),
            event_type: Box::leak(event_type.to_owned().into_boxed_str()),
            payload: json!({ "relationshipId": "RELaaaaaaaaaaaaaaaaa" }),
            context: None,
            delivery_blocked: false,
        };
        let source = uuid::Uuid::new_v4().to_string();
        let store = &self.app.synchronization.store;
        assert!(store
            .add_external_events_once("Tests", &source, &[event], &[], self.clock_now())
            .await
            .unwrap());
        // The newest event of the owner is the one just created.
        backbone_db::sqlx::query_scalar(
            "SELECT id FROM external_events WHERE owner = $1 ORDER BY event_index DESC LIMIT 1",
        )
        .bind(owner.as_str())
        .fetch_one(self.app.db.pool())
        .await
        .unwrap()
    }
}

impl TestApp {
    /// A fresh token for the identity (after the clock moved past its lifetime).
    pub async fn relogin(&self, identity: &TestIdentity) -> TestIdentity {
        let token = self.token(&identity.username, &identity.password).await;
        TestIdentity {
            token,
            ..identity.clone()
        }
    }
}

/// Waits until `condition` holds, polling every 20 ms; fails the test with `what` after `timeout`.
/// For work that happens outside the test's control (a broker's consumers), never a blind sleep.
pub async fn wait_for(what: &str, timeout: std::time::Duration, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
