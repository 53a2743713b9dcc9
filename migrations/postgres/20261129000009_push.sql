-- Push notifications: one registration per device, and the queue of pushes still to send.
-- Dates are milliseconds since the Unix epoch (see crates/db/src/lib.rs).

CREATE TABLE push_registrations (
    -- A device's registration goes with the device (and so with its identity).
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    identity_address TEXT NOT NULL,
    -- DPI…: generated once, kept when the registration is overwritten.
    device_push_identifier TEXT NOT NULL UNIQUE,
    -- fcm, apns, dummy or sse
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    app_id TEXT NOT NULL,
    -- Development or Production
    environment TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX push_registrations_identity_address ON push_registrations (identity_address);

-- One push to one registration, copied from it when queued. Deleted once sent, given up, or
-- when the handle turned out to be invalid.
CREATE TABLE push_deliveries (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    identity_address TEXT NOT NULL,
    device_push_identifier TEXT NOT NULL,
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    app_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    -- NULL for text-only notifications (no content object).
    event_name TEXT NULL,
    payload TEXT NULL,
    collapse_id TEXT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Failed attempts so far, and when to try next.
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- A sender working on it holds it until then.
    claimed_until BIGINT NULL,
    last_error TEXT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX push_deliveries_next_attempt_at ON push_deliveries (next_attempt_at);
CREATE INDEX push_deliveries_identity_address ON push_deliveries (identity_address);
