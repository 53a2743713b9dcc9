-- Foundation: tiers, OAuth clients, identities, devices, feature flags, challenges, outbox.
-- Dates are milliseconds since the Unix epoch and booleans are 0/1 BIGINTs (see crates/db/src/lib.rs).

-- Devices module ------------------------------------------------------------------------------

CREATE TABLE tiers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    can_be_used_as_default_for_client BIGINT NOT NULL,
    can_be_manually_assigned BIGINT NOT NULL
);

-- 'Basic' gets a random-looking but fixed ID so that every installation seeds the same row.
INSERT INTO tiers (id, name, can_be_used_as_default_for_client, can_be_manually_assigned) VALUES
    ('TIR00000000000000001', 'Queued for Deletion', 0, 0),
    ('TIRBasic000000000000', 'Basic', 1, 1);

CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    default_tier TEXT NOT NULL REFERENCES tiers (id),
    created_at BIGINT NOT NULL,
    max_identities BIGINT NULL
);

CREATE TABLE identities (
    address TEXT PRIMARY KEY,
    client_id TEXT NULL,
    public_key BLOB NOT NULL,
    tier_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    identity_version BIGINT NOT NULL,
    status TEXT NOT NULL,
    deletion_grace_period_ends_at BIGINT NULL
);
CREATE INDEX identities_client_id ON identities (client_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    identity_address TEXT NOT NULL REFERENCES identities (address) ON DELETE CASCADE,
    username TEXT NOT NULL,
    normalized_username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by_device TEXT NOT NULL,
    last_login_at BIGINT NULL,
    communication_language TEXT NOT NULL,
    is_backup_device BIGINT NOT NULL,
    failed_login_attempts BIGINT NOT NULL DEFAULT 0,
    locked_out_until BIGINT NULL
);
CREATE INDEX devices_identity_address ON devices (identity_address, created_at);

CREATE TABLE feature_flags (
    identity_address TEXT NOT NULL REFERENCES identities (address) ON DELETE CASCADE,
    name TEXT NOT NULL,
    is_enabled BIGINT NOT NULL,
    PRIMARY KEY (identity_address, name)
);

-- Challenges module ---------------------------------------------------------------------------

CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    created_by TEXT NULL,
    created_by_device TEXT NULL
);
CREATE INDEX challenges_expires_at ON challenges (expires_at);

-- Shared: the transactional outbox ------------------------------------------------------------

CREATE TABLE outbox_events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT NULL
);
CREATE INDEX outbox_events_unpublished ON outbox_events (sequence) WHERE published_at IS NULL;
