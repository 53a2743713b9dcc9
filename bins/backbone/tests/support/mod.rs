//! Shared by the multi-process tests: the real binary as separate processes, a round-robin
//! TCP proxy, a RabbitMQ node of the test's own, and a small API client.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod api;
pub mod proxy;
pub mod rabbitmq;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_backbone");
pub const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A unique suffix for names on shared servers (databases, exchanges, queues).
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// What every process of a multi-process test is started with: its data directory, the shared
/// PostgreSQL database, one JWT key and API key for all of them, the event bus on RabbitMQ at
/// `broker_url`, and no scheduled jobs (the tests run what they need themselves).
pub fn process_env(
    db: &PostgresDatabase,
    data: &TempDir,
    broker_url: String,
    api_key: &str,
) -> Vec<(String, String)> {
    [
        ("BACKBONE_DATA_DIR", data.0.display().to_string()),
        ("BACKBONE_DATABASE__URL", db.url.clone()),
        (
            "BACKBONE_AUTHENTICATION__JWT_SIGNING_KEY",
            backbone_web::JwtKeys::generate_pem(),
        ),
        ("BACKBONE_ADMIN_API__API_KEY", api_key.into()),
        ("BACKBONE_EVENT_BUS__PROVIDER", "rabbitmq".into()),
        ("BACKBONE_EVENT_BUS__RABBITMQ__URL", broker_url),
        ("BACKBONE_JOBS__IDENTITY_DELETION_INTERVAL_SECONDS", "0".into()),
        (
            "BACKBONE_JOBS__GRACE_PERIOD_REMINDERS_INTERVAL_SECONDS",
            "0".into(),
        ),
        ("BACKBONE_JOBS__HOUSEKEEPING_INTERVAL_SECONDS", "0".into()),
        ("BACKBONE_LOG__LEVEL", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Adds `extra` to a [`process_env`].
pub fn with(mut env: Vec<(String, String)>, extra: &[(&str, String)]) -> Vec<(String, String)> {
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!("backbone-{label}-{}", unique()));
        std::fs::create_dir_all(&path).expect("the temp dir is created");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL database, dropped when the value is.
pub struct PostgresDatabase {
    pub name: String,
    pub url: String,
}

impl PostgresDatabase {
    pub fn new() -> Self {
        let name = format!("backbone_test_{}", unique());
        Self {
            url: format!("{POSTGRES_SERVER}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-qc"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .output();
    }
}

/// One `backbone` process; killed (by its PID) when dropped. Its output goes to a log file.
pub struct Process {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(name: &str, args: &[&str], env: &[(String, String)], logs: &Path) -> Self {
        let log = logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("the log file is created");
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("the log file"))
            .stderr(file);
        let child = command.spawn().expect("the binary starts");
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Runs a command to its end; panics with its output if it fails.
    pub fn run(args: &[&str], env: &[(String, String)]) -> String {
        let output = Command::new(BINARY)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "backbone {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Panics (with the log) if the process ended.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.name, self.log_tail());
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 50 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `GET /health` on `base` answers 200.
pub async fn wait_for_health(base: &str, process: &mut Process) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        process.assert_running();
        if let Ok(response) = http.get(format!("{base}/health")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never became healthy:\n{}",
            process.name,
            process.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
