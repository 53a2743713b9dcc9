//! What one connection is doing, so that a connection with no request in flight can be closed
//! when it stays idle or trickles its request head.
//!
//! hyper's own `header_read_timeout` starts whenever the connection waits for a request head,
//! so it cannot tell an idle keep-alive connection (allowed `idle_timeout`) from one that sent
//! half a head (allowed `header_read_timeout`). We watch both here: [`Tracked`] notes when the
//! first byte of a head arrives, [`RequestGuard`] marks a request (and its response body) in
//! flight, and [`Activity::expired`] resolves once the connection has been quiet for too long.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Wakes [`Activity::expired`] when the deadline may have moved.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    /// When the last request finished (or the connection was accepted).
    idle_since: Instant,
    /// When the first byte of the next request head arrived, while nothing is in flight.
    head_started: Option<Instant>,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: Instant::now(),
                head_started: None,
            }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Marks a request in flight until the guard (moved into the response body) is dropped.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        drop(state);
        self.changed.notify_one();
        RequestGuard(self.clone())
    }

    pub fn in_flight(&self) -> bool {
        self.state().in_flight > 0
    }

    /// When the connection is due to be closed; `None` while a request is in flight.
    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(started) => started + timeouts.header_read,
            None => state.idle_since + timeouts.idle,
        })
    }

    /// Resolves once the connection has had no request in flight for `idle`, or has spent
    /// `header_read` on an incomplete request head. Nothing is lost by closing it then.
    pub async fn expired(&self, timeouts: Timeouts) {
        loop {
            // `notify_one` keeps a permit when nobody waits, so a change between reading the
            // deadline and waiting is not missed.
            match self.deadline(timeouts) {
                None => self.changed.notified().await,
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = self.changed.notified() => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
            }
        }
    }
}

/// A request in flight on the connection.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// The connection's socket, reporting reads to its [`Activity`].
pub struct Tracked<S> {
    pub inner: S,
    pub activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_state_of_the_connection() {
        let activity = Activity::new();
        let accepted = Instant::now();
        assert_eq!(activity.deadline(TIMEOUTS), Some(accepted + TIMEOUTS.idle));
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.bytes_read();
        let head = accepted + Duration::from_secs(5);
        assert_eq!(activity.deadline(TIMEOUTS), Some(head + TIMEOUTS.header_read));
        let guard = activity.request_started();
        assert_eq!(activity.deadline(TIMEOUTS), None);
        // Bytes of a pipelined request do not start the head clock while one is in flight.
        activity.bytes_read();
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(guard);
        let finished = Instant::now();
        assert_eq!(activity.deadline(TIMEOUTS), Some(finished + TIMEOUTS.idle));
    }

    #[tokio::test(start_paused = true)]
    async fn expired_waits_while_a_request_is_in_flight() {
        let activity = Activity::new();
        let guard = activity.request_started();
        let expired = tokio::time::timeout(Duration::from_secs(3600), activity.expired(TIMEOUTS));
        assert!(
            expired.await.is_err(),
            "a connection with a request in flight never expires"
        );
        drop(guard);
        let started = Instant::now();
        activity.expired(TIMEOUTS).await;
        assert_eq!(started.elapsed(), TIMEOUTS.idle);
    }
}
