-- Messages module: messages, their recipients and attachments.
-- Dates are milliseconds since the Unix epoch; booleans are 0/1 BIGINTs.

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_device TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX messages_created_by ON messages (created_by, created_at);

CREATE TABLE message_recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    address TEXT NOT NULL,
    -- The youngest relationship between sender and recipient at send time (never on the wire).
    relationship_id TEXT NOT NULL,
    encrypted_key BLOB NOT NULL,
    received_at BIGINT NULL,
    received_by_device TEXT NULL,
    decomposed_by_sender BIGINT NOT NULL DEFAULT 0,
    decomposed_by_recipient BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX message_recipients_address ON message_recipients (address);
CREATE INDEX message_recipients_relationship ON message_recipients (relationship_id);

CREATE TABLE message_attachments (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    file_id TEXT NOT NULL,
    PRIMARY KEY (message_id, position)
);
