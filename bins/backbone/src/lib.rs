//! The `backbone` binary as a library, so integration tests can start the real application.
//!
//! - [`config`]: layered, validated settings;
//! - [`app`]: wires modules, stores and the clock together and runs the roles;
//! - [`consumer_api`] / [`admin_api`]: the two HTTP surfaces;
//! - [`server`]: the HTTP server loop with its timeouts and connection limit;
//! - [`cli`]: command-line parsing and the admin commands.

mod adapters;
pub mod admin_api;
pub mod allocator;
pub mod app;
mod body_limits;
pub mod cli;
pub mod config;
pub mod consumer_api;
pub mod docs;
pub mod jobs;
mod secrets;
pub mod server;

pub use app::{Application, Roles};
pub use config::Settings;
