-- Indexes so that request-path and worker queries cost what the page and the identity cost, not
-- what the table costs (bins/backbone/tests/query_plans.rs checks the plans).

-- Synchronization -----------------------------------------------------------------------------

-- The worker's effects of a relationship status change on that relationship's events.
CREATE INDEX external_events_blocked_context ON external_events (context) WHERE is_delivery_blocked = 1;
CREATE INDEX external_events_unsynced_context ON external_events (context) WHERE sync_run_id IS NULL;
-- Runs accumulate with every sync; the open one is what a new run looks for.
CREATE INDEX sync_runs_unfinalized ON sync_runs (owner) WHERE finalized_at IS NULL;
-- The newest modification of each object, type and category: one probe per modification.
CREATE INDEX datawallet_modifications_object ON datawallet_modifications
    (datawallet_id, object_identifier, modification_type, modification_index, payload_category);

-- Relationships -------------------------------------------------------------------------------

CREATE INDEX relationships_template ON relationships (template_id);
CREATE INDEX relationship_audit_log_created_by ON relationship_audit_log (created_by);
CREATE INDEX relationship_templates_for_identity ON relationship_templates (for_identity) WHERE for_identity IS NOT NULL;

-- Identity deletion ---------------------------------------------------------------------------

CREATE INDEX identity_deletion_processes_identity ON identity_deletion_processes (identity_address, created_at);
