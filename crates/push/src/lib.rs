//! Push notifications (spec consumer-api-identity §8, §9; admin-and-services §4.6, §5).
//!
//! Devices register a handle for a platform: `fcm` (Firebase Cloud Messaging, HTTP v1 API),
//! `apns` (Apple, HTTP/2 with token authentication), `sse` (a server-sent-event stream to this
//! server) or `dummy` (nothing is sent). Pushes are caused by other modules' events
//! ([`events::PushEventsHandler`]), by the API (the test push, text-only notifications to
//! peers) and by jobs ([`PushService::send_to_identity`]).
//!
//! Sending is two steps, so that no request ever waits for a push service and no provider
//! failure fails a request: [`PushService`] *queues* one delivery per registration (texts in the
//! device's language) in the same database; [`PushSender`] (run by the worker role) sends them,
//! removes registrations whose handle turned out invalid and retries temporary failures with
//! exponential back-off.
//!
//! - [`domain`]: platforms, registrations, notification types, the FCM and APNs bodies;
//! - [`texts`]: built-in and configured texts per language;
//! - [`config`]: the `[push]` configuration section;
//! - [`connectors`]: FCM, APNs and the in-process SSE hub;
//! - [`store`]: `push_registrations` and the `push_deliveries` queue;
//! - [`service`] / [`sender`]: queueing and sending;
//! - `http`: N1–N4 and `/api/v2/sse`.

pub mod announcements;
pub mod config;
pub mod connectors;
pub mod domain;
pub mod error;
pub mod events;
pub mod housekeeping;
mod http;
pub mod sender;
pub mod service;
pub mod store;
pub mod texts;

pub use announcements::AnnouncementPushHandler;
pub use config::PushConfig;
pub use connectors::sse::SseHub;
pub use connectors::Connectors;
pub use domain::{PushNotification, Registration};
pub use error::PushError;
pub use events::PushEventsHandler;
pub use http::{routes, PushState};
pub use sender::{PushSender, PushWorker, RetryPolicy, SendReport};
pub use service::{Audience, PushService};
pub use store::PushStore;
