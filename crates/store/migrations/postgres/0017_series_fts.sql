-- SQLite's migration 0017 adds a full-text table per series (FTS5). PostgreSQL's series search
-- keeps matching message_search's GIN indexes; this file keeps the two schemas' numbers in step.
SELECT 1;
