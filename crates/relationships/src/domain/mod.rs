//! Entities and rules of the Relationships module, free of HTTP and SQL.

pub mod relationship;
pub mod template;

pub use relationship::{AuditEntry, AuditReason, Relationship, RelationshipStatus, BLOCKING_STATUSES};
pub use template::Template;

/// Contents (templates, relationship creation) may be at most 10 MiB.
pub const MAX_CONTENT_BYTES: usize = 10 * 1024 * 1024;
