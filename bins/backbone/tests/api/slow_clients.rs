//! The HTTP server against slow, idle and greedy clients, over raw TCP: header, body and idle
//! timeouts, the connection limit, over-long `Content-Length`s and the large-body budget.
//! Timeouts are shortened per test; every wait is bounded by a deadline.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{assert_error_envelope, Backend, TestApp};

/// Long enough for any expected event on a loaded machine; reaching it fails the test.
const DEADLINE: Duration = Duration::from_secs(10);
const SHORT: f64 = 0.5;

async fn spawn(configure: impl FnOnce(&mut backbone::config::HttpSettings)) -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, |settings| configure(&mut settings.http)).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Whether the server closes the connection (EOF or reset) before `within` passes. Whatever
/// it sends before closing is skipped.
async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let read_until_closed = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_until_closed).await.is_ok()
}

/// Reads one response (head and `Content-Length` body): (status, head, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let read = async {
        let mut data = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
                    let status = head[9..12].parse().unwrap();
                    return (status, head, body);
                }
            }
            let read = stream.read(&mut buffer).await.expect("reads the response");
            assert!(
                read > 0,
                "the connection closed before a whole response: {data:?}"
            );
            data.extend_from_slice(&buffer[..read]);
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("a response in time")
}

fn health_request() -> &'static [u8] {
    b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
}

