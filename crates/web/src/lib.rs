//! HTTP plumbing every module's handlers use, so that the handlers themselves stay thin:
//! the `result` envelope, case-insensitive JSON and query extraction, the authenticated caller,
//! and the layers that make responses look like upstream's (headers, case-insensitive routes).

pub mod auth;
pub mod envelope;
pub mod failures;
pub mod json;
pub mod middleware;
pub mod openapi;
pub mod query;
pub mod routes;
pub mod text;

pub use auth::{Authenticator, Caller, JwtKeys, MaybeCaller};
pub use envelope::{Created, Envelope, NoContent, PagedEnvelope};
pub use json::CiJson;
pub use query::QueryParams;
pub use routes::Routes;
