-- `git range-diff` between two applied revisions of a series (issue 29), computed by the worker
-- when the newer (or older) one is applied, so that web servers need no git. Keyed by the heads'
-- raw rows like apply_results: it comes from the tree, not from mail, and a reindex keeps it.
-- `old_range`/`new_range` are the `base..result` it was computed on: a revision applied again
-- on another base no longer matches, and the page says the range-diff is being recomputed.
CREATE TABLE range_diffs (
    old_head_id BIGINT NOT NULL,
    new_head_id BIGINT NOT NULL,
    old_range TEXT NOT NULL,
    new_range TEXT NOT NULL,
    diff TEXT,
    problem TEXT,
    updated BIGINT NOT NULL,
    PRIMARY KEY (old_head_id, new_head_id)
);
