-- SQLite's migration 0019 drops its unused full text per message. PostgreSQL's series search
-- reads message_search, which stays; this file keeps the two schemas' numbers in step.
SELECT 1;
