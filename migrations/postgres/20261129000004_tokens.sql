-- Tokens module: tokens and who read them.
-- Dates are milliseconds since the Unix epoch (see crates/db/src/lib.rs).

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    -- NULL for anonymously created tokens (until they are filled via UpdateContent).
    created_by TEXT NULL,
    created_by_device TEXT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    for_identity TEXT NULL,
    password BYTEA NULL,
    -- NULL for an empty token.
    content BYTEA NULL,
    -- Wrong passwords so far; the token is locked from 100 on.
    access_failed_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tokens_created_by ON tokens (created_by, created_at);
CREATE INDEX tokens_for_identity ON tokens (for_identity) WHERE for_identity IS NOT NULL;
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- An identity that read a token (not its creator) can read it again without password checks.
CREATE TABLE token_allocations (
    token_id TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    allocated_by TEXT NOT NULL,
    allocated_by_device TEXT NOT NULL,
    allocated_at BIGINT NOT NULL,
    PRIMARY KEY (token_id, allocated_by)
);
CREATE INDEX token_allocations_allocated_by ON token_allocations (allocated_by);
