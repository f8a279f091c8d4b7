-- What the notifier sent (or is sending) for each event: one row per (event, channel, target),
-- so an event is mailed or posted to a target at most once, across restarts and processes.
-- channel: 'email' (target: the recipients, comma-separated) or 'webhook' (target: the URL).
-- state: pending, sending (claimed, with a lease), done, failed (for good).
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES events(id),
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    UNIQUE (event_id, channel, target)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt);
CREATE INDEX events_project ON events (project, id);
