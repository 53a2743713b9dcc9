-- Synchronization module: sync runs, external events, sync errors, datawallets.
-- Dates are milliseconds since the Unix epoch; booleans are 0/1 BIGINTs.

CREATE TABLE datawallets (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL
);

CREATE TABLE datawallet_modifications (
    id TEXT PRIMARY KEY,
    datawallet_id TEXT NOT NULL REFERENCES datawallets (id) ON DELETE CASCADE,
    modification_index BIGINT NOT NULL,
    datawallet_version BIGINT NOT NULL,
    object_identifier TEXT NOT NULL,
    payload_category TEXT NULL,
    collection TEXT NOT NULL,
    modification_type TEXT NOT NULL,
    encrypted_payload BYTEA NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_device TEXT NOT NULL,
    -- Two concurrent pushes cannot both take the same index: the loser is "not up to date".
    UNIQUE (datawallet_id, modification_index)
);

CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    run_index BIGINT NOT NULL,
    run_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_device TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    finalized_at BIGINT NULL,
    event_count BIGINT NOT NULL,
    -- Two concurrent starts cannot both become the next run: one run at a time per identity.
    UNIQUE (owner, run_index)
);

CREATE TABLE external_events (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    event_index BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sync_run_id TEXT NULL REFERENCES sync_runs (id) ON DELETE SET NULL,
    sync_error_count BIGINT NOT NULL DEFAULT 0,
    is_delivery_blocked BIGINT NOT NULL DEFAULT 0,
    -- The relationship an event belongs to, for unblocking and deletion (never on the wire).
    context TEXT NULL,
    UNIQUE (owner, event_index)
);
CREATE INDEX external_events_unsynced ON external_events (owner, event_index) WHERE sync_run_id IS NULL;
CREATE INDEX external_events_run ON external_events (sync_run_id, event_index);

CREATE TABLE sync_errors (
    id TEXT PRIMARY KEY,
    sync_run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    external_event_id TEXT NOT NULL REFERENCES external_events (id) ON DELETE CASCADE,
    error_code TEXT NOT NULL
);
