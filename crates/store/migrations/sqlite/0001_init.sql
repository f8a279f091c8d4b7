-- quire's store, SQLite dialect. Raw mail is the truth; every other table except projects,
-- cursors, apply_results and checks is derived from it and rebuilt by `reindex`.
-- Message-IDs can be arbitrarily long, so lookups go through 64-bit hashes (`*_hash`) and the
-- text is compared after; derived rows point at messages by the canonical raw row's id, which
-- survives a reindex.

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    list_ids TEXT NOT NULL DEFAULT '[]',
    list_addresses TEXT NOT NULL DEFAULT '[]',
    git_url TEXT,
    branch TEXT,
    mirror_url TEXT,
    tag_prefix TEXT
);

CREATE TABLE raw_messages (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    mid_hash BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    data BLOB NOT NULL,
    duplicate_of BIGINT REFERENCES raw_messages(id),
    forced_project TEXT,
    received BIGINT NOT NULL
);
CREATE INDEX raw_messages_mid ON raw_messages(mid_hash);

CREATE TABLE messages (
    id BIGINT PRIMARY KEY REFERENCES raw_messages(id),
    message_id TEXT NOT NULL,
    mid_hash BIGINT NOT NULL,
    thread_key TEXT NOT NULL,
    thread_hash BIGINT NOT NULL,
    subject TEXT NOT NULL,
    from_name TEXT NOT NULL,
    from_email TEXT NOT NULL,
    date BIGINT,
    kind TEXT NOT NULL,
    in_reply_to TEXT,
    patch_id TEXT,
    diffstat TEXT,
    files TEXT,
    base_commit TEXT,
    based_on TEXT,
    pull_url TEXT,
    pull_branch TEXT,
    problems TEXT,
    unthreaded_patch BOOLEAN NOT NULL,
    meta TEXT NOT NULL,
    body TEXT NOT NULL,
    diff BLOB
);
CREATE INDEX messages_mid ON messages(mid_hash);
CREATE INDEX messages_thread ON messages(thread_hash);
CREATE INDEX messages_patch_id ON messages(patch_id);
CREATE INDEX messages_unthreaded ON messages(date) WHERE unthreaded_patch;

CREATE TABLE message_projects (
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id),
    PRIMARY KEY (message_id, project_id)
);
CREATE INDEX message_projects_project ON message_projects(project_id);

CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id),
    head_id BIGINT NOT NULL REFERENCES messages(id),
    head TEXT NOT NULL,
    cover_id BIGINT,
    version BIGINT NOT NULL,
    total BIGINT NOT NULL,
    complete BOOLEAN NOT NULL,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    submitter_name TEXT NOT NULL,
    submitter_email TEXT NOT NULL,
    date BIGINT NOT NULL,
    is_rfc BOOLEAN NOT NULL,
    is_pull BOOLEAN NOT NULL,
    revision_key TEXT NOT NULL,
    revision_hash BIGINT NOT NULL,
    patch_count BIGINT NOT NULL,
    reply_count BIGINT NOT NULL,
    last_activity BIGINT NOT NULL,
    UNIQUE (project_id, head_id)
);
CREATE INDEX series_revision ON series(project_id, revision_hash);
CREATE INDEX series_date ON series(project_id, date);

CREATE TABLE series_members (
    series_id BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages(id),
    role TEXT NOT NULL,
    number BIGINT,
    PRIMARY KEY (series_id, message_id)
);
CREATE INDEX series_members_message ON series_members(message_id);

CREATE TABLE apply_results (
    head_id BIGINT PRIMARY KEY,
    state TEXT NOT NULL,
    base TEXT,
    result_commit TEXT,
    tree_url TEXT,
    log TEXT,
    failed_patch BIGINT,
    updated BIGINT NOT NULL
);

CREATE TABLE checks (
    id INTEGER PRIMARY KEY,
    target_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    url TEXT,
    description TEXT,
    log TEXT,
    created BIGINT NOT NULL
);
CREATE INDEX checks_target ON checks(target_id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    project TEXT,
    series_head TEXT,
    message_id TEXT,
    payload TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE cursors (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
