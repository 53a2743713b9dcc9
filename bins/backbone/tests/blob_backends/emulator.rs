//! Emulator processes for the blob storage tests: a free port, the process in a temp dir,
//! polling until it answers (with a deadline), killed by its PID when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// In CI the emulators must be there (`.ci/run` installs them); elsewhere a test without its
/// emulator is skipped, saying why.
pub fn skip(emulator: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{emulator} is required in CI: {why}"
    );
    eprintln!("SKIPPED: {emulator} is not installed ({why})");
}

/// An emulator process on a free port, killed when dropped.
pub struct Emulator {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Emulator {
    /// Starts the process and waits until it answers HTTP; tries another port if the process
    /// dies (another process may have taken the port in between).
    pub async fn start(name: &str, command: impl Fn(u16, &std::path::Path) -> Command) -> Self {
        let mut last_log = String::new();
        for _ in 0..3 {
            let dir = TempDir::new();
            let port = free_port();
            let log = dir.0.join("emulator.log");
            let mut child = command(port, &dir.0)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(dir.0.join("emulator.err")).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {name}: {e}"));
            let deadline = Instant::now() + Duration::from_secs(60);
            let client = reqwest::Client::new();
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    last_log = std::fs::read_to_string(dir.0.join("emulator.err")).unwrap_or_default();
                    eprintln!("{name} exited with {status} on port {port}: {last_log}");
                    break;
                }
                // Any HTTP answer means it is listening.
                if client
                    .get(format!("http://127.0.0.1:{port}/"))
                    .send()
                    .await
                    .is_ok()
                {
                    return Self {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{name} did not answer on port {port} within 60 s");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("{name} did not start: {last_log}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("backbone-blobs-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
