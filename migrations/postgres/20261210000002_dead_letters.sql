-- Events a handler kept failing on, set aside so the events behind them go on
-- (backbone events dead-letters list|retry|discard). One row per consumer and event.

CREATE TABLE dead_letter_events (
    id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    event_created_at BIGINT NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    failed_at BIGINT NOT NULL,
    UNIQUE (consumer, event_id)
);
