-- Check jobs carry what the tester needs (the check's script, time limit, where to fetch the
-- applied tree) as JSON; 'apply' jobs have none.
ALTER TABLE jobs ADD COLUMN payload TEXT;

-- API tokens: only a SHA-256 of the secret is kept (the secret is shown once, at creation).
-- Tokens are random 256-bit values, so a plain hash is enough (passwords would need argon2).
-- scope: 'tester' (claim and report jobs, post checks) or 'admin'.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    last_used BIGINT,
    revoked BIGINT
);
