-- Messages: each recipient entry carries its message's sender and send time, so that a caller's
-- visible messages, in list order, and the unreceived count between two identities are index
-- ranges of this one table (bins/backbone/tests/query_plans.rs checks the plans).
-- `sender` follows messages.created_by when a deleted identity is anonymised; when decomposition
-- anonymises a message, its entries are already anonymous and decomposed by both sides, so no
-- query finds them by sender any more. `created_at` never changes.
ALTER TABLE message_recipients ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE message_recipients ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
UPDATE message_recipients SET
    sender = (SELECT m.created_by FROM messages m WHERE m.id = message_recipients.message_id),
    created_at = (SELECT m.created_at FROM messages m WHERE m.id = message_recipients.message_id);

-- The caller's messages as recipient and as sender, in list order (created_at, id); the leading
-- address/sender also serves decomposition and anonymisation (this replaces the address index),
-- and the last column lets decomposition check a sender's entries from the index alone.
DROP INDEX message_recipients_address;
CREATE INDEX message_recipients_received ON message_recipients (address, decomposed_by_recipient, created_at, message_id);
CREATE INDEX message_recipients_sent ON message_recipients
    (sender, decomposed_by_sender, created_at, message_id, decomposed_by_recipient);
-- The unreceived count checked on every send: at most the configured limit of entries.
CREATE INDEX message_recipients_unreceived ON message_recipients (address, sender) WHERE received_at IS NULL;
