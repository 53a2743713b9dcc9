-- Announcements module: operators' announcements with texts per language, ordered link
-- actions (display names as a JSON object) and optional recipient lists.
CREATE TABLE announcements (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NULL,
    severity TEXT NOT NULL,
    is_silent BIGINT NOT NULL,
    iql_query TEXT NULL,
    -- 1 when created for a recipient list: it stays addressed to them after they are deleted.
    has_recipient_list BIGINT NOT NULL
);
CREATE INDEX announcements_expires_at ON announcements (expires_at);

CREATE TABLE announcement_texts (
    announcement_id TEXT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (announcement_id, language)
);

CREATE TABLE announcement_actions (
    announcement_id TEXT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    display_name TEXT NOT NULL,
    link TEXT NOT NULL,
    PRIMARY KEY (announcement_id, position)
);

CREATE TABLE announcement_recipients (
    announcement_id TEXT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    PRIMARY KEY (announcement_id, address)
);
CREATE INDEX announcement_recipients_address ON announcement_recipients (address);
