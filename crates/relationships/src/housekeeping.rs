//! Housekeeping (spec admin-and-services §4.7): templates that expired 30 days ago and never
//! led to a relationship, and relationships both sides decomposed 30 days ago
//! (`ReadyForDeletion`), with their allocations and audit logs.

use backbone_db::sqlx;
use backbone_db::sweep::{retention_cutoff, Sweep};
use chrono::{DateTime, Utc};

use crate::RelationshipsService;

const EXPIRED_TEMPLATES: Sweep = Sweep {
    select: "SELECT t.id FROM relationship_templates t WHERE t.expires_at <= $2 \
        AND NOT EXISTS (SELECT 1 FROM relationships r WHERE r.template_id = t.id) LIMIT $1",
    statements: &[
        "DELETE FROM relationship_template_allocations WHERE template_id IN ({keys})",
        "DELETE FROM relationship_templates WHERE id IN ({keys})",
    ],
};

/// The relationship became `ReadyForDeletion` (its first audit entry with that status) at or
/// before the cutoff; it cannot leave that status again.
const READY_FOR_DELETION: Sweep = Sweep {
    select: "SELECT r.id FROM relationships r WHERE r.status = 'ReadyForDeletion' \
        AND EXISTS (SELECT 1 FROM relationship_audit_log l WHERE l.relationship_id = r.id \
        AND l.new_status = 'ReadyForDeletion' AND l.created_at <= $2) LIMIT $1",
    statements: &[
        "DELETE FROM relationship_audit_log WHERE relationship_id IN ({keys})",
        "DELETE FROM relationships WHERE id IN ({keys})",
    ],
};

impl RelationshipsService {
    /// Deletes templates that expired 30 days before `now` or earlier and have no
    /// relationship; returns how many.
    pub async fn delete_expired_templates(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        EXPIRED_TEMPLATES
            .run(self.store.db(), Some(retention_cutoff(now)))
            .await
    }

    /// Deletes relationships that have been ready for deletion for 30 days; returns how many.
    pub async fn delete_relationships_ready_for_deletion(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        READY_FOR_DELETION
            .run(self.store.db(), Some(retention_cutoff(now)))
            .await
    }
}
