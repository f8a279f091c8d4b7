-- Series-level search rows (issue 4, docs/search.md "Speed"): every term of a query becomes an
-- index range on series ids or a test on one narrow row per series, instead of resolving each
-- matching message to its series and testing the wide `series` rows. Derived like the tables
-- of 0007: kept in step in the transaction of each ingest batch, rebuilt by `quire reindex`,
-- filled here from what the store holds.

-- One row per series, in date order (the order of the results): what the search tests on the
-- series itself. The submitter is lowercased by the database (as `LOWER()` in a query would);
-- `obsolete`: a newer revision of it is stored; `reviewed`: in series_reviewed; `trailers`: in
-- series_trailers; `replies`: reply_count > 0.
CREATE TABLE series_search (
    date BIGINT NOT NULL,
    series_id BIGINT NOT NULL,
    project_id BIGINT NOT NULL,
    head_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    revision_hash BIGINT NOT NULL,
    submitter_name TEXT NOT NULL,
    submitter_email TEXT NOT NULL,
    complete BOOLEAN NOT NULL,
    obsolete BOOLEAN NOT NULL,
    reviewed BOOLEAN NOT NULL,
    trailers BOOLEAN NOT NULL,
    replies BOOLEAN NOT NULL,
    is_rfc BOOLEAN NOT NULL,
    is_pull BOOLEAN NOT NULL,
    PRIMARY KEY (date, series_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX series_search_id ON series_search(series_id);
CREATE INDEX series_search_revision ON series_search(project_id, revision_hash);
-- The rare flags: a query on one of them reads its few rows only.
CREATE INDEX series_search_incomplete ON series_search(date, series_id) WHERE NOT complete;
CREATE INDEX series_search_obsolete ON series_search(date, series_id) WHERE obsolete;
CREATE INDEX series_search_rfc ON series_search(date, series_id) WHERE is_rfc;
CREATE INDEX series_search_pull ON series_search(date, series_id) WHERE is_pull;

-- Paths the series' messages touch (a reply may carry a diff too), one row per series and path.
CREATE TABLE series_files (
    path TEXT NOT NULL,
    series_id BIGINT NOT NULL,
    PRIMARY KEY (path, series_id)
) WITHOUT ROWID;
CREATE INDEX series_files_series ON series_files(series_id);

-- Recipients (To/Cc) of the series' own messages, one row per series, kind and address.
CREATE TABLE series_addresses (
    address_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    series_id BIGINT NOT NULL,
    PRIMARY KEY (address_id, kind, series_id)
) WITHOUT ROWID;
CREATE INDEX series_addresses_series ON series_addresses(series_id);

-- A message's series as one of its own messages, without reading the member rows (a word of
-- the full text resolves to series through this index alone).
CREATE INDEX series_members_own ON series_members(message_id, series_id) WHERE role <> 'reply';
-- Trailers by tag and person with the series: a covering index.
DROP INDEX series_trailers_tag;
CREATE INDEX series_trailers_tag ON series_trailers(tag, person, series_id);

INSERT INTO series_search (date, series_id, project_id, head_id, version, revision_hash, submitter_name,
    submitter_email, complete, obsolete, reviewed, trailers, replies, is_rfc, is_pull)
SELECT s.date, s.id, s.project_id, s.head_id, s.version, s.revision_hash, LOWER(s.submitter_name),
    LOWER(s.submitter_email), s.complete,
    EXISTS (SELECT 1 FROM series s2 WHERE s2.project_id = s.project_id AND s2.revision_hash = s.revision_hash
        AND s2.revision_key = s.revision_key AND (s2.version > s.version OR (s2.version = s.version AND s2.date > s.date))),
    EXISTS (SELECT 1 FROM series_reviewed r WHERE r.series_id = s.id),
    EXISTS (SELECT 1 FROM series_trailers t WHERE t.series_id = s.id),
    s.reply_count > 0, s.is_rfc, s.is_pull
FROM series s;

INSERT INTO series_files (path, series_id)
SELECT DISTINCT f.path, sm.series_id FROM series_members sm JOIN message_files f ON f.message_id = sm.message_id;

INSERT INTO series_addresses (address_id, kind, series_id)
SELECT DISTINCT ma.address_id, ma.kind, sm.series_id FROM series_members sm JOIN message_addresses ma ON ma.message_id = sm.message_id
WHERE sm.role <> 'reply';
