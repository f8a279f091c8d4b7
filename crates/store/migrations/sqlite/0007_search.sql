-- The series search (issue 4, crates/store/src/search_sql.rs). Every table here is derived and
-- kept in step by the store in the transaction of each ingest batch; `quire reindex` rebuilds it.
-- A store that already held mail when this migration ran gets its full text filled here; run
-- `quire reindex` once to fill recipients, files and trailers of the mail stored before.

-- Full text of each message's subject and body (contentless: the text stays in `messages`).
CREATE VIRTUAL TABLE message_fts USING fts5(subject, body, content = '', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO message_fts (rowid, subject, body) SELECT id, subject, body FROM messages;

-- Distinct recipients, lowercased `name <email>`: a substring match scans this small table,
-- then reaches the messages through the index of message_addresses.
CREATE TABLE search_addresses (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
-- kind: 'to' or 'cc'.
CREATE TABLE message_addresses (
    message_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    address_id BIGINT NOT NULL,
    PRIMARY KEY (address_id, kind, message_id)
);
CREATE INDEX message_addresses_message ON message_addresses(message_id);

-- Paths a patch touches (new and old names), for prefix matches by index range.
CREATE TABLE message_files (
    message_id BIGINT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (path, message_id)
);
CREATE INDEX message_files_message ON message_files(message_id);

-- Trailers given to a series (b4's collection: the patches' own and their replies'), by tag
-- (lowercased, e.g. 'reviewed-by') and person (lowercased `name <email>`).
CREATE TABLE series_trailers (
    series_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (series_id, tag, person)
);
CREATE INDEX series_trailers_tag ON series_trailers(tag, person);

-- Series whose every patch has a Reviewed-by or Acked-by.
CREATE TABLE series_reviewed (
    series_id BIGINT PRIMARY KEY
);

CREATE INDEX series_date_all ON series(date, id);
