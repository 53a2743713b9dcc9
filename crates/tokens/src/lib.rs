//! The Tokens module (spec consumer-api-exchange §6): small encrypted blobs addressable by ID.
//!
//! The server never interprets a token's content. Clients use tokens to share references
//! (templates, files, recovery kits) and for device onboarding: a new device anonymously
//! creates an *empty* token, an existing device fills it via `UpdateContent`, and the new
//! device reads it back anonymously.
//!
//! Access is decided by [`domain::Token::check_read`] (the eight rules of §6.3): creator and
//! identities holding an allocation always get in; otherwise expiry, the lock, `forIdentity`
//! and the password are checked. Every wrong password is counted; at 100 the token locks and
//! a `TokenLocked` event goes to the outbox in the same transaction.
//!
//! - [`domain`]: the token and its access rules, no HTTP or SQL;
//! - [`store`]: the `tokens` and `token_allocations` tables;
//! - [`service`]: the use cases in upstream's check order;
//! - `http`: thin handlers for `/api/v2/Tokens`.

pub mod admin;
pub mod domain;
pub mod error;
mod http;
pub mod service;
pub mod store;

pub use admin::{admin_routes, admin_schemas, TokensAdminError};
pub use domain::Token;
pub use error::TokensError;
pub use http::{routes, TokensState};
pub use service::{QuotaGate, TokensService};
pub use store::TokensStore;
