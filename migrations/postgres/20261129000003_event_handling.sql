-- Event handling: relays claim outbox rows for a while; handlers record what they processed.

ALTER TABLE outbox_events ADD COLUMN claimed_until BIGINT NULL;

CREATE TABLE processed_events (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
