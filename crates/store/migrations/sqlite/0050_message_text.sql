-- The public-inbox search (issue 26, crates/store/src/message_text.rs and inbox.rs): every
-- message's words indexed by the part of the message they stand in, so that a query is
-- compiled to index lookups instead of reading every message. Derived: written in the
-- transaction of each ingest batch, emptied and rebuilt by `quire reindex` (a store that
-- held mail before this migration finds it by the index only after a reindex).

-- One row per message (rowid = messages.id), one column per public-inbox part: s subject,
-- f From, t To, c Cc, l List-Id, nq unquoted text (above and below the diff), q quoted
-- text, dfa/dfb/dfctx removed/added/context lines of the diff, dfhh the text after a
-- hunk header, dfn paths touched, dfpre/dfpost the blob ids of `index` lines.
-- Contentless (the text stays in `messages` and `raw_messages`), no column sizes (nothing
-- ranks by them).
CREATE VIRTUAL TABLE message_text USING fts5(
    s, f, t, c, l, nq, q, dfa, dfb, dfctx, dfhh, dfn, dfpre, dfpost,
    content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2'
);

-- Every `Tag-Name: value` line found anywhere in a message's unquoted text (quire_query's
-- is_trailer_tag): tag and value lowercased.
CREATE TABLE message_trailers (
    tag TEXT NOT NULL,
    value TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (tag, value, message_id)
) WITHOUT ROWID;

-- When the message arrived (its topmost Received: header, else when it was imported), for
-- public-inbox's `rt:`. Messages stored before get their import time until a reindex.
ALTER TABLE messages ADD COLUMN received BIGINT;
UPDATE messages SET received = (SELECT r.received FROM raw_messages r WHERE r.id = messages.id);
CREATE INDEX messages_received ON messages(received);
