-- PostgreSQL drops its second per-message text index here (message_search); SQLite never had
-- one beside message_text (0019 dropped message_fts). Kept so that both databases count the
-- same migrations.
SELECT 1;
