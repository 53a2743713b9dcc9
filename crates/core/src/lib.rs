//! Building blocks every Backbone module shares.
//!
//! Nothing in here depends on a particular module: typed IDs and identity addresses, the clock,
//! paging, the wire formats for dates and bytes, upstream's error codes and the transport-neutral
//! validation failure (the HTTP envelope is `backbone-web`'s); and the contracts
//! between modules, which every module may depend on because none depends on another: the
//! integration events, the shared statuses, who acts, and the ports through which modules ask
//! each other.

pub mod actor;
pub mod address;
pub mod clock;
pub mod encoding;
pub mod error;
pub mod events;
pub mod ids;
pub mod language;
pub mod paging;
pub mod ports;
pub mod quotas;
pub mod status;

pub use actor::Actor;
pub use address::IdentityAddress;
pub use clock::{Clock, SharedClock};
pub use error::ValidationError;
