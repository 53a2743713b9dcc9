-- Housekeeping deletes sync runs, external events and deletion processes in batches; the rows
-- that point to them must be found by index, not by reading the whole table per batch.

-- Sync errors cascade from their run and from their event.
CREATE INDEX sync_errors_run ON sync_errors (sync_run_id);
CREATE INDEX sync_errors_event ON sync_errors (external_event_id);
-- Audit entries are detached from the cancelled process that housekeeping deletes.
CREATE INDEX identity_deletion_audit_log_process ON identity_deletion_audit_log (process_id);
