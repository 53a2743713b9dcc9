//! The Relationships module (spec consumer-api-exchange §2–4): relationship templates that
//! identities publish, their allocation by readers, and relationships with their state
//! machine and audit log.

pub mod admin;
mod config;
mod deleter;
pub mod domain;
pub mod error;
pub mod events;
pub mod housekeeping;
mod http;

pub use admin::{admin_routes, RelationshipsAdminError};
pub use config::RelationshipsConfig;
pub use error::RelationshipsError;
pub use http::{routes, PublicTemplateReference, RelationshipsState};
pub mod quota;
pub mod service;
pub mod store;

pub use quota::QuotaGate;
pub use service::RelationshipsService;
