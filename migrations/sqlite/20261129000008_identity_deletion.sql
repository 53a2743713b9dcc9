-- Identity deletion: processes, their audit log (which outlives the identity) and the tier an
-- identity had before its deletion started.

ALTER TABLE identities ADD COLUMN tier_id_before_deletion TEXT NULL;

CREATE TABLE identity_deletion_processes (
    id TEXT PRIMARY KEY,
    identity_address TEXT NOT NULL REFERENCES identities (address) ON DELETE CASCADE,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_device TEXT NOT NULL,
    grace_period_ends_at BIGINT NULL,
    grace_period_reminder1_sent_at BIGINT NULL,
    grace_period_reminder2_sent_at BIGINT NULL,
    grace_period_reminder3_sent_at BIGINT NULL,
    cancelled_at BIGINT NULL,
    deletion_started_at BIGINT NULL,
    -- A deletion job holds this lease while it deletes the identity, so two workers never
    -- delete the same identity at once.
    lease_until BIGINT NULL
);
-- At most one process per identity that is active or deleting.
CREATE UNIQUE INDEX identity_deletion_processes_one_open ON identity_deletion_processes (identity_address)
    WHERE status IN ('Active', 'Deleting');

-- Only hashes of addresses, device IDs and usernames: the log must not identify anybody.
CREATE TABLE identity_deletion_audit_log (
    id TEXT PRIMARY KEY,
    process_id TEXT NULL,
    created_at BIGINT NOT NULL,
    identity_address_hash TEXT NOT NULL,
    device_id_hash TEXT NULL,
    message_key TEXT NOT NULL,
    old_status TEXT NULL,
    new_status TEXT NULL,
    additional_data TEXT NULL,
    username_hashes TEXT NULL
);
CREATE INDEX identity_deletion_audit_log_address ON identity_deletion_audit_log (identity_address_hash);
