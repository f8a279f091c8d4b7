-- The series search (issue 4, crates/store/src/search_sql.rs). Every table here is derived and
-- kept in step by the store in the transaction of each ingest batch; `quire reindex` rebuilds it.
-- The full text is a generated column, so mail stored before this migration is indexed here;
-- run `quire reindex` once to fill recipients, files and trailers of that mail.

-- 'simple' configuration (lowercase, no stemming, no stop words) on the text with every run of
-- non-alphanumerics made a space: the words SQLite's unicode61 tokenizer sees (PostgreSQL's
-- parser would otherwise keep `fs/io_uring.c` or `a@b.c` as one token). The body is cut at
-- 100,000 characters: a tsvector holds at most 1 MB.
ALTER TABLE messages ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig,
        regexp_replace(subject || ' ' || left(body, 100000), '[^[:alnum:]]+', ' ', 'g'))) STORED;
CREATE INDEX messages_tsv ON messages USING GIN (tsv);
-- The subject alone, for `subject:` (most words of a list are in most subjects' bodies).
ALTER TABLE messages ADD COLUMN tsv_subject tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, regexp_replace(subject, '[^[:alnum:]]+', ' ', 'g'))) STORED;
CREATE INDEX messages_tsv_subject ON messages USING GIN (tsv_subject);

CREATE TABLE search_addresses (
    id BIGSERIAL PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);
CREATE TABLE message_addresses (
    message_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    address_id BIGINT NOT NULL,
    PRIMARY KEY (address_id, kind, message_id)
);
CREATE INDEX message_addresses_message ON message_addresses(message_id);

-- COLLATE "C": byte order, so that a prefix is an index range.
CREATE TABLE message_files (
    message_id BIGINT NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (path, message_id)
);
CREATE INDEX message_files_message ON message_files(message_id);

CREATE TABLE series_trailers (
    series_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (series_id, tag, person)
);
CREATE INDEX series_trailers_tag ON series_trailers(tag, person);

CREATE TABLE series_reviewed (
    series_id BIGINT PRIMARY KEY
);

CREATE INDEX series_date_all ON series(date, id);
