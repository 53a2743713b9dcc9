//! The Devices module (spec consumer-api-identity §2, §5, §6): platform OAuth clients and tiers,
//! identities with their devices, the OAuth token endpoint, and feature flags.
//!
//! - [`domain`]: entities and rules, no HTTP or SQL;
//! - [`crypto`]: signed challenges, public keys, password and client-secret hashes;
//! - [`store`]: the tables this module owns;
//! - [`service`]: the use cases, called by the HTTP handlers and the admin CLI;
//! - `http`: thin handlers for the Consumer API.

pub mod admin_clients;
pub mod admin_identities;
pub mod administration;
mod config;
pub mod crypto;
pub mod deletion;
pub mod domain;
pub mod error;
mod http;
pub mod identity_list;
pub mod quota;
pub mod secret_cache;
pub mod service;
mod statistics;
pub mod store;

pub use administration::AdministrationError;
pub use config::{DevicesConfig, DevicesContext};
pub use error::DevicesError;
pub use http::{
    admin_routes, admin_schemas, identity_details, routes, ClientOverviewDto, CreatedClientDto, DevicesState,
    IdentityDetailsDto, TierOverviewDto,
};
pub use quota::QuotaGate;
pub use service::{DevicesPorts, DevicesService, DevicesSettings};
pub use store::DevicesStore;
