-- The maintainers' side of a patch (Patchwork's workflow): who the people with accounts are,
-- what they may do in which project, each patch's state, and bundles. None of it is derived
-- from mail, so reindex keeps it: patches are named by their raw message row id, which
-- survives a reindex.

-- Accounts (the web login comes later; tokens may belong to one).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL
);

-- role: maintainer, reviewer, tester or admin, per project.
CREATE TABLE project_roles (
    user_id BIGINT NOT NULL REFERENCES users(id),
    project_id BIGINT NOT NULL REFERENCES projects(id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id, role)
);

ALTER TABLE tokens ADD COLUMN user_id BIGINT REFERENCES users(id);

-- A patch without a row is 'new' (or 'superseded' once a newer revision of its series exists);
-- message_id is the raw row id of the patch mail.
CREATE TABLE patch_states (
    message_id BIGINT PRIMARY KEY,
    state TEXT NOT NULL,
    delegate_id BIGINT REFERENCES users(id),
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    commit_ref TEXT,
    updated BIGINT NOT NULL,
    updated_by BIGINT REFERENCES users(id)
);
CREATE INDEX patch_states_state ON patch_states(state);

CREATE TABLE bundles (
    id INTEGER PRIMARY KEY,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    project_id BIGINT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    public BOOLEAN NOT NULL DEFAULT FALSE,
    created BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE bundle_patches (
    bundle_id BIGINT NOT NULL REFERENCES bundles(id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (bundle_id, message_id)
);

-- Patchwork's "people" are submitters, numbered by their first message; the index covers what
-- listing and searching them reads, so the (wide) message rows are not scanned.
CREATE INDEX messages_from ON messages(from_email, id, from_name);
