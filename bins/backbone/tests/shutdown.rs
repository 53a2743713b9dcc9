//! Graceful shutdown of the real binary: at SIGTERM readiness turns 503 first while requests
//! are still served, then the listeners close, a request in flight completes, and the process
//! exits 0. Every wait is bounded by a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_backbone");
const DEADLINE: Duration = Duration::from_secs(30);

struct Server {
    child: Child,
    data_dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Starts `backbone serve` on free ports; returns it with the Consumer API's address.
fn start() -> (Server, SocketAddr) {
    let data_dir = std::env::temp_dir().join(format!("backbone-shutdown-{}", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(BINARY)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BACKBONE_DATA_DIR", &data_dir)
        .env("BACKBONE_CONSUMER_API__LISTEN", "127.0.0.1:0")
        .env("BACKBONE_ADMIN_API__LISTEN", "127.0.0.1:0")
        .env("BACKBONE_HTTP__SHUTDOWN_DRAIN_SECONDS", "1")
        .env("BACKBONE_LOG__LEVEL", "info")
        .env("BACKBONE_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let (sender, addresses) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "Consumer API listening" {
                let _ = sender.send(entry["fields"]["address"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let address = addresses
        .recv_timeout(DEADLINE)
        .expect("the Consumer API listens")
        .parse()
        .unwrap();
    (Server { child, data_dir }, address)
}

fn connect(address: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(DEADLINE))?;
    Ok(stream)
}

/// Reads until the connection closes (the requests send `Connection: close` or the server
/// shuts down): everything the server sent.
fn read_all(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let _ = stream.read_to_end(&mut data);
    String::from_utf8_lossy(&data).into_owned()
}

fn status_of(address: SocketAddr, path: &str) -> Option<String> {
    let mut stream = connect(address).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let response = read_all(&mut stream);
    response.get(9..12).map(str::to_owned)
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting until {what}");
        std::thread::yield_now();
    }
}

#[test]
fn a_request_in_flight_at_sigterm_completes_after_readiness_turned_503() {
    let (mut server, address) = start();
    assert_eq!(status_of(address, "/health/ready").as_deref(), Some("200"));

    // A request whose handler is reading its body: with `Expect: 100-continue` the server
    // says "100 Continue" only once the handler polls the body.
    let mut in_flight = connect(address).unwrap();
    let body = "{}";
    write!(
        in_flight,
        "POST /api/v2/Identities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut interim = [0u8; 25];
    in_flight.read_exact(&mut interim).unwrap();
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"));

    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Draining: readiness says 503 while the listener still serves (liveness stays 200).
    wait_until("readiness answers 503", || {
        status_of(address, "/health/ready").as_deref() == Some("503")
    });
    // Then the listener closes.
    wait_until("new connections are refused", || connect(address).is_err());

    // The request in flight still completes, with the handler's answer.
    in_flight.write_all(body.as_bytes()).unwrap();
    let response = read_all(&mut in_flight);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(
        response.contains("error.platform.inputCannotBeParsed"),
        "{response}"
    );

    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < DEADLINE, "the process does not exit");
        std::thread::yield_now();
    };
    assert!(status.success(), "{status}");
}
