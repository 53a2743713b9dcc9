//! The HTTP server of both listeners: hyper's HTTP/1.1 connections with the limits of `[http]`.
//!
//! `axum::serve` has no timeouts, so a client that trickles its headers, stalls its body or
//! just keeps a connection open holds a task and a file descriptor for ever. Here:
//! - a connection with no request in flight is closed after `idle_timeout`, or after
//!   `header_read_timeout` once a request head has started to arrive ([`activity`]);
//! - every request body is wrapped in a stall timeout (tower-http's `TimeoutBody`): a body
//!   that sends nothing for `request_body_timeout` fails, and the handler answers the error;
//! - at most `max_connections` connections are open per listener; further clients wait in the
//!   listen backlog until one closes, so the process does not run out of descriptors;
//! - on shutdown, listeners stop accepting and connections finish the request in flight;
//! - with `tls`, each connection first completes a TLS handshake (within `header_read_timeout`),
//!   with the listener's current (reloaded) certificate;
//! - every request carries its peer address (`ConnectInfo`), from which the gateway layer tells
//!   the client's IP.

mod activity;
pub mod observability;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use backbone_gateway::TlsListener;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::config::HttpSettings;
use activity::{Activity, Timeouts, Tracked};

/// The per-connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    timeouts: Timeouts,
    body_timeout: Duration,
    max_connections: usize,
}

impl Limits {
    pub fn new(settings: &HttpSettings, max_connections: usize) -> Self {
        Self {
            timeouts: Timeouts {
                header_read: settings.header_read_timeout(),
                idle: settings.idle_timeout(),
            },
            body_timeout: settings.request_body_timeout(),
            max_connections,
        }
    }
}

/// Accepts connections on `listener` and serves `router` on them (over TLS if `tls` is set)
/// until `stop` is cancelled; then waits for the open connections to finish their requests.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<TlsListener>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(tls) = &tls {
        tls.spawn_reload(name);
    }
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        // A slot first, then accept: a client beyond the limit waits in the backlog and costs
        // us no descriptor.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("connection slots closed")?,
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(name, error).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        connections.spawn(serve_connection(
            Accepted { stream, peer },
            router.clone(),
            limits,
            tls.clone(),
            stop.clone(),
            slot,
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn accept_failed(name: &str, error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    // The client gave up before we accepted: nothing to report.
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracing::error!(listener = name, %error, "cannot accept a connection");
    // Out of descriptors (EMFILE) and the like: retrying at once would spin.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A connection just accepted, and who it came from.
struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
}

async fn serve_connection(
    accepted: Accepted,
    router: Router,
    limits: Limits,
    tls: Option<TlsListener>,
    stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let Accepted { stream, peer } = accepted;
    // Responses are written whole; Nagle's algorithm would only delay the last segment.
    let _ = stream.set_nodelay(true);
    let Some(tls) = tls else {
        return serve_http(stream, peer, router, limits, stop).await;
    };
    // A client gets as long for its handshake as for a request head.
    let handshake = tokio::time::timeout(limits.timeouts.header_read, tls.acceptor.accept(stream));
    tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => serve_http(stream, peer, router, limits, stop).await,
            Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
        () = stop.cancelled() => {}
    }
}

async fn serve_http<S>(stream: S, peer: SocketAddr, router: Router, limits: Limits, stop: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    // Request bodies get the stall timeout, and each request counts as in flight until its
    // response body is dropped (so a download or an event stream is not taken for idle).
    let body_timeout = limits.body_timeout;
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let guard = requests.request_started();
        let router = router.clone();
        async move {
            let mut request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(move |body| {
                body.map_err(move |error| {
                    // Keeps the guard alive exactly as long as the body.
                    let _ = &guard;
                    error
                })
            }))
        }
    });
    let mut builder = http1::Builder::new();
    // Our watchdog closes quiet connections first; hyper's header timeout (which starts
    // whenever it waits for a head) is only a backstop, set beyond every deadline of ours.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.timeouts.idle + limits.timeouts.header_read);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = activity.expired(limits.timeouts) => {
                tracing::debug!("closing a connection that sent no complete request in time");
                return;
            }
            () = stop.cancelled(), if !stopping => {
                // Nothing in flight (at most half a request head): nothing to finish.
                if !activity.in_flight() {
                    return;
                }
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Descriptors one connection may hold: its socket, and a blob being streamed (a local file,
/// or the connection to the blob store).
const DESCRIPTORS_PER_CONNECTION: u64 = 2;
/// Kept free for the listeners, the runtime, logs, outgoing push and blob-store connections.
const RESERVED_DESCRIPTORS: u64 = 64;
/// Descriptors one pooled database connection may hold (SQLite: the file, `-wal`, `-shm`).
const DESCRIPTORS_PER_DATABASE_CONNECTION: u64 = 3;

/// Raises the soft open-file limit to the hard limit (once, at start): the default soft limit
/// (often 1024) is far below what a server with many clients needs.
pub fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "raised the open-file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open-file limit"),
    }
}

/// The connections each of `listeners` listeners may hold: the configured number, lowered so
/// that all of them together, the database pool and a reserve fit into the open-file limit.
pub fn connection_limit(
    configured: usize,
    listeners: usize,
    database_connections: u32,
) -> anyhow::Result<usize> {
    let open_files = open_file_limit();
    let (limit, reserved) = fit_connections(open_files, configured, listeners, database_connections)?;
    if limit < configured {
        tracing::warn!(
            open_files,
            reserved,
            configured,
            limit,
            "http.max_connections lowered to what the open-file limit allows"
        );
    } else {
        tracing::info!(
            open_files,
            reserved,
            max_connections = limit,
            "connection limit per listener"
        );
    }
    Ok(limit)
}

/// (connections per listener, descriptors reserved) for an open-file limit.
fn fit_connections(
    open_files: u64,
    configured: usize,
    listeners: usize,
    database_connections: u32,
) -> anyhow::Result<(usize, u64)> {
    let reserved =
        RESERVED_DESCRIPTORS + DESCRIPTORS_PER_DATABASE_CONNECTION * u64::from(database_connections);
    let per_listener =
        open_files.saturating_sub(reserved) / (DESCRIPTORS_PER_CONNECTION * listeners.max(1) as u64);
    let per_listener = usize::try_from(per_listener).unwrap_or(usize::MAX);
    if per_listener < 1 {
        anyhow::bail!(
            "the open-file limit ({open_files}) is too low: the database pool and the reserve need {reserved}; raise it (ulimit -n)"
        );
    }
    Ok((configured.min(per_listener), reserved))
}

fn open_file_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        return soft;
    }
    // Unknown: assume the common default.
    1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_lowered_to_fit_the_open_file_limit() {
        // 256 descriptors, two listeners, a pool of 10: (256 - 64 - 30) / (2 * 2) = 40 each.
        assert_eq!(fit_connections(256, 1024, 2, 10).unwrap(), (40, 94));
        assert_eq!(fit_connections(1 << 20, 1024, 2, 10).unwrap().0, 1024);
        assert_eq!(fit_connections(u64::MAX, 1024, 1, 10).unwrap().0, 1024);
        let error = fit_connections(64, 1024, 2, 10).unwrap_err().to_string();
        assert!(error.contains("open-file limit (64)"), "{error}");
    }
}
