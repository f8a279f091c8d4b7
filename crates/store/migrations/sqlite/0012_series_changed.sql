-- What the web's page cache checks before it serves a series page it rendered before
-- (crates/web/src/page_cache.rs): a value written anew whenever something a series page shows
-- changes (the series is assembled again: new replies, trailers, members; an apply result; a
-- check; a patch's state; a patch found merged). Only compared for equality.
ALTER TABLE series ADD COLUMN changed BIGINT NOT NULL DEFAULT 0;
