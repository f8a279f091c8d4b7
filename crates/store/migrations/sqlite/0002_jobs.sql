-- Work for the workers (applying series, later checks), kept in the store so that it survives a
-- restart and can be shared by several worker processes. Not derived: reindex keeps it.
-- A job is claimable when queued and due (not_before), or running with an expired lease
-- (locked_until): a worker that died loses its job to the next one.

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    -- The message the job is about (the series head for 'apply'): messages.id, which is the
    -- canonical raw row's id and survives a reindex.
    target_id BIGINT NOT NULL,
    project TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    UNIQUE (kind, target_id)
);
CREATE INDEX jobs_due ON jobs(state, not_before);

-- Patches found upstream: by the patch-id of a new commit of the project's branch, or failing
-- that by its author and subject. Keyed by messages.id (survives a reindex).
CREATE TABLE merged_patches (
    message_id BIGINT PRIMARY KEY,
    project_id BIGINT,
    commit_id TEXT NOT NULL,
    matched_by TEXT NOT NULL,
    updated BIGINT NOT NULL
);
