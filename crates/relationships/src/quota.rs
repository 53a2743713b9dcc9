//! This module and the Quotas module: the port through which templates and relationships are
//! limited, and what the Quotas module counts in this module's tables (admin-and-services
//! §1.6). Everything runs on the connection of the write transaction whose quota is checked.

use backbone_core::quotas::MetricKey;
use backbone_core::IdentityAddress;
use backbone_db::sqlx::{self, AnyConnection};
use chrono::{DateTime, Utc};

use crate::store::RelationshipsStore;
use crate::{RelationshipsError, RelationshipsService};
use backbone_core::Actor;

pub use backbone_core::ports::QuotaGate;

impl RelationshipsService {
    /// 429 unless the actor may use one more of `metric`.
    pub(crate) async fn check_quota(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        metric: MetricKey,
        now: DateTime<Utc>,
    ) -> Result<(), RelationshipsError> {
        self.quotas
            .check(conn, &actor.address, &[metric], now)
            .await?
            .map_err(RelationshipsError::QuotaExhausted)
    }
}

/// The counting queries, for the query-plan test.
pub mod sql {
    /// Relationships that count for an identity, by side: as requester while pending, on either
    /// side while active or terminated, and while deletion is proposed only on the side that has
    /// not decomposed yet (its peer did). Summed per side so each uses its (address, `created_at`)
    /// index; a relationship never has the same identity on both sides.
    pub const COUNTED_RELATIONSHIPS: &str = "SELECT \
        (SELECT COUNT(*) FROM relationships WHERE from_address = $1 AND created_at BETWEEN $2 AND $3 \
         AND (status IN ('Pending', 'Active', 'Terminated') \
              OR (status = 'DeletionProposed' AND to_has_decomposed = 1 AND from_has_decomposed = 0))) \
      + (SELECT COUNT(*) FROM relationships WHERE to_address = $1 AND created_at BETWEEN $2 AND $3 \
         AND (status IN ('Active', 'Terminated') \
              OR (status = 'DeletionProposed' AND from_has_decomposed = 1 AND to_has_decomposed = 0)))";

    /// Templates $1 created with `$2 <= created_at <= $3`.
    pub const COUNT_TEMPLATES: &str =
        "SELECT COUNT(*) FROM relationship_templates WHERE created_by = $1 AND created_at BETWEEN $2 AND $3";
}

impl RelationshipsStore {
    /// `NumberOfRelationships`: relationships created in the window that count for `identity`.
    pub async fn count_relationships_for_quota(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNTED_RELATIONSHIPS, identity, from, to).await
    }

    /// `NumberOfRelationshipTemplates`: templates `identity` created in the window.
    pub async fn count_templates_created(
        &self,
        conn: &mut AnyConnection,
        identity: &IdentityAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        backbone_db::count_in_window(conn, sql::COUNT_TEMPLATES, identity, from, to).await
    }
}
