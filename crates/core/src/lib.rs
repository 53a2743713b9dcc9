//! Building blocks every Backbone module shares.
//!
//! Nothing in here knows about a particular module: typed IDs and identity addresses, the clock,
//! paging, the wire formats for dates and bytes, the upstream error envelope and domain events.

pub mod address;
pub mod clock;
pub mod encoding;
pub mod error;
pub mod events;
pub mod ids;
pub mod language;
pub mod paging;
pub mod quotas;

pub use address::IdentityAddress;
pub use clock::{Clock, SharedClock};
pub use error::{ApiError, ApiResult};
