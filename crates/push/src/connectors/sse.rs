//! The in-process hub of server-sent-event connections, keyed by device. Any number of devices
//! of an identity (and connections of a device) may be connected at once; a push for a device
//! goes to all of its connections.
//!
//! The hub lives in memory. When the process that sends pushes (the worker role) is not the
//! one holding the stream, pushes travel as [`Signal`]s through a fan-out (PostgreSQL
//! `LISTEN/NOTIFY`) to every Consumer API replica, and each hands them to its own hub.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use backbone_core::ids::DeviceId;
use tokio::sync::mpsc;

/// Events waiting for a slow client; beyond this they are dropped (they are only hints to sync).
const QUEUE_LENGTH: usize = 64;

type Senders = Vec<(u64, mpsc::Sender<String>)>;

/// One SSE push on its way to the replica that holds the device's stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signal {
    pub device: DeviceId,
    pub event: String,
}

#[derive(Clone, Default)]
pub struct SseHub {
    inner: Arc<Mutex<HubState>>,
}

#[derive(Default)]
struct HubState {
    next_id: u64,
    connections: HashMap<DeviceId, Senders>,
}

/// One open stream. Dropping it (the client went away) disconnects it; when it was the
/// device's last one, `on_last_close` runs.
pub struct SseConnection {
    hub: SseHub,
    device: DeviceId,
    id: u64,
    receiver: mpsc::Receiver<String>,
    on_last_close: Option<Box<dyn FnOnce() + Send>>,
}

impl SseConnection {
    /// The next event name for this connection.
    pub async fn recv(&mut self) -> Option<String> {
        self.receiver.recv().await
    }

    /// Runs `action` when this connection closes and the device has no other connection.
    pub fn on_last_close(&mut self, action: impl FnOnce() + Send + 'static) {
        self.on_last_close = Some(Box::new(action));
    }
}

impl Drop for SseConnection {
    fn drop(&mut self) {
        if self.hub.disconnect(&self.device, self.id) {
            if let Some(action) = self.on_last_close.take() {
                action();
            }
        }
    }
}

impl std::fmt::Debug for SseHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseHub")
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl SseHub {
    fn state(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn connect(&self, device: DeviceId) -> SseConnection {
        let (sender, receiver) = mpsc::channel(QUEUE_LENGTH);
        let mut state = self.state();
        state.next_id += 1;
        let id = state.next_id;
        state
            .connections
            .entry(device.clone())
            .or_default()
            .push((id, sender));
        SseConnection {
            hub: self.clone(),
            device,
            id,
            receiver,
            on_last_close: None,
        }
    }

    /// Removes a connection; `true` if the device has none left.
    fn disconnect(&self, device: &DeviceId, id: u64) -> bool {
        let mut state = self.state();
        let Some(senders) = state.connections.get_mut(device) else {
            return true;
        };
        senders.retain(|(other, _)| *other != id);
        if senders.is_empty() {
            state.connections.remove(device);
            true
        } else {
            false
        }
    }

    /// Queues the event for every connection of the device; `false` if it has none.
    pub fn send(&self, device: &DeviceId, event_name: &str) -> bool {
        let mut state = self.state();
        let Some(senders) = state.connections.get_mut(device) else {
            return false;
        };
        senders.retain(|(_, sender)| match sender.try_send(event_name.to_owned()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(%device, "an SSE client is not reading; dropped an event");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if senders.is_empty() {
            state.connections.remove(device);
            false
        } else {
            true
        }
    }

    pub fn is_connected(&self, device: &DeviceId) -> bool {
        self.state().connections.contains_key(device)
    }

    /// Open connections (all devices).
    pub fn connection_count(&self) -> usize {
        self.state().connections.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn device(n: u8) -> DeviceId {
        DeviceId::from_trusted(format!("DVC{n}"))
    }

    #[tokio::test]
    async fn several_connections_of_a_device_all_get_its_events() {
        let hub = SseHub::default();
        let mut first = hub.connect(device(1));
        let mut second = hub.connect(device(1));
        let mut other = hub.connect(device(2));
        assert!(hub.send(&device(1), "ExternalEventCreated"));
        assert_eq!(first.recv().await.unwrap(), "ExternalEventCreated");
        assert_eq!(second.recv().await.unwrap(), "ExternalEventCreated");
        assert!(!hub.send(&device(3), "Test"));
        assert!(hub.send(&device(2), "Test"));
        assert_eq!(other.recv().await.unwrap(), "Test");
        assert_eq!(hub.connection_count(), 3);
    }

    #[test]
    fn the_last_close_of_a_device_is_reported_once() {
        let hub = SseHub::default();
        let closed = Arc::new(AtomicUsize::new(0));
        let mut first = hub.connect(device(1));
        let mut second = hub.connect(device(1));
        for connection in [&mut first, &mut second] {
            let closed = closed.clone();
            connection.on_last_close(move || {
                closed.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(first);
        assert_eq!(closed.load(Ordering::SeqCst), 0);
        assert!(hub.is_connected(&device(1)));
        drop(second);
        assert_eq!(closed.load(Ordering::SeqCst), 1);
        assert!(!hub.is_connected(&device(1)));
        assert!(!hub.send(&device(1), "Test"));
    }
}
