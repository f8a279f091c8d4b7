-- The public-inbox search (issue 26, crates/store/src/message_text.rs and inbox.rs): every
-- message's words indexed by the part of the message they stand in, so that a query is
-- compiled to index lookups instead of reading every message, by any `quire serve` on the
-- database. Derived: written in the transaction of each ingest batch, emptied and rebuilt by
-- `quire reindex` (a store that held mail before this migration finds it by the index only
-- after a reindex).

-- One tsvector per message whose lexemes are `PART:word` (the parts of SQLite's columns:
-- s, f, t, c, l, nq, q, dfa, dfb, dfctx, dfhh, dfn, dfpre, dfpost), positions counted within
-- each part, written by the store (words made there, as for SQLite).
CREATE TABLE message_text (
    message_id BIGINT PRIMARY KEY,
    tsv tsvector NOT NULL
);
CREATE INDEX message_text_tsv ON message_text USING GIN (tsv);

-- Every `Tag-Name: value` line found anywhere in a message's unquoted text (quire_query's
-- is_trailer_tag): tag and value lowercased.
CREATE TABLE message_trailers (
    tag TEXT NOT NULL,
    value TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (tag, value, message_id)
);

-- When the message arrived (its topmost Received: header, else when it was imported), for
-- public-inbox's `rt:`. Messages stored before get their import time until a reindex.
ALTER TABLE messages ADD COLUMN received BIGINT;
UPDATE messages m SET received = r.received FROM raw_messages r WHERE r.id = m.id;
CREATE INDEX messages_received ON messages(received);