#[tokio::test]
async fn trickled_headers_are_cut_off_after_the_header_timeout() {
    let app = spawn(|http| {
        http.header_read_timeout_seconds = SHORT;
        http.idle_timeout_seconds = 60.0;
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let cut_off = async {
        // One header line every 100 ms: the head never completes.
        for line in 0.. {
            if stream
                .write_all(format!("X-Line-{line}: a\r\n").as_bytes())
                .await
                .is_err()
                || closes_within(&mut stream, Duration::from_millis(100)).await
            {
                return;
            }
        }
    };
    tokio::time::timeout(DEADLINE, cut_off)
        .await
        .expect("the trickling connection is closed");
    // The server still answers everyone else.
    app.get("/health", None).await.expect_status(200);
}

#[tokio::test]
async fn a_stalled_body_ends_the_request_with_an_error_and_the_connection() {
    let app = spawn(|http| http.request_body_timeout_seconds = SHORT).await;
    let mut stream = connect(&app).await;
    let head = "POST /api/v2/Identities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"{\"clientId\": \"te").await.unwrap();
    let (status, _, body) = read_response(&mut stream).await;
    assert_eq!(status, 400, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_error_envelope(&body);
    assert_eq!(body["error"]["code"], "error.platform.inputCannotBeParsed");
    assert!(
        closes_within(&mut stream, DEADLINE).await,
        "the connection is closed"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn(|http| {
        http.idle_timeout_seconds = SHORT;
        http.header_read_timeout_seconds = 60.0;
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(health_request()).await.unwrap();
    let (status, head, _) = read_response(&mut stream).await;
    assert_eq!(status, 200);
    assert!(!head.to_ascii_lowercase().contains("connection: close"), "{head}");
    // Kept alive: a second request on the same connection is answered.
    stream.write_all(health_request()).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    assert!(
        closes_within(&mut stream, DEADLINE).await,
        "the idle connection is closed"
    );
    // So is a connection that never sends anything.
    let mut silent = connect(&app).await;
    assert!(
        closes_within(&mut silent, DEADLINE).await,
        "the silent connection is closed"
    );
}

#[tokio::test]
async fn a_streamed_response_is_not_taken_for_idle() {
    // The event stream sends nothing for longer than the idle timeout; it must stay open.
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.http.idle_timeout_seconds = SHORT;
        settings.push.sse.keep_alive_interval_milliseconds = 60_000;
    })
    .await;
    let identity = app.create_identity().await;
    let mut stream = connect(&app).await;
    let request = format!(
        "GET /api/v2/sse HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        identity.token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    assert!(
        !closes_within(&mut stream, Duration::from_secs_f64(SHORT * 4.0)).await,
        "an open event stream keeps its connection"
    );
}

#[tokio::test]
async fn a_connection_beyond_the_limit_waits_for_a_free_slot() {
    let app = spawn(|http| {
        http.max_connections = 2;
        http.idle_timeout_seconds = 60.0;
    })
    .await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    let mut third = connect(&app).await;
    third.write_all(health_request()).await.unwrap();
    let mut buffer = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buffer)).await;
    assert!(
        early.is_err(),
        "the third connection is not served while two are open"
    );
    drop(first);
    assert_eq!(read_response(&mut third).await.0, 200);
    drop(third);
    // A slot is free again for new clients.
    let health = tokio::time::timeout(DEADLINE, app.get("/health", None)).await;
    health.expect("health answers in time").expect_status(200);
}

#[tokio::test]
async fn idle_connections_at_the_limit_time_out_and_the_server_answers_again() {
    let app = spawn(|http| {
        http.max_connections = 2;
        http.idle_timeout_seconds = SHORT;
        http.header_read_timeout_seconds = SHORT;
    })
    .await;
    let mut first = connect(&app).await;
    let mut second = connect(&app).await;
    // Half-sent requests, as from a slow or hostile client.
    first.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let health = tokio::time::timeout(DEADLINE, app.get("/health", None)).await;
    health.expect("health answers in time").expect_status(200);
    assert!(closes_within(&mut first, DEADLINE).await);
    assert!(closes_within(&mut second, DEADLINE).await);
}

#[tokio::test]
async fn an_over_long_content_length_is_refused_before_the_body_is_sent() {
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        settings.consumer_api.max_request_body_bytes = 16 * 1024;
        settings.files.max_file_size_bytes = 1024 * 1024;
    })
    .await;
    let refused = |path: &str, length: usize| {
        format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n")
    };
    for (path, length) in [
        ("/api/v2/Tokens", 16 * 1024 + 1),
        ("/api/v2/tokens", 1 << 40),
        // The upload route's limit is the file limit plus 2 MiB for the form fields.
        ("/api/v2/Files", 3 * 1024 * 1024 + 1),
    ] {
        let mut stream = connect(&app).await;
        stream.write_all(refused(path, length).as_bytes()).await.unwrap();
        let (status, _, body) = read_response(&mut stream).await;
        assert_eq!(status, 400, "{path}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_error_envelope(&body);
        assert_eq!(
            body["error"]["code"], "error.platform.requestBodyTooLarge",
            "{path}"
        );
    }
    // Within its own limit the upload gets as far as authentication.
    let mut stream = connect(&app).await;
    stream
        .write_all(refused("/api/v2/Files", 2 * 1024 * 1024).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.0, 401);
}

#[tokio::test]
async fn concurrent_large_bodies_share_a_small_budget_and_all_succeed_on_sqlite() {
    concurrent_large_bodies_share_a_small_budget_and_all_succeed(Backend::Sqlite).await;
}

#[tokio::test]
async fn concurrent_large_bodies_share_a_small_budget_and_all_succeed_on_postgres() {
    concurrent_large_bodies_share_a_small_budget_and_all_succeed(Backend::Postgres).await;
}

async fn concurrent_large_bodies_share_a_small_budget_and_all_succeed(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.http.large_body_threshold_bytes = 16 * 1024;
        // Room for two of the bodies below at a time.
        settings.http.large_body_budget_bytes = 200 * 1024;
    })
    .await;
    let identity = app.create_identity().await;
    let content = crate::helpers::standard_base64(&vec![7u8; 64 * 1024]);
    let sends = (0..12).map(|_| {
        app.post(
            "/api/v2/Tokens",
            Some(&identity.token),
            json!({ "content": content, "expiresAt": "2999-01-01" }),
        )
    });
    let responses = tokio::time::timeout(DEADLINE * 3, futures::future::join_all(sends))
        .await
        .expect("every request is answered");
    for response in responses {
        response.expect_status(201);
    }
    assert_eq!(app.count("tokens").await, 12);
}
