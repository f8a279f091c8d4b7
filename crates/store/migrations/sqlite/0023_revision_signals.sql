-- Revisions found across threads (issue 25): what each series is found by (its own key, b4's
-- change-id, its patch-ids and patch subjects, its sender's name with its name), hashed with the
-- signal's kind and scope; why a series is linked to the revision before it; and the patches a
-- partial re-roll takes from that revision. Derived: emptied and rebuilt by reindex.
CREATE TABLE series_signals (
    series_id BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    hash BIGINT NOT NULL,
    PRIMARY KEY (series_id, hash)
);
CREATE INDEX series_signals_hash ON series_signals(project_id, hash);
ALTER TABLE series ADD COLUMN revision_link TEXT;
ALTER TABLE series ADD COLUMN taken TEXT NOT NULL DEFAULT '[]';
