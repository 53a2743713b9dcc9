//! Challenges (spec consumer-api-identity §3): random IDs with a ten-minute lifetime that a
//! client signs with its identity key when it creates an identity or registers a device.
//! They are not consumed by use; they simply expire.

mod admin;
mod deleter;
pub mod domain;
pub mod error;
pub mod housekeeping;
mod http;
pub mod service;
pub mod store;

pub use admin::{admin_routes, AdminChallengeDto};
pub use domain::Challenge;
pub use error::ChallengesError;
pub use http::{routes, ChallengesState};
pub use service::QuotaGate;
pub use store::ChallengeStore;
