//! The Files module (spec consumer-api-exchange §7): encrypted files whose content lives in
//! blob storage ([`backbone_blob`]) under the file ID, and whose metadata lives in the `files`
//! table.
//!
//! Any authenticated identity may read a file it knows the ID of (security comes from the
//! encryption); only the creator may delete it. Ownership moves with the ownership token: whoever
//! presents it becomes the owner, and a wrong token presented by someone else locks the file
//! until the owner regenerates the token. Locks and claims are domain events
//! (`FileOwnershipLocked`, `FileOwnershipClaimed`) written to the outbox with the change.
//!
//! How metadata and blob are kept in step is described in [`service`].
//!
//! - [`domain`]: the file and its ownership rules, no HTTP or SQL;
//! - [`store`]: the `files` table;
//! - [`service`]: the use cases in upstream's check order, the upload and the orphan sweep;
//! - `http`: thin handlers for `/api/v2/Files`, streaming in both directions.

mod config;
mod deleter;
pub mod domain;
pub mod error;
pub mod housekeeping;
mod http;
pub mod service;
pub mod store;

pub use config::FilesConfig;
pub use domain::File;
pub use error::FilesError;
pub use http::{routes, FilesState, FORM_FIELDS_ALLOWANCE};
pub use service::{FilesService, QuotaGate};
pub use store::FilesStore;
