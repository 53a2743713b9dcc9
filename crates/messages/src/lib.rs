//! The Messages module (spec consumer-api-exchange §5): encrypted messages from one identity to
//! the identities it has relationships with. The server sees only ciphertext; it checks the
//! relationship rules, keeps who received what, and tells recipients through external events
//! (raised as `MessageCreated`, turned into `MessageReceived` by the Synchronization module).

pub mod admin;
mod config;
mod deleter;
pub mod domain;
pub mod error;
pub mod events;
mod http;
pub mod service;
mod statistics;
pub mod store;

pub use admin::{admin_routes, MessagesAdminError};
pub use config::MessagesConfig;
pub use error::MessagesError;
pub use http::{routes, MessagesState};
pub use service::{MessagesService, MessagesSettings, QuotaGate};
