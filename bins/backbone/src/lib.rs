//! The `backbone` binary as a library, so integration tests can start the real application.
//!
//! - [`config`]: layered, validated settings;
//! - [`app`]: wires modules, stores and the clock together;
//! - [`roles`]: runs the roles (the servers and the worker) of a built application;
//! - [`consumer_api`] / [`admin_api`]: the two HTTP surfaces ([`admin_docs`]: the Admin API's
//!   `OpenAPI` document; the Admin UI sits on the Admin API listener);
//! - [`event_bus`]: the `[event_bus]` wiring: bus, consumers, dead letters, SSE fan-out;
//! - [`health`]: the Consumer API's `/health` checks (database, bus, blob storage);
//! - [`server`]: the HTTP server loop with its timeouts and connection limit;
//! - [`cli`]: command-line parsing and the admin commands;
//! - [`admin_cli`] / [`export`]: the announcement, token and `database export` commands.

mod adapters;
pub mod admin_api;
pub mod admin_cli;
pub mod admin_docs;
mod admin_ui;
pub mod allocator;
pub mod app;
mod body_limits;
pub mod cli;
pub mod config;
pub mod consumer_api;
pub mod docs;
pub mod event_bus;
pub mod events_cli;
pub mod export;
pub mod health;
pub mod jobs;
pub mod readiness;
pub mod roles;
mod secrets;
pub mod server;

pub use app::Application;
pub use config::Settings;
pub use roles::{Roles, Running};
