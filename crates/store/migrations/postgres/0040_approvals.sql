-- Approvals (issue 29): what a series' maintainers file says it needs, and review counts for
-- the list lines.

-- A project's `[project.approvals]` as JSON (quire.toml, written at every start; absent: the
-- defaults). Not derived from mail.
CREATE TABLE project_approvals (
    project_id BIGINT PRIMARY KEY REFERENCES projects(id),
    config TEXT NOT NULL
);

-- The sections of the maintainers file that concern a series, as the worker read them at the
-- commit the series applies on (quire_maintainers::SeriesMaintainers as JSON). Keyed by the
-- head's raw row, like apply_results: it comes from the tree, not from mail, and a reindex
-- keeps it.
CREATE TABLE series_maintainers (
    head_id BIGINT PRIMARY KEY,
    map TEXT NOT NULL,
    updated BIGINT NOT NULL
);

-- Derived, written in the transaction that assembles a series (and when its maintainers map
-- or its project's rule is stored), emptied and rebuilt by `quire reindex`:
-- the approvals of a series with a maintainers map (`detail`: quire_maintainers::Approvals,
-- `given`: the trailers its patches were given, from which a new rule is worked out again)...
CREATE TABLE series_approvals (
    series_id BIGINT PRIMARY KEY,
    approved BOOLEAN NOT NULL,
    detail TEXT NOT NULL,
    given TEXT NOT NULL
);
-- ...whose approval each series still awaits (`awaiting:` searches `person`, lowercased
-- `name <email>`; a maintainer's queue reads by `email`)...
CREATE TABLE series_awaiting (
    email TEXT NOT NULL,
    series_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (email, series_id)
);
CREATE INDEX series_awaiting_series ON series_awaiting(series_id);
-- ...and every series' Acked-by, Reviewed-by and Tested-by, counted over its patches as
-- Patchwork counts them per patch. Series stored before this migration get theirs when they
-- are assembled again; `quire reindex` counts them all.
CREATE TABLE series_reviews (
    series_id BIGINT PRIMARY KEY,
    acked BIGINT NOT NULL,
    reviewed BIGINT NOT NULL,
    tested BIGINT NOT NULL
);
