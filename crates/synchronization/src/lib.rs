//! The Synchronization module (spec consumer-api-identity §10): how a device learns what
//! happened while it was away and how an identity's devices share state.
//!
//! - *External events* are notifications for one identity (a message arrived, a peer accepted
//!   a relationship…), numbered per identity. Other modules cause them through domain events.
//! - A *sync run* hands a device every undelivered event at once; the device reports per event
//!   whether it processed it. Failed events come back in a later run, at most three times.
//! - The *datawallet* is an append-only log of encrypted modifications that all devices of an
//!   identity replay; its version lets clients upgrade its format.

mod deleter;
pub mod domain;
pub mod error;
pub mod events;
pub mod housekeeping;
mod http;
pub mod quota;
pub mod service;
pub mod store;

pub use error::SyncError;
pub use events::ExternalEventsHandler;
pub use http::{routes, SynchronizationState};
pub use quota::QuotaGate;
pub use service::SynchronizationService;
pub use store::SynchronizationStore;
