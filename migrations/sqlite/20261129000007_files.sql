-- Files module: metadata of files whose encrypted content lives in blob storage under the
-- file ID (crates/blob). Dates are milliseconds since the Unix epoch (see crates/db/src/lib.rs).
-- Deletion is physical, so upstream's always-null deleted_* columns are not stored; nor are the
-- modified_* columns, which never differ from the created_* ones.

CREATE TABLE files (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_device TEXT NOT NULL,
    -- The creator at first; whoever claims the file with its ownership token afterwards.
    owner TEXT NOT NULL,
    owner_signature BLOB NOT NULL,
    ownership_token TEXT NOT NULL,
    -- 0/1: set by a wrong ownership token, cleared when the owner regenerates the token.
    ownership_is_locked BIGINT NOT NULL DEFAULT 0,
    last_ownership_claim_at BIGINT NULL,
    -- Length of the content in bytes.
    cipher_size BIGINT NOT NULL,
    cipher_hash BLOB NOT NULL,
    expires_at BIGINT NOT NULL,
    encrypted_properties BLOB NOT NULL
);
CREATE INDEX files_created_by ON files (created_by, created_at);
CREATE INDEX files_owner ON files (owner);
CREATE INDEX files_expires_at ON files (expires_at);
