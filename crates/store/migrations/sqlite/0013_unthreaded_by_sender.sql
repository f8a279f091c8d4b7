-- Series assembly looks for a submitter's unthreaded patches near a date
-- (`WHERE unthreaded_patch AND date BETWEEN .. AND from_email = ..`). On messages(date) or
-- messages(from_email, ...) that walks every message of a prolific sender, and the import
-- slowed down as the archive grew; this index finds them directly.
DROP INDEX IF EXISTS messages_unthreaded;
CREATE INDEX messages_unthreaded ON messages(from_email, date) WHERE unthreaded_patch;
