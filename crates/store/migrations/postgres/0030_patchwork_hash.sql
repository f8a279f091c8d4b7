-- Patchwork's hash of each patch (quire_mail::diff::patchwork_hash), which b4, bots, git-pw
-- (`patch list --hash`) and pwclient (`list -H`) look patches up by in the Patchwork API.
-- Derived from the raw mail like every messages column: rows stored before this migration
-- have none until `quire reindex` fills them.
ALTER TABLE messages ADD COLUMN pw_hash TEXT;
CREATE INDEX messages_pw_hash ON messages(pw_hash) WHERE pw_hash IS NOT NULL;
